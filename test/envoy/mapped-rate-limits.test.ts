/**
 * Per-client rate limits (instance scope) behind a trusted proxy, served by a real Envoy 1.40: an
 * IPv4-mapped IPv6 client in X-Forwarded-For (`::ffff:198.51.100.7`, `::ffff:c633:6407`, as
 * dual-stack proxies write it) counts in the bucket of its plain IPv4 form, with the IPv4 prefix;
 * IPv6 clients keep their IPv6 prefix. Fleet limits: test/e2e/fleet-rate-limit.test.ts.
 */
import type { Server } from 'node:http';
import { compileSources } from '../../compiler';
import { staticBootstrap, translateEnvironment } from '../../compiler/envoy';
import { EnvoyProcess } from '../support/envoy';
import { freePorts } from '../support/ports';
import { httpRequest, startEchoServer } from './echo-upstream';

const NOW = new Date('2026-06-01T00:00:00Z');
const LIMIT = 3;

function policies(listenerPort: number, upstreamPort: number): Array<{ path: string; text: string }> {
  const route = (name: string) => `apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: ${name} }
spec:
  path: { prefix: /${name} }
  service: echo
`;
  const limit = (name: string, key: string) => `apiVersion: portcullis.dev/v1
kind: RateLimit
metadata: { name: ${name} }
spec:
  routes: [${name}]
  requests: ${LIMIT}
  per: hour
  key: ${key}
`;
  const text = `apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: t }
spec:
  fleets: [edge-t]
  listener: { address: 127.0.0.1, port: ${listenerPort}, xffNumTrustedHops: 1 }
---
apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: echo }
spec:
  endpoints: [{ address: 127.0.0.1, port: ${upstreamPort} }]
---
apiVersion: portcullis.dev/v1
kind: Access
metadata: { name: access }
spec:
  rules:
    - { routes: [per-ip, per-network, per-network-v6, unlimited], public: true }
---
${['per-ip', 'per-network', 'per-network-v6', 'unlimited'].map(route).join('---\n')}---
${limit('per-ip', '{ type: clientIp }')}---
${limit('per-network', '{ type: clientNetwork, ipv4PrefixLength: 24, ipv6PrefixLength: 56 }')}---
${limit('per-network-v6', '{ type: clientNetwork, ipv4PrefixLength: 24, ipv6PrefixLength: 56 }')}`;
  return [{ path: 'policies.yaml', text }];
}

let envoy: EnvoyProcess;
let upstream: Server;
let port = 0;

beforeAll(async () => {
  const [listenerPort, upstreamPort, adminPort] = (await freePorts(3)) as [number, number, number];
  port = listenerPort;
  upstream = await startEchoServer(upstreamPort);
  const ir = compileSources(policies(listenerPort, upstreamPort), NOW);
  if (!ir.ok) throw new Error(`policies do not compile: ${JSON.stringify(ir.errors)}`);
  const env = ir.value.environments.find((e) => e.name === 't');
  if (env === undefined) throw new Error('environment t missing');
  envoy = EnvoyProcess.start({ bootstrap: staticBootstrap(translateEnvironment(env, 'edge-t'), { adminPort }), adminPort, logLevel: 'warn', concurrency: 1 });
  await envoy.waitReady();
}, 60_000);

afterAll(async () => {
  await envoy?.stop();
  await new Promise((r) => upstream?.close(r));
});

/** The statuses of one request per client, in order, on `path`. */
async function statuses(path: string, clients: readonly string[]): Promise<number[]> {
  const out: number[] = [];
  for (const xff of clients) out.push((await httpRequest(port, 'GET', path, { 'x-forwarded-for': xff })).status);
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
  const counter = async (name: string): Promise<number> => Number(await envoy.stat(`http.portcullis.lua.client_address.${name}`));
  const before = await counter('executions');
  expect(await statuses('/unlimited', Array(LIMIT + 2).fill('::ffff:198.51.100.7'))).toEqual(Array(LIMIT + 2).fill(200));
  expect(await counter('executions')).toBe(before);
  await statuses('/per-ip', ['192.0.2.99']);
  expect(await counter('executions')).toBe(before + 1);
  expect(await counter('errors')).toBe(0);
});
