/**
 * Access control as a policy author writes it (YAML → compile → Envoy resources), served by a real
 * Envoy 1.40 on loopback: roles read only from the claim of the provider that verified the token,
 * every failed token answers 401, IPv4 networks matching their IPv4-mapped IPv6 form, mapped CIDRs
 * in policies blocking IPv4 clients, and malformed trusted X-Forwarded-For entries refused (400)
 * rather than silently replaced by the TCP peer.
 * Client addresses are simulated with X-Forwarded-For (the listener trusts one hop).
 */
import { generateSigningKey, mintToken, type SigningKey } from '../../demo/jwt';
import { echoRoute, trustedProxyEnvironment, useStaticEnvoy } from '../support/static-envoy';
import { httpRequest, type HttpResult } from './echo-upstream';

const AUDIENCE = 'api.test';
const corpKey = generateSigningKey('corp-1');
const partnerKey = generateSigningKey('partner-1');
const NOW = new Date('2026-06-01T00:00:00Z');

function policies(listenerPort: number, upstreamPort: number): Array<{ path: string; text: string }> {
  const files: Record<string, string> = {
    'env.yaml': trustedProxyEnvironment(listenerPort, upstreamPort),
    'routes.yaml': ['admin', 'login', 'reports', 'local', 'public'].map(echoRoute).join('---\n'),
    'access.yaml': `apiVersion: portcullis.dev/v1
kind: Access
metadata: { name: access }
spec:
  providers:
    - { name: corp, issuer: https://corp.test, audiences: [${AUDIENCE}], jwks: { inline: '${corpKey.jwks}' }, rolesClaim: roles }
    - { name: partner, issuer: https://partner.test, audiences: [${AUDIENCE}], jwks: { inline: '${partnerKey.jwks}' }, rolesClaim: groups }
  rules:
    - { routes: [admin], roles: [admin] }
    - { routes: [login, reports, local, public], public: true }
  networks:
    deny:
      - { cidr: 198.51.100.0/24 }
      - { cidr: "::ffff:127.0.0.1/128", routes: [local] }
    allow:
      - { cidr: 10.0.0.0/8, routes: [reports] }
`,
    'lockdown.yaml': `apiVersion: portcullis.dev/v1
kind: Lockdown
metadata: { name: incident }
spec:
  reason: test
  owner: "@test"
  createdAt: 2026-01-01T00:00:00Z
  expiresAt: 2027-01-01T00:00:00Z
  environments: [t]
  actions:
    - { type: blockNetworks, cidrs: [203.0.113.0/24], routes: [login] }
`,
  };
  return Object.entries(files).map(([path, text]) => ({ path, text }));
}

const now = Math.floor(Date.now() / 1000);
function token(key: SigningKey, issuer: string, claims: Record<string, unknown>): string {
  return mintToken(key, { iss: issuer, aud: AUDIENCE, sub: 'user-1', expiresInSeconds: 610, extra: claims }, new Date((now - 10) * 1000));
}
const corp = (claims: Record<string, unknown>) => token(corpKey, 'https://corp.test', claims);
const partner = (claims: Record<string, unknown>) => token(partnerKey, 'https://partner.test', claims);

const served = useStaticEnvoy(policies, NOW);

/** `xff: null` sends no X-Forwarded-For: the client is then the TCP peer, 127.0.0.1. */
function call(path: string, opts: { xff?: string | null; bearer?: string } = {}): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  const xff = opts.xff === undefined ? '192.0.2.1' : opts.xff;
  if (xff !== null) headers['x-forwarded-for'] = xff;
  if (opts.bearer) headers['authorization'] = `Bearer ${opts.bearer}`;
  return httpRequest(served().port, 'GET', path, headers);
}

describe('roles count only from the claim of the provider that verified the token', () => {
  test('each provider with its own claim: 200', async () => {
    expect((await call('/admin', { bearer: corp({ roles: ['admin'] }) })).status).toBe(200);
    expect((await call('/admin', { bearer: partner({ groups: ['admin'] }) })).status).toBe(200);
    expect((await call('/admin', { bearer: partner({ groups: 'admin' }) })).status).toBe(200);
  });

  test("the other provider's claim: 403", async () => {
    expect((await call('/admin', { bearer: corp({ groups: ['admin'] }) })).status).toBe(403);
    expect((await call('/admin', { bearer: partner({ roles: ['admin'] }) })).status).toBe(403);
    expect((await call('/admin', { bearer: partner({ roles: 'admin' }) })).status).toBe(403);
  });
});

describe('every token that fails verification answers 401', () => {
  test('another audience: 401 with a Bearer challenge (jwt_authn alone answers 403)', async () => {
    const r = await call('/admin', { bearer: corp({ roles: ['admin'], aud: 'someone-else' }) });
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']).toMatch(/^Bearer /);
    expect((await call('/admin', { bearer: partner({ groups: ['admin'], aud: ['x', 'y'] }) })).status).toBe(401);
  });

  test('the other failures stay 401, and a verified token without the role stays 403', async () => {
    expect((await call('/admin')).status).toBe(401);
    expect((await call('/admin', { bearer: 'not.a.jwt' })).status).toBe(401);
    expect((await call('/admin', { bearer: corp({ roles: ['admin'], iat: now - 900, exp: now - 300 }) })).status).toBe(401);
    expect((await call('/admin', { bearer: token(partnerKey, 'https://corp.test', { roles: ['admin'] }) })).status).toBe(401);
    const refused = await call('/admin', { bearer: corp({ roles: ['reader'] }) });
    expect(refused.status).toBe(403);
    expect(refused.body).toBe('RBAC: access denied');
  });
});

describe('IPv4 networks also match clients written as IPv4-mapped IPv6', () => {
  test.each(['198.51.100.7', '::ffff:198.51.100.7', '::ffff:c633:6407', '::FFFF:198.51.100.200', '0:0:0:0:0:ffff:c633:64ff'])(
    'denied network %s: 403',
    async (client) => {
      expect((await call('/public', { xff: client })).status).toBe(403);
    },
  );

  test('lockdown blocks: the mapped form is blocked too', async () => {
    expect((await call('/login', { xff: '203.0.113.5' })).status).toBe(403);
    expect((await call('/login', { xff: '::ffff:203.0.113.5' })).status).toBe(403);
    expect((await call('/login', { xff: '::ffff:203.0.114.5' })).status).toBe(200);
  });

  test('allowed networks: the mapped form is allowed, other mapped clients are not', async () => {
    expect((await call('/reports', { xff: '10.1.2.3' })).status).toBe(200);
    expect((await call('/reports', { xff: '::ffff:10.1.2.3' })).status).toBe(200);
    expect((await call('/reports', { xff: '::ffff:192.0.2.1' })).status).toBe(403);
    expect((await call('/reports', { xff: '2001:db8::1' })).status).toBe(403);
  });

  test('neighbours of the denied network pass', async () => {
    expect((await call('/public', { xff: '::ffff:198.51.101.7' })).status).toBe(200);
    expect((await call('/public', { xff: '198.51.99.255' })).status).toBe(200);
    expect((await call('/public', { xff: '2001:db8::7' })).status).toBe(200);
  });
});

describe('a mapped CIDR in a policy blocks the IPv4 client', () => {
  test('deny ::ffff:127.0.0.1/128 refuses 127.0.0.1, from X-Forwarded-For or as the TCP peer', async () => {
    expect((await call('/local', { xff: '127.0.0.1' })).status).toBe(403);
    expect((await call('/local', { xff: '::ffff:127.0.0.1' })).status).toBe(403);
    expect((await call('/local', { xff: null })).status).toBe(403);
    expect((await call('/local', { xff: '127.0.0.2' })).status).toBe(200);
  });
});

describe('a trusted X-Forwarded-For entry that is not an IP address gets 400, never the TCP peer', () => {
  // Before the guard, each of these reached the upstream from the denied network 198.51.100.0/24:
  // Envoy fell back to the peer (127.0.0.1), which no rule denies.
  test.each(['198.51.100.7:5555', '198.51.100.007', '198.51.100.7, ', '198.51.100.7,', 'garbage', '[::ffff:198.51.100.7]:80', '::ffff:198.51.100.07', '2001:db8:::1'])(
    '%j: 400',
    async (xff) => {
      const r = await call('/public', { xff });
      expect(r.status).toBe(400);
      expect(r.body).toMatch(/X-Forwarded-For/);
    },
  );

  test('well-formed entries, earlier untrusted garbage, and no header at all are served as before', async () => {
    expect((await call('/public', { xff: 'garbage, 192.0.2.1' })).status).toBe(200);
    expect((await call('/public', { xff: ' 192.0.2.1 ' })).status).toBe(200);
    expect((await call('/public', { xff: '2001:DB8:0:0:0:0:0:1' })).status).toBe(200);
    expect((await call('/public', { xff: '::ffff:192.0.2.1' })).status).toBe(200);
    expect((await call('/public', { xff: null })).status).toBe(200);
    // The client-written entry before the trusted one does not decide: a denied address there is no denial.
    expect((await call('/public', { xff: '198.51.100.7, 192.0.2.1' })).status).toBe(200);
    expect((await call('/public', { xff: '192.0.2.1, 198.51.100.7' })).status).toBe(403);
  });
});
