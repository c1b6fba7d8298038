/**
 * Every policy feature observed through a real Envoy fed over ADS by the control server: routing
 * (delta and SotW), rate limits (enforce and shadow), JWT authentication and roles, denied networks,
 * revoked tokens, a disabled route, a quarantined endpoint and tier failover.
 */
import { generateSigningKey } from '../../demo/jwt';
import type { ControlServer } from '../../cli/control-server';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { call, createPolicyWorld, startServerInProcess, waitInSync, type PolicyWorld } from '../support/e2e';
import { DENIED_CIDR, REVOKED_JTI, lockdownFile } from '../support/policies';
import { freePort } from '../support/ports';
import { waitFor } from '../support/processes';

jest.setTimeout(60_000);

let world: PolicyWorld;
let server: ControlServer;
let delta: EnvoyProcess;
let sotw: EnvoyProcess;
const DISABLED_BODY = 'export disabled by the e2e lockdown';

beforeAll(async () => {
  world = await createPolicyWorld();
  // The lockdown needs the upstream ports, known only once the world exists: a second commit.
  world.repo.commit(
    {
      'policies/lockdown.yaml': lockdownFile('e2e-incident', [
        { type: 'disableRoute', route: 'export', status: 503, body: DISABLED_BODY },
        { type: 'quarantineEndpoint', service: 'orders', address: '127.0.0.1', port: world.ports.orders1 },
      ]),
    },
    'lockdown: disable export, quarantine orders #2',
  );
  server = await startServerInProcess(world);
  expect(server.follower.status().served?.commit).toBe(world.repo.head());
  delta = startAdsEnvoy({ nodeId: 'e2e-delta-1', fleet: 'e2e-delta', xdsPort: server.xdsPort, adminPort: await freePort(), delta: true });
  sotw = startAdsEnvoy({ nodeId: 'e2e-sotw-1', fleet: 'e2e-sotw', xdsPort: server.xdsPort, adminPort: await freePort(), delta: false });
  await Promise.all([delta.waitReady(), sotw.waitReady()]);
});

afterAll(async () => {
  await Promise.allSettled([delta?.stop(), sotw?.stop()]);
  await server?.stop();
  await world?.close();
});

test('delta and SotW Envoys get their config over ADS and route to the right upstream', async () => {
  for (const port of [world.ports.listener, world.ports.sotwListener]) {
    const catalog = await call(port, '/catalog/items');
    expect(catalog.status).toBe(200);
    expect(catalog.json).toMatchObject({ service: 'catalog', endpoint: world.upstreams.catalog.endpoint });
    const accounts = await call(port, '/accounts/me');
    expect(accounts.json).toMatchObject({ service: 'accounts', endpoint: world.upstreams.accounts0.endpoint });
  }
  const status = await waitInSync(server.http.url, 'e2e-delta');
  await waitInSync(server.http.url, 'e2e-sotw');
  const byId = new Map(status.nodes.map((n) => [n.id, n]));
  expect(byId.get('e2e-delta-1')).toMatchObject({ fleet: 'e2e-delta', environment: 'e2e', inSync: true, lastNack: null });
  expect(byId.get('e2e-delta-1')!.types.every((t) => t.ackedCommit === world.repo.head())).toBe(true);
});

test('rate limit: 429 past the limit; shadow mode never answers 429', async () => {
  const xff = '192.0.2.10';
  const limited = [];
  for (let i = 0; i < 5; i++) limited.push((await call(world.ports.listener, '/limited', { xff })).status);
  expect(limited).toEqual([200, 200, 200, 429, 429]);
  // A different client address has its own bucket.
  expect((await call(world.ports.listener, '/limited', { xff: '192.0.2.12' })).status).toBe(200);
  const shadowed = [];
  for (let i = 0; i < 5; i++) shadowed.push((await call(world.ports.listener, '/shadowed', { xff: '192.0.2.11' })).status);
  expect(shadowed).toEqual([200, 200, 200, 200, 200]);
});

test('JWT: 401 without a token or with a bad one, 403 for a wrong role, 200 for a reader', async () => {
  const port = world.ports.listener;
  expect((await call(port, '/orders')).status).toBe(401);
  expect((await call(port, '/orders', { token: 'not.a.jwt' })).status).toBe(401);
  const otherKey = generateSigningKey('e2e-key');
  expect((await call(port, '/orders', { token: world.token({ roles: ['reader'], key: otherKey }) })).status).toBe(401);
  expect((await call(port, '/orders', { token: world.token({ roles: ['guest'] }) })).status).toBe(403);
  const ok = await call(port, '/orders', { token: world.token({ roles: ['reader'] }) });
  expect(ok.status).toBe(200);
  expect(ok.json?.service).toBe('orders');
});

test('a denied network gets 403 (client address from X-Forwarded-For, one trusted hop)', async () => {
  const denied = DENIED_CIDR.replace('0/24', '7');
  expect((await call(world.ports.listener, '/catalog', { xff: denied })).status).toBe(403);
  expect((await call(world.ports.listener, '/catalog', { xff: '192.0.2.20' })).status).toBe(200);
});

test('a revoked jti gets 403 even with the right role', async () => {
  expect((await call(world.ports.listener, '/orders', { token: world.token({ roles: ['reader'], jti: REVOKED_JTI }) })).status).toBe(403);
  expect((await call(world.ports.listener, '/orders', { token: world.token({ roles: ['reader'], jti: 'fresh-jti' }) })).status).toBe(200);
});

test('a disabled route answers its fixed status and body', async () => {
  world.upstreams.orders0.resetCounts();
  world.upstreams.orders1.resetCounts();
  const a = await call(world.ports.listener, '/export/all', { token: world.token({ roles: ['admin'] }) });
  expect(a.status).toBe(503);
  expect(a.body).toContain(DISABLED_BODY);
  expect(world.upstreams.orders0.requests + world.upstreams.orders1.requests).toBe(0); // Envoy answered itself
});

test('a quarantined endpoint gets no traffic', async () => {
  world.upstreams.orders0.resetCounts();
  world.upstreams.orders1.resetCounts();
  const token = world.token({ roles: ['reader'] });
  for (let i = 0; i < 20; i++) expect((await call(world.ports.listener, `/orders/${i}`, { token })).json?.endpoint).toBe(world.upstreams.orders0.endpoint);
  expect(world.upstreams.orders0.requests).toBe(20);
  expect(world.upstreams.orders1.requests).toBe(0);
});

test('tier 1 takes over when tier 0 fails its health check, and gives back when it recovers', async () => {
  const { accounts0, accounts1 } = world.upstreams;
  // Tier 0 serves first. Its health check (150 ms timeout, one failure marks it down) can miss once
  // on a loaded machine, so wait for it rather than assert the first answer.
  await waitFor('tier 0 answering', async () => (await call(world.ports.listener, '/accounts')).json?.endpoint === accounts0.endpoint, 10_000);
  accounts0.setHealthy(false);
  try {
    await waitFor('tier 1 answering', async () => (await call(world.ports.listener, '/accounts')).json?.endpoint === accounts1.endpoint, 10_000);
    for (let i = 0; i < 5; i++) {
      const a = await call(world.ports.listener, '/accounts');
      expect(a.status).toBe(200);
      expect(a.json).toMatchObject({ endpoint: accounts1.endpoint, tier: 1 });
    }
  } finally {
    accounts0.setHealthy(true);
  }
  await waitFor('tier 0 back', async () => (await call(world.ports.listener, '/accounts')).json?.endpoint === accounts0.endpoint, 10_000);
});
