/**
 * Fleet-scope rate limits end to end with real processes: two Envoys of one fleet (sharing the
 * listener port, so the kernel spreads fresh connections over both), the envoyproxy/ratelimit
 * service taking its configuration from the Portcullis ADS server, Redis, and the control server
 * following a git repository. Each request opens a fresh connection.
 */
import { request } from 'node:http';
import type { ControlServer } from '../../cli/control-server';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { createPolicyWorld, pushCommit, serverStatus, startServerInProcess, waitInSync, type PolicyWorld } from '../support/e2e';
import { lockdownFile } from '../support/policies';
import { freePort } from '../support/ports';
import { waitFor } from '../support/processes';
import { RateLimitService, RedisProcess } from '../support/ratelimit-service';

jest.setTimeout(120_000);

const FLEET = 'e2e-delta';
const ENVOYS = ['e2e-fleet-rl-1', 'e2e-fleet-rl-2'];

const limitFiles = {
  'policies/fleet.yaml': `apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: login }
spec:
  path: { prefix: /login }
  service: catalog
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: signup }
spec:
  path: { prefix: /signup }
  service: catalog
---
apiVersion: portcullis.dev/v1
kind: RateLimit
metadata: { name: login-fleet }
spec:
  routes: [login]
  requests: 6
  per: hour
  key: { type: clientIp }
  scope: fleet
  onServiceFailure: deny
---
apiVersion: portcullis.dev/v1
kind: RateLimit
metadata: { name: signup-fleet }
spec:
  routes: [signup]
  requests: 100
  per: hour
  key: { type: clientIp }
  scope: fleet
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: tenant }
spec:
  path: { prefix: /tenant }
  service: catalog
---
apiVersion: portcullis.dev/v1
kind: RateLimit
metadata: { name: tenant-network }
spec:
  routes: [tenant]
  requests: 4
  per: hour
  key: { type: clientNetwork, ipv4PrefixLength: 24, ipv6PrefixLength: 56 }
  scope: fleet
---
apiVersion: portcullis.dev/v1
kind: Access
metadata: { name: fleet-access }
spec:
  rules:
    - routes: [login, signup, tenant]
      public: true
`,
};

function environments(listener: number, sotwListener: number, rateLimitPort: number): string {
  const env = (name: string, fleet: string, port: number) => `apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: ${name} }
spec:
  fleets: [${fleet}]
  listener: { address: 127.0.0.1, port: ${port}, xffNumTrustedHops: 1 }
  rateLimitService: { address: 127.0.0.1, port: ${rateLimitPort}, timeout: 200ms }
`;
  return `${env('e2e', FLEET, listener)}---\n${env('e2e-sotw', 'e2e-sotw', sotwListener)}`;
}

let world: PolicyWorld;
let server: ControlServer;
let redis: RedisProcess;
let service: RateLimitService;
const envoys: EnvoyProcess[] = [];

/** One request on a fresh connection (so the two Envoys sharing the port both get traffic). */
function hit(path: string, client: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: world.ports.listener, path, agent: false, headers: { 'x-forwarded-for': client, connection: 'close' }, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function statuses(n: number, path: string, client: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await hit(path, client));
  return out;
}

const count = (xs: number[], v: number): number => xs.filter((x) => x === v).length;

/**
 * Per Envoy, a fleet rate-limit counter (`ok`, `over_limit`, `error`, `failure_mode_allowed`)
 * summed over both instances and every upstream: Envoy names it
 * `cluster.<route's cluster>.ratelimit.<stat_prefix>.<counter>`.
 */
async function perEnvoy(counter: string): Promise<number[]> {
  const name = new RegExp(`\\.ratelimit\\.portcullis_fleet_(allow|deny)\\.${counter}$`);
  return Promise.all(
    envoys.map(async (e) => [...(await e.stats('portcullis_fleet')).entries()].filter(([k]) => name.test(k)).reduce((sum, [, v]) => sum + Number(v), 0)),
  );
}

beforeAll(async () => {
  world = await createPolicyWorld(limitFiles);
  const rateLimitPort = await freePort();
  world.repo.commit({ 'policies/environments.yaml': environments(world.ports.listener, world.ports.sotwListener, rateLimitPort) }, 'environments with a rate-limit service');
  redis = await RedisProcess.start();
  server = await startServerInProcess(world);
  service = await RateLimitService.start({ xdsPort: server.xdsPort, fleet: FLEET, nodeId: 'e2e-ratelimit-1', redisPort: redis.port, grpcPort: rateLimitPort });
  await service.waitReady();
  for (const id of ENVOYS) envoys.push(startAdsEnvoy({ nodeId: id, fleet: FLEET, xdsPort: server.xdsPort, adminPort: await freePort(), delta: true }));
  await Promise.all(envoys.map((e) => e.waitReady()));
  await waitInSync(server.http.url, FLEET);
});

afterAll(async () => {
  await Promise.all(envoys.map((e) => e.stop()));
  await service?.stop();
  await redis?.stop();
  await server?.stop();
  await world?.close();
});

test('the service is a node of the fleet: it ACKed its RateLimitConfig, shown in /status', async () => {
  const status = await waitInSync(server.http.url, FLEET);
  const node = status.nodes.find((n) => n.id === 'e2e-ratelimit-1');
  expect(node?.types.map((t) => t.type)).toEqual(['ratelimit']);
  expect(node?.types[0]?.ackedVersion).toBe(node?.types[0]?.servedVersion);
  expect(await service.rlconfig()).toContain('portcullis-e2e.portcullis_limit_login-fleet');
});

test('requests spread over both Envoys are admitted up to the fleet limit in total, per key', async () => {
  const asked = async () => (await Promise.all([perEnvoy('ok'), perEnvoy('over_limit')])).reduce((a, b) => a.map((n, i) => n + (b[i] as number)));
  const before = await asked();
  const answers = await statuses(20, '/login', '192.0.2.10');
  expect(count(answers, 200)).toBe(6); // not 12: one budget for both Envoys
  expect(count(answers, 429)).toBe(14);
  const after = await asked();
  // Both Envoys asked the service. (Not "each admitted some of the six": the kernel spreads the 20
  // connections over the two SO_REUSEPORT listeners by hash, so all six admitted ones landing on
  // one Envoy happens about 3% of the time; all twenty on one is 2 in a million.)
  after.forEach((n, i) => expect(n).toBeGreaterThan(before[i] as number));
  expect(await statuses(2, '/login', '192.0.2.11')).toEqual([200, 200]);
});

test('IPv4-mapped clients count as their IPv4 form: one fleet budget per address (clientIp) and per /24 (clientNetwork)', async () => {
  const spellings = ['198.51.100.7', '::ffff:198.51.100.7', '::ffff:c633:6407'];
  const answers: number[] = [];
  for (let i = 0; i < 8; i++) answers.push(await hit('/login', spellings[i % spellings.length] as string));
  expect(answers).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
  const network = ['100.64.7.1', '::ffff:100.64.7.2', '::ffff:6440:703', '100.64.7.4', '::ffff:100.64.7.5'];
  const inNetwork: number[] = [];
  for (const client of network) inNetwork.push(await hit('/tenant', client));
  expect(inNetwork).toEqual([200, 200, 200, 200, 429]);
  // Mapped clients of five other /24s: five budgets, not one shared `::/56`.
  const others: number[] = [];
  for (const client of ['::ffff:10.0.0.1', '::ffff:10.0.1.1', '::ffff:10.0.2.1', '::ffff:10.0.3.1', '::ffff:10.0.4.1']) others.push(await hit('/tenant', client));
  expect(others).toEqual([200, 200, 200, 200, 200]);
});

test('a commit adding an unrelated route resets no fleet counter', async () => {
  expect(await statuses(3, '/login', '192.0.2.20')).toEqual([200, 200, 200]);
  const { commit } = await pushCommit(world, server.http.url, { 'policies/unrelated.yaml': 'apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: unrelated }\nspec:\n  path: { prefix: /unrelated }\n  service: catalog\n' }, 'unrelated route');
  await waitFor('both Envoys on the new commit', async () => (await waitInSync(server.http.url, FLEET)).nodes.every((n) => n.servedCommit === commit), 15_000);
  const answers = await statuses(6, '/login', '192.0.2.20');
  expect(count(answers, 200)).toBe(3); // 3 + 3 = 6: the counter kept its 3
});

test('a lockdown tightening a fleet limit is enforced on both Envoys within 1 s of the server seeing it', async () => {
  expect(await statuses(3, '/signup', '192.0.2.30')).toEqual([200, 200, 200]);
  const envoyVersions = async () => (await serverStatus(server.http.url)).nodes.filter((n) => ENVOYS.includes(n.id)).map((n) => n.types.map((t) => `${t.type}@${t.ackedVersion}`));
  const versionsBefore = await envoyVersions();
  const { commit } = await pushCommit(world, server.http.url, { 'policies/lockdown.yaml': lockdownFile('tighten-signup', [{ type: 'tightenRateLimit', rateLimit: 'signup-fleet', requests: 3 }]) }, 'lockdown: tighten signup');
  const enforcedAt = await waitFor('the tightened limit refusing', async () => ((await hit('/signup', '192.0.2.30')) === 429 ? Date.now() : false), 10_000, 10);
  const served = server.follower.status().served;
  expect(served?.commit).toBe(commit);
  const seenAt = Date.parse(served?.seenAt ?? '');
  console.log(`fleet tightenRateLimit: ${enforcedAt - seenAt} ms from the server seeing the commit to a 429`);
  expect(enforcedAt - seenAt).toBeLessThan(1000);
  const before = await perEnvoy('over_limit');
  expect(count(await statuses(10, '/signup', '192.0.2.30'), 429)).toBe(10);
  const after = await perEnvoy('over_limit');
  after.forEach((n, i) => expect(n).toBeGreaterThan(before[i] as number)); // both Envoys refuse
  // The lockdown changed neither Envoy's listener nor routes: only the service's configuration.
  expect(await envoyVersions()).toEqual(versionsBefore);
});

test('service killed: allow limits fail open, deny limits answer 503; Redis restarted: the service recovers', async () => {
  // Only e2e has a service node; e2e-sotw's fleet limits are counted by none, but no Envoy of it is
  // connected either, so nothing is warned about.
  const e2eWarnings = async () => ((await serverStatus(server.http.url)).warnings ?? []).filter((w) => w.startsWith('Environment/e2e:'));
  expect((await serverStatus(server.http.url)).warnings ?? []).toEqual([]);
  await service.kill();
  const warned = await waitFor('a status warning', async () => (await e2eWarnings())[0] ?? false, 10_000);
  expect(warned).toMatch(/^Environment\/e2e: no rate-limit service holds its fleet limits login-fleet \(deny\), signup-fleet \(allow\)/);
  const errorsBefore = await perEnvoy('error');
  expect(await hit('/signup', '192.0.2.40')).toBe(200); // onServiceFailure: allow (default)
  expect(await hit('/login', '192.0.2.40')).toBe(503); // onServiceFailure: deny
  const errorsAfter = await perEnvoy('error');
  expect(errorsAfter.reduce((a, b) => a + b)).toBeGreaterThan(errorsBefore.reduce((a, b) => a + b));

  await service.restart();
  await service.waitReady();
  await waitFor('the warning gone', async () => (await e2eWarnings()).length === 0, 15_000);
  await waitFor('the service counting again', async () => (await hit('/login', '192.0.2.41')) === 200, 15_000, 100);

  await redis.restart(); // every counter is lost with it (no persistence); the service reconnects
  // Each pooled Redis connection fails once after the restart (REDIS_POOL_SIZE 10), and requests one
  // after the other may keep reusing one connection: recovered when two bursts of 20 concurrent
  // requests in a row (which take many connections at once), each from a client of its own, all pass.
  let probe = 0;
  let clean = 0;
  await waitFor('the service counting after the Redis restart', async () => {
    const burst = await Promise.all(Array.from({ length: 20 }, () => hit('/login', `198.18.${Math.floor(probe / 250)}.${probe++ % 250}`)));
    clean = burst.every((status) => status === 200) ? clean + 1 : 0;
    return clean >= 2;
  }, 15_000, 20);
  const answers = await statuses(7, '/login', '192.0.2.50');
  // Counting again, with no control-server restart: 6 admitted, the 7th refused by the limit.
  expect(answers).toEqual([200, 200, 200, 200, 200, 200, 429]);
});
