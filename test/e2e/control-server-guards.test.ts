/**
 * Issue 7 items 7, 10 and 12 through a real control server, real git and a real Envoy: a lockdown
 * the fleet NACKs reads "NOT ENFORCED", a commit dropping a fleet with a connected Envoy is refused
 * (and allowed with the commit trailer), Envoys of an unknown fleet are listed as refused streams, a
 * git fetch outage makes `portcullis status` exit 4. Every one of them exits `portcullis status`
 * nonzero.
 */
import { renameSync } from 'node:fs';
import { runStatus } from '../../cli/commands/status';
import type { EnvoyResources } from '../../compiler/envoy/resources';
import { captureCli } from '../support/cli';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { call, pushCommit, serverStatus, waitInSync, type PolicyWorld } from '../support/e2e';
import { startE2eFleet, type E2eFleet } from '../support/e2e-fleet';
import { lockdownFile } from '../support/policies';
import { freePort } from '../support/ports';
import { waitFor } from '../support/processes';

jest.setTimeout(90_000);

let fleet: E2eFleet;
let world: PolicyWorld;
let server: E2eFleet['server'];
let envoy: EnvoyProcess;
/**
 * Test hook: when set, every route configuration gets a virtual host with a regex Envoy refuses (RE2
 * program too large), so the whole route configuration of that commit, lockdown included, is NACKed
 * (what issue 7 items 5 and 6 did with real policies).
 */
let injectBadRoute = false;

function badRouteHook(r: EnvoyResources): EnvoyResources {
  if (!injectBadRoute) return r;
  const badHost = { name: 'e2e-rejected', domains: ['rejected.invalid'], routes: [{ match: { safe_regex: { regex: '^/x{1000}$' } }, direct_response: { status: 200 } }] };
  return {
    ...r,
    routes: r.routes.map((rc) => {
      const value = rc.value as { virtual_hosts?: readonly object[] };
      return { ...rc, version: `${rc.version}-bad`, value: { ...rc.value, virtual_hosts: [...(value.virtual_hosts ?? []), badHost] } as typeof rc.value };
    }),
  };
}

/** Pushes a commit and waits until it is the served commit and every node of e2e-delta ACKed it. */
async function pushServed(files: Record<string, string | null>, message: string): Promise<string> {
  const { commit } = await pushCommit(world, server.http.url, files, message);
  await waitFor(`commit ${commit.slice(0, 8)} served`, async () => (await serverStatus(server.http.url)).policy.served?.commit === commit, 30_000);
  await waitInSync(server.http.url, 'e2e-delta', 30_000);
  return commit;
}

async function status(): Promise<{ code: number; out: string }> {
  const c = captureCli();
  const code = await runStatus(c.ctx, { server: server.http.url });
  return { code, out: c.out() };
}

beforeAll(async () => {
  // No Envoy validation here: these tests need the fleet itself to NACK (envoy-validation.test.ts has it on).
  fleet = await startE2eFleet('e2e-guards-1', { transformResources: badRouteHook, envoyBinary: null });
  ({ world, server, envoy } = fleet);
});

afterAll(async () => {
  await fleet?.close();
});

test('a lockdown the fleet NACKs is shown NOT ENFORCED, naming the node; status exits 1', async () => {
  const block = { 'policies/lockdown-block.yaml': lockdownFile('block-60', [{ type: 'blockNetworks', cidrs: ['192.0.2.60/32'] }]) };
  await pushServed(block, 'lockdown: block 192.0.2.60');
  const enforced = (await serverStatus(server.http.url)).lockdowns!.find((l) => l.lockdown === 'block-60')!;
  expect(enforced.enforced).toBe(true);
  expect(enforced.fleets).toEqual([expect.objectContaining({ fleet: 'e2e-delta', summary: 'active (enforced by 1/1 nodes)', enforcedBy: ['e2e-guards-1'] })]);
  expect((await status()).out).toContain('lockdown block-60 on e2e-delta: active (enforced by 1/1 nodes)');

  // The next lockdown's commit also carries a route Envoy refuses: its route configuration is NACKed.
  injectBadRoute = true;
  const { commit } = await pushCommit(world, server.http.url, { 'policies/lockdown-block-2.yaml': lockdownFile('block-61', [{ type: 'blockNetworks', cidrs: ['192.0.2.61/32'] }]) }, 'lockdown: block 192.0.2.61');
  const doc = await waitFor('the NACK of the lockdown commit', async () => {
    const s = await serverStatus(server.http.url);
    return s.nodes.some((n) => n.lastNack?.commit === commit) ? s : undefined;
  });
  expect((await call(world.ports.listener, '/catalog', { xff: '192.0.2.61' })).status).toBe(200); // really not enforced
  const l = doc.lockdowns!.find((x) => x.lockdown === 'block-61')!;
  expect(l.enforced).toBe(false);
  expect(l.fleets[0]!.summary).toMatch(/^NOT ENFORCED: rejected by e2e-guards-1 \(route: .*RE2 program size.*\); enforced by 0\/1 nodes$/);
  const shown = await status();
  expect(shown.out).toMatch(/lockdown block-61 on e2e-delta: NOT ENFORCED: rejected by e2e-guards-1/);
  expect(shown.code).toBe(1);

  injectBadRoute = false;
  await pushServed({ 'policies/lockdown-block.yaml': null, 'policies/lockdown-block-2.yaml': null }, 'lift the lockdowns');
});

test('a commit deleting every policy file is refused while an Envoy of the fleet is connected; Envoy keeps its config', async () => {
  const before = await serverStatus(server.http.url);
  const { commit } = await pushCommit(world, server.http.url, { policies: null }, 'delete every policy');
  const doc = await waitFor('commit refused', async () => {
    const s = await serverStatus(server.http.url);
    return s.policy.rejected?.commit === commit ? s : undefined;
  });
  expect(doc.policy.rejected!.errors.map((e) => e.message).join('\n')).toMatch(/drops fleet "e2e-delta" .* 1 Envoy\(s\) of it are connected \(e2e-guards-1\)/);
  expect(doc.policy.served!.commit).toBe(before.policy.served!.commit);
  expect(doc.nodes.map((n) => [n.id, n.inSync])).toEqual([['e2e-guards-1', true]]);
  expect((await fetch(`${server.http.url}/readyz`)).status).toBe(200);
  expect((await call(world.ports.listener, '/catalog', { xff: '192.0.2.62' })).status).toBe(200);
  const shown = await status();
  expect(shown.code).toBe(1);
  expect(shown.out).toContain('drops fleet "e2e-delta"');

  // Restored by the next commit: the files come back, the branch head is served again.
  await pushServed(world.basePolicies, 'restore the policies');
});

test('dropping the fleet on purpose: the Portcullis-Allow-Fleet-Removal trailer lets it through; the dropped Envoy is listed as refused', async () => {
  const envFile = 'policies/environments.yaml';
  const text = world.basePolicies[envFile]!;
  expect(text).toContain('fleets: [e2e-delta]');
  const moved = text.replace('fleets: [e2e-delta]', 'fleets: [e2e-delta-next]');
  const { commit: refused } = await pushCommit(world, server.http.url, { [envFile]: moved }, 'move e2e-delta');
  await waitFor('refused without the trailer', async () => (await serverStatus(server.http.url)).policy.rejected?.commit === refused);

  const { commit: allowed } = await pushCommit(world, server.http.url, {}, 'move e2e-delta, on purpose\n\nPortcullis-Allow-Fleet-Removal: e2e-delta');
  await waitFor('served with the trailer', async () => (await serverStatus(server.http.url)).policy.served?.commit === allowed);
  const doc = await waitFor('the Envoy of the dropped fleet listed as refused, by node id', async () => {
    const s = await serverStatus(server.http.url);
    return s.refusedStreams?.some((r) => r.node === 'e2e-guards-1' && r.fleet === 'e2e-delta') ? s : undefined;
  }, 30_000);
  expect(doc.refusedStreams!.find((r) => r.node === 'e2e-guards-1')!.message).toMatch(/fleet "e2e-delta"/);
  const shown = await status();
  expect(shown.code).toBe(1);
  expect(shown.out).toMatch(/Refused streams[\s\S]*e2e-guards-1\s+e2e-delta\s+(unknown_fleet|fleet_removed)/);

  await pushServed({ [envFile]: text }, 'fleet back');
  expect((await serverStatus(server.http.url)).refusedStreams).toEqual([]);
});

test('a git fetch outage: "Fetch failed" and exit 4; back to 0 once the repository is reachable', async () => {
  expect((await status()).code).toBe(0);
  const moved = `${world.repo.dir}-away`;
  renameSync(world.repo.dir, moved);
  try {
    expect((await server.follower.requestSync('manual')).kind).toBe('fetch-failed');
    const shown = await status();
    expect(shown.out).toMatch(/Fetch\s+failed at/);
    expect(shown.code).toBe(4);
  } finally {
    renameSync(moved, world.repo.dir);
  }
  expect((await server.follower.requestSync('manual')).kind).toBe('unchanged');
  expect((await status()).code).toBe(0);
});
