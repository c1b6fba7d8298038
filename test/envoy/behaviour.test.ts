/**
 * The translator's output, served by a real Envoy on loopback: what a caller sees. JWT (401/403),
 * roles from a list or a string claim, revoked tokens, allowed and denied networks, rate limits of
 * every key (with the dynamic-descriptor LRU and its eviction), shadow limits, disabled routes.
 * Client addresses are simulated with X-Forwarded-For (the listener trusts one hop).
 */
import type { Server } from 'node:http';
import { staticBootstrap, translateEnvironment, SHADOW_HEADER } from '../../compiler/envoy';
import type { EnvironmentIR, JwtProviderIR, RateLimitIR, RouteAccessIR, RouteIR } from '../../compiler/ir/ir';
import { generateSigningKey, mintToken } from '../../demo/jwt';
import { EnvoyProcess } from '../support/envoy';
import { freePorts } from '../support/ports';
import { httpRequest, startEchoServer, type HttpResult } from './echo-upstream';

const LRU_SIZE = 50;
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'portcullis-test';
const mainKey = generateSigningKey('main-1');
const otherKey = generateSigningKey('other-1');

const publicAccess: RouteAccessIR = { authentication: 'none', providers: [], rules: [], allowedNetworks: [], deniedNetworks: [] };

function route(name: string, prefix: string, extra: Partial<RouteIR> = {}): RouteIR {
  return {
    name,
    host: '*',
    match: { path: { kind: 'prefix', value: prefix }, methods: [], headers: [] },
    service: 'echo',
    timeoutMs: 5000,
    retries: null,
    disabled: null,
    access: publicAccess,
    rateLimits: [],
    ...extra,
  };
}

function limit(name: string, requests: number, key: RateLimitIR['key'], mode: RateLimitIR['mode'] = 'enforce'): RateLimitIR {
  return { name, requests, unit: 'minute', key, mode, scope: 'instance', onServiceFailure: 'allow', provenance: `RateLimit/${name}` };
}

function provider(name: string, jwks: string, rolesClaim: string): JwtProviderIR {
  return {
    name,
    issuer: ISSUER,
    audiences: [AUDIENCE],
    jwks: { kind: 'inline', json: jwks },
    requireExpiration: true,
    maxLifetimeMs: 3_600_000,
    clockSkewMs: 0,
    rolesClaim,
  };
}

function environment(listenerPort: number, upstreamPort: number): EnvironmentIR {
  const jwtBoth = { authentication: 'jwt' as const, providers: ['main-idp', 'other-idp'] };
  const jwtMain = { authentication: 'jwt' as const, providers: ['main-idp'] };
  return {
    name: 'test',
    fleets: ['edge-test'],
    listener: {
      address: '127.0.0.1',
      port: listenerPort,
      xffNumTrustedHops: 1,
      idleTimeoutMs: 60_000,
      streamIdleTimeoutMs: 30_000,
      requestTimeoutMs: 30_000,
      requestHeadersTimeoutMs: 5_000,
      perConnectionBufferLimitBytes: 32_768,
      maxRequestHeadersKb: 60,
      rateLimitMaxDynamicDescriptors: LRU_SIZE,
      routeScopes: 'none',
    },
    cloud: null,
    services: [
      {
        name: 'echo',
        protocol: 'http1',
        connectTimeoutMs: 1000,
        requestTimeoutMs: 5000,
        endpoints: [{ address: '127.0.0.1', port: upstreamPort, tier: 0, priority: 0 }],
        quarantined: [],
        forcedFailover: null,
        healthCheck: null,
        outlierDetection: null,
        circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 },
        tls: null,
      },
    ],
    routes: [
      route('export', '/export', { disabled: { status: 503, body: 'disabled for an incident', provenance: 'Lockdown/x' } }),
      route('login', '/login', {
        access: { ...publicAccess, deniedNetworks: [{ cidr: '203.0.113.0/24', provenance: 'Lockdown/x' }] },
        rateLimits: [limit('login-per-ip', 3, { kind: 'client-ip' })],
      }),
      route('admin', '/admin', {
        access: {
          ...jwtBoth,
          rules: [{ methods: [], roles: ['admin'], provenance: 'Access/a' }],
          allowedNetworks: [{ cidr: '10.0.0.0/8', provenance: 'Access/a' }],
          deniedNetworks: [{ cidr: '10.66.0.0/16', provenance: 'Lockdown/x' }],
        },
      }),
      route('orders', '/orders', {
        access: {
          ...jwtMain,
          rules: [
            { methods: ['GET'], roles: ['admin', 'reader'], provenance: 'Access/a' },
            { methods: ['POST'], roles: ['writer'], provenance: 'Access/a' },
          ],
          allowedNetworks: [],
          deniedNetworks: [],
        },
      }),
      route('me', '/me', { access: { ...jwtMain, rules: [], allowedNetworks: [], deniedNetworks: [] } }),
      route('claims', '/claims', {
        access: { ...jwtMain, rules: [], allowedNetworks: [], deniedNetworks: [] },
        rateLimits: [limit('per-user', 2, { kind: 'jwt-claim', claim: 'sub' })],
      }),
      route('search', '/search', { rateLimits: [limit('per-key', 2, { kind: 'header', name: 'X-Api-Key' })] }),
      route('net', '/net', {
        rateLimits: [limit('per-net', 2, { kind: 'client-network', ipv4PrefixLength: 24, ipv6PrefixLength: 56 })],
      }),
      route('total', '/total', { rateLimits: [limit('all', 2, { kind: 'route' })] }),
      route('shadow', '/shadow', { rateLimits: [limit('try-out', 1, { kind: 'route' }, 'shadow')] }),
      route('lru', '/lru', { rateLimits: [limit('one-each', 1, { kind: 'client-ip' })] }),
      route('public', '/'),
    ],
    jwtProviders: [provider('main-idp', mainKey.jwks, 'roles'), provider('other-idp', otherKey.jwks, 'groups')],
    revokedTokens: { jtis: ['revoked-jti'], subjects: ['revoked-user'] },
    activeLockdowns: [],
    triggers: [],
  };
}

const now = Math.floor(Date.now() / 1000);
/**
 * A token for this test's issuer and audience, issued 10 s ago and valid 10 min, with a fresh jti;
 * `claims` override any claim (`exp: undefined` drops it).
 */
function token(claims: Record<string, unknown>, key = mainKey): string {
  return mintToken(key, { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', expiresInSeconds: 610, extra: claims }, new Date((now - 10) * 1000));
}

let envoy: EnvoyProcess;
let upstream: Server;
let port = 0;

beforeAll(async () => {
  const [listenerPort, upstreamPort, adminPort] = await freePorts(3);
  port = listenerPort as number;
  upstream = await startEchoServer(upstreamPort as number);
  const resources = translateEnvironment(environment(port, upstreamPort as number), 'edge-test');
  // One worker thread, as this test has always run Envoy: its exact rate-limit and LRU counts were
  // written against it, and the machine is shared.
  envoy = EnvoyProcess.start({ bootstrap: staticBootstrap(resources, { adminPort }), adminPort: adminPort as number, logLevel: 'warn', concurrency: 1 });
  await envoy.waitReady();
}, 60_000);

afterAll(async () => {
  await envoy?.stop();
  await new Promise((r) => upstream?.close(r));
});

function call(path: string, opts: { method?: string; client?: string; bearer?: string; headers?: Record<string, string> } = {}): Promise<HttpResult> {
  const headers: Record<string, string> = { 'x-forwarded-for': opts.client ?? '192.0.2.1', ...(opts.headers ?? {}) };
  if (opts.bearer) headers['authorization'] = `Bearer ${opts.bearer}`;
  return httpRequest(port, opts.method ?? 'GET', path, headers);
}

async function statuses(n: number, path: string, opts: Parameters<typeof call>[1] = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await call(path, opts)).status);
  return out;
}

describe('access', () => {
  test('a public route needs no token and reaches the upstream', async () => {
    const r = await call('/hello');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).path).toBe('/hello');
  });

  test('a token route answers 401 without a token or with a bad one, 200 with a valid one', async () => {
    expect((await call('/me')).status).toBe(401);
    expect((await call('/me', { bearer: 'not.a.jwt' })).status).toBe(401);
    expect((await call('/me', { bearer: token({ iss: 'https://evil.test' }) })).status).toBe(401);
    expect((await call('/me', { bearer: token({ exp: undefined }) })).status).toBe(401);
    expect((await call('/me', { bearer: token({ exp: now - 5 }) })).status).toBe(401);
    expect((await call('/me', { bearer: token({}, otherKey) })).status).toBe(401);
    // Lifetime above maxLifetime (1 h).
    expect((await call('/me', { bearer: token({ iat: now - 10, exp: now + 7200 }) })).status).toBe(401);
    // A token for another audience is refused with 401 too (jwt_authn alone answers 403 for it).
    expect((await call('/me', { bearer: token({ aud: 'someone-else' }) })).status).toBe(401);
    const ok = await call('/me', { bearer: token({}) });
    expect(ok.status).toBe(200);
    // forward: true keeps the token for the upstream.
    expect(JSON.parse(ok.body).headers.authorization).toMatch(/^Bearer /);
  });

  test('a token is not read from the query string', async () => {
    expect((await call(`/me?access_token=${token({})}`)).status).toBe(401);
  });

  test('roles: list or string claim, per method, 403 when missing', async () => {
    expect((await call('/orders', { bearer: token({ roles: ['reader'] }) })).status).toBe(200);
    expect((await call('/orders', { bearer: token({ roles: 'admin' }) })).status).toBe(200);
    expect((await call('/orders', { bearer: token({ roles: ['writer'] }) })).status).toBe(403);
    expect((await call('/orders', { method: 'POST', bearer: token({ roles: ['writer', 'x'] }) })).status).toBe(200);
    expect((await call('/orders', { method: 'POST', bearer: token({ roles: ['reader'] }) })).status).toBe(403);
    expect((await call('/orders', { bearer: token({}) })).status).toBe(403);
    expect((await call('/orders', { method: 'DELETE', bearer: token({ roles: ['admin'] }) })).status).toBe(403);
  });

  test('a route accepting two providers reads each one its own roles claim', async () => {
    const inside = { client: '10.1.2.3' };
    expect((await call('/admin', { ...inside, bearer: token({ roles: ['admin'] }) })).status).toBe(200);
    expect((await call('/admin', { ...inside, bearer: token({ groups: ['admin'] }, otherKey) })).status).toBe(200);
    expect((await call('/admin', { ...inside, bearer: token({ roles: ['reader'] }) })).status).toBe(403);
    // The same issuer for both: the claim counts only for the provider whose key verified the token.
    expect((await call('/admin', { ...inside, bearer: token({ groups: ['admin'] }) })).status).toBe(403);
    expect((await call('/admin', { ...inside, bearer: token({ roles: ['admin'] }, otherKey) })).status).toBe(403);
  });

  test('allowed networks: only they pass; denied networks beat allowed ones', async () => {
    const admin = token({ roles: ['admin'] });
    expect((await call('/admin', { client: '10.9.9.9', bearer: admin })).status).toBe(200);
    expect((await call('/admin', { client: '192.0.2.50', bearer: admin })).status).toBe(403);
    expect((await call('/admin', { client: '10.66.1.1', bearer: admin })).status).toBe(403);
  });

  test('networks are checked before the token: a refused network gets 403 with or without one', async () => {
    // Denied network on a token route: 403, not 401, whatever the token.
    expect((await call('/admin', { client: '10.66.1.1' })).status).toBe(403);
    expect((await call('/admin', { client: '10.66.1.1', bearer: 'not.a.jwt' })).status).toBe(403);
    expect((await call('/admin', { client: '10.66.1.1', bearer: token({ roles: ['admin'] }) })).status).toBe(403);
    // Outside the allowed networks: the same.
    expect((await call('/admin', { client: '192.0.2.50' })).status).toBe(403);
    // Inside them, the token is checked as usual.
    expect((await call('/admin', { client: '10.9.9.9' })).status).toBe(401);
    expect((await call('/admin', { client: '10.9.9.9', bearer: token({ roles: ['admin'] }) })).status).toBe(200);
    // A route without network rules still answers 401 to anyone without a token.
    expect((await call('/me', { client: '10.66.1.1' })).status).toBe(401);
  });

  test('revoked jti and sub are refused with 403', async () => {
    expect((await call('/me', { bearer: token({ jti: 'revoked-jti' }) })).status).toBe(403);
    expect((await call('/me', { bearer: token({ sub: 'revoked-user' }) })).status).toBe(403);
    expect((await call('/me', { bearer: token({ jti: 'fine', sub: 'fine' }) })).status).toBe(200);
  });

  test('revoked tokens are refused on every token route whatever its rules; public and disabled routes read no token', async () => {
    expect((await call('/orders', { bearer: token({ roles: ['reader'], jti: 'revoked-jti' }) })).status).toBe(403);
    expect((await call('/orders', { bearer: token({ roles: ['reader'] }) })).status).toBe(200);
    const inside = { client: '10.1.2.3' };
    expect((await call('/admin', { ...inside, bearer: token({ groups: ['admin'], sub: 'revoked-user' }, otherKey) })).status).toBe(403);
    expect((await call('/admin', { ...inside, bearer: token({ groups: ['admin'] }, otherKey) })).status).toBe(200);
    expect((await call('/hello', { bearer: token({ jti: 'revoked-jti' }) })).status).toBe(200);
    expect((await call('/export', { bearer: token({ jti: 'revoked-jti' }) })).status).toBe(503);
  });

  test('refused revoked tokens do not spend the rate limit of the route', async () => {
    expect(await statuses(3, '/claims', { bearer: token({ sub: 'carol', jti: 'revoked-jti' }) })).toEqual([403, 403, 403]);
    expect(await statuses(3, '/claims', { bearer: token({ sub: 'carol' }) })).toEqual([200, 200, 429]);
  });

  test('a denied network gets 403 on a public route', async () => {
    expect((await call('/login', { method: 'POST', client: '203.0.113.9' })).status).toBe(403);
  });

  test('a disabled route answers its status and body itself', async () => {
    const r = await call('/export', { bearer: 'anything' });
    expect(r.status).toBe(503);
    expect(r.body).toBe('disabled for an incident');
  });

  test('escaped slashes are refused and paths normalised before matching', async () => {
    expect((await call('/orders%2F..%2Fhello')).status).toBe(400);
    // /public/../me is /me: it needs a token.
    expect((await call('/public/../me')).status).toBe(401);
  });
});

describe('rate limits', () => {
  test('client-ip: a bucket per client address', async () => {
    expect(await statuses(4, '/login', { method: 'POST', client: '198.51.100.1' })).toEqual([200, 200, 200, 429]);
    expect(await statuses(1, '/login', { method: 'POST', client: '198.51.100.2' })).toEqual([200]);
  });

  test('enforced limits send x-ratelimit headers', async () => {
    const r = await call('/login', { method: 'POST', client: '198.51.100.3' });
    expect(r.headers['x-ratelimit-limit']).toBe('3');
    expect(r.headers['x-ratelimit-remaining']).toBe('2');
  });

  test('a route without a limit is not limited and sends no x-ratelimit headers', async () => {
    // The listener-level instance's default bucket exists only because Envoy requires one.
    const r = await call('/', { client: '198.51.100.4' });
    expect(r.status).toBe(200);
    expect(r.headers['x-ratelimit-limit']).toBeUndefined();
  });

  test('client-network: addresses in one /24 share a bucket', async () => {
    expect((await call('/net', { client: '100.64.1.1' })).status).toBe(200);
    expect((await call('/net', { client: '100.64.1.2' })).status).toBe(200);
    expect((await call('/net', { client: '100.64.1.3' })).status).toBe(429);
    expect((await call('/net', { client: '100.64.2.1' })).status).toBe(200);
  });

  test('header: a bucket per value, and callers without the header share one', async () => {
    expect(await statuses(3, '/search', { headers: { 'x-api-key': 'k1' } })).toEqual([200, 200, 429]);
    expect(await statuses(1, '/search', { headers: { 'x-api-key': 'k2' } })).toEqual([200]);
    expect(await statuses(3, '/search', { client: '192.0.2.77' })).toEqual([200, 200, 429]);
  });

  test('jwt-claim: a bucket per subject', async () => {
    const alice = token({ sub: 'alice' });
    expect(await statuses(3, '/claims', { bearer: alice })).toEqual([200, 200, 429]);
    expect(await statuses(1, '/claims', { bearer: token({ sub: 'bob' }) })).toEqual([200]);
  });

  test('route: one bucket for every caller', async () => {
    expect((await call('/total', { client: '192.0.2.10' })).status).toBe(200);
    expect((await call('/total', { client: '192.0.2.11' })).status).toBe(200);
    expect((await call('/total', { client: '192.0.2.12' })).status).toBe(429);
  });

  test('shadow: never refuses, marks what it would have refused', async () => {
    const first = await call('/shadow');
    const second = await call('/shadow');
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(JSON.parse(first.body).headers[SHADOW_HEADER]).toBeUndefined();
    expect(JSON.parse(second.body).headers[SHADOW_HEADER]).toBe('true');
  });

  test(`per-key buckets survive ${LRU_SIZE - 2} other clients, and are evicted past the LRU size`, async () => {
    const victim = { client: '172.16.0.1' };
    expect(await statuses(2, '/lru', victim)).toEqual([200, 429]);
    for (let i = 0; i < LRU_SIZE - 2; i++) await call('/lru', { client: `172.16.1.${i + 1}` });
    expect(await statuses(1, '/lru', victim)).toEqual([429]);
    // Many more distinct clients than the LRU holds: the victim's bucket is evicted and refilled.
    // This is why Environment.listener.rateLimitKeys must exceed the attacker's address count.
    for (let i = 0; i < LRU_SIZE + 5; i++) await call('/lru', { client: `172.16.2.${i + 1}` });
    expect(await statuses(1, '/lru', victim)).toEqual([200]);
  });
});
