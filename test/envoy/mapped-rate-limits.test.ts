/**
 * Per-client rate limits (instance scope) behind a trusted proxy, served by a real Envoy 1.40: an
 * IPv4-mapped IPv6 client in X-Forwarded-For (`::ffff:198.51.100.7`, `::ffff:c633:6407`, as
 * dual-stack proxies write it) counts in the bucket of its plain IPv4 form, with the IPv4 prefix;
 * IPv6 clients keep their IPv6 prefix. Fleet limits: test/e2e/fleet-rate-limit.test.ts.
 */
import { echoRoute, trustedProxyEnvironment, useStaticEnvoy } from '../support/static-envoy';
import { httpRequest } from './echo-upstream';

const NOW = new Date('2026-06-01T00:00:00Z');
const LIMIT = 3;

function policies(listenerPort: number, upstreamPort: number): Array<{ path: string; text: string }> {
  const limit = (name: string, key: string) => `apiVersion: portcullis.dev/v1
kind: RateLimit
metadata: { name: ${name} }
spec:
  routes: [${name}]
  requests: ${LIMIT}
  per: hour
  key: ${key}
`;
  const text = `${trustedProxyEnvironment(listenerPort, upstreamPort)}---
apiVersion: portcullis.dev/v1
kind: Access
metadata: { name: access }
spec:
  rules:
    - { routes: [per-ip, per-network, per-network-v6, unlimited], public: true }
---
${['per-ip', 'per-network', 'per-network-v6', 'unlimited'].map(echoRoute).join('---\n')}---
${limit('per-ip', '{ type: clientIp }')}---
${limit('per-network', '{ type: clientNetwork, ipv4PrefixLength: 24, ipv6PrefixLength: 56 }')}---
${limit('per-network-v6', '{ type: clientNetwork, ipv4PrefixLength: 24, ipv6PrefixLength: 56 }')}`;
  return [{ path: 'policies.yaml', text }];
}

const served = useStaticEnvoy(policies, NOW);

/** The statuses of one request per client, in order, on `path`. */
async function statuses(path: string, clients: readonly string[]): Promise<number[]> {
  const out: number[] = [];
  for (const xff of clients) out.push((await httpRequest(served().port, 'GET', path, { 'x-forwarded-for': xff })).status);
  return out;
}

test('clientIp: the plain and the mapped spellings of one address share one bucket', async () => {
  const spellings = ['198.51.100.7', '::ffff:198.51.100.7', '::ffff:c633:6407', '0:0:0:0:0:FFFF:198.51.100.7'];
  expect(await statuses('/per-ip', spellings)).toEqual([200, 200, 200, 429]);
  // Another address, mapped or not, has a bucket of its own; so does an IPv6 client.
  expect(await statuses('/per-ip', ['::ffff:198.51.100.8', '198.51.100.8', '2001:db8::7'])).toEqual([200, 200, 200]);
});

test('clientNetwork: mapped clients count in their IPv4 /24, with its plain clients', async () => {
  expect(await statuses('/per-network', ['198.51.100.1', '::ffff:198.51.100.2', '::ffff:c633:6403', '198.51.100.4'])).toEqual([200, 200, 200, 429]);
  // Mapped clients of other /24s do not share one `::/56` bucket: each network has its own.
  const others = ['::ffff:203.0.113.1', '::ffff:192.0.2.1', '::ffff:10.1.2.3', '::ffff:10.9.9.9', '::ffff:172.16.0.1'];
  expect(await statuses('/per-network', others)).toEqual([200, 200, 200, 200, 200]);
});

test('clientNetwork: IPv6 clients keep their IPv6 prefix (/56)', async () => {
  expect(await statuses('/per-network-v6', ['2001:db8::1', '2001:db8::2', '2001:db8:0:ff::3', '2001:db8::4'])).toEqual([200, 200, 200, 429]);
  expect(await statuses('/per-network-v6', ['2001:db8:0:100::1', '198.51.100.1'])).toEqual([200, 200]);
});

test('the client-address script runs, without errors, only on routes with a per-client limit', async () => {
  const counter = async (name: string): Promise<number> => Number(await served().envoy.stat(`http.portcullis.lua.client_address.${name}`));
  const before = await counter('executions');
  expect(await statuses('/unlimited', Array(LIMIT + 2).fill('::ffff:198.51.100.7'))).toEqual(Array(LIMIT + 2).fill(200));
  expect(await counter('executions')).toBe(before);
  await statuses('/per-ip', ['192.0.2.99']);
  expect(await counter('executions')).toBe(before + 1);
  expect(await counter('errors')).toBe(0);
});
