/**
 * The control server crashes under steady load: Envoy keeps serving its last config (0 failed
 * requests), reconnects when the server is back, and the restarted server (same commit) offers the
 * very same versions, so Envoy's config versions do not change. A crash while the branch head is
 * refused keeps the last good commit in force (recorded in --work-dir).
 */
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { call, createPolicyWorld, pushCommit, serverStatus, spawnServer, steadyLoad, waitInSync, type PolicyWorld } from '../support/e2e';
import { freePort } from '../support/ports';
import { waitFor, type ManagedProcess } from '../support/processes';

jest.setTimeout(90_000);

let world: PolicyWorld;
let envoy: EnvoyProcess;
let server: ManagedProcess | undefined;
let ports: { xds: number; http: number };

async function startServer(logName: string): Promise<ManagedProcess> {
  const proc = spawnServer(world, ports, logName);
  try {
    await waitFor('control server ready', async () => {
      if (!proc.running) throw new Error(`portcullis serve exited with ${proc.exitCode}; see ${world.dir}/${logName}`);
      const r = await fetch(`http://127.0.0.1:${ports.http}/readyz`).catch(() => null);
      return r?.status === 200;
    }, 40_000, 100);
  } catch (e) {
    await proc.stop(); // a server that never got ready must not outlive the test (jest would wait for it)
    throw e;
  }
  return proc;
}

beforeAll(async () => {
  world = await createPolicyWorld();
  ports = { xds: await freePort(), http: await freePort() };
  server = await startServer('server-1.log');
  envoy = startAdsEnvoy({ nodeId: 'e2e-restart-1', fleet: 'e2e-delta', xdsPort: ports.xds, adminPort: await freePort(), delta: true });
  await envoy.waitReady();
  await waitInSync(`http://127.0.0.1:${ports.http}`, 'e2e-delta');
}, 90_000);

afterAll(async () => {
  await envoy?.stop();
  await server?.stop();
  await world?.close();
});

test('killing the control server under load fails no request; after restart Envoy reconnects with unchanged versions', async () => {
  const versionsBefore = await envoy.versions();
  expect(versionsBefore.clusters.length).toBeGreaterThan(0);
  const connected = async () => Number(await envoy.stat('control_plane.connected_state'));
  expect(await connected()).toBe(1);

  const load = steadyLoad(world.ports.listener, '/catalog', { maxRequests: 5000, maxMs: 60_000, xff: '192.0.2.80' });
  let ended = false;
  void load.done.then(() => (ended = true));
  // Windows counted in requests through Envoy, not timed: some before the crash, some with no server,
  // some after the restart (unless the load already ran into its bounds on a slow machine).
  const sent = (n: number) => {
    const from = load.result.sent;
    return waitFor(`${n} more requests through Envoy`, () => load.result.sent >= from + n || ended, 10_000, 10);
  };
  await sent(20);
  await server!.kill(); // SIGKILL: a crash, no goodbye on the streams
  await waitFor('Envoy noticing the server is gone', async () => (await connected()) === 0, 10_000);
  await sent(50);

  server = await startServer('server-2.log');
  await waitFor('Envoy reconnected', async () => (await connected()) === 1, 30_000, 100);
  const status = await waitInSync(`http://127.0.0.1:${ports.http}`, 'e2e-delta', 15_000);
  await sent(20);
  load.stop();
  const result = await load.done;

  expect(result.sent).toBeGreaterThan(50);
  expect(result.examples).toEqual([]);
  expect(result.failed).toBe(0);
  expect(await envoy.versions()).toEqual(versionsBefore);
  const node = status.nodes.find((n) => n.id === 'e2e-restart-1')!;
  expect(node.types.every((t) => t.ackedCommit === world.repo.head())).toBe(true);
  // The restarted server learnt what the node holds from initial_resource_versions (issue 7 item 11).
  expect(node.types.map((t) => [t.type, t.ackedVersion])).toEqual(node.types.map((t) => [t.type, t.servedVersion]));
  expect(node.types.every((t) => t.ackedVersion !== null)).toBe(true);
  expect((await serverStatus(`http://127.0.0.1:${ports.http}`)).policy.served!.commit).toBe(world.repo.head());
});

test('SIGKILL while the branch head is refused: the restarted server serves the last good commit, a fresh Envoy gets it', async () => {
  const url = `http://127.0.0.1:${ports.http}`;
  const good = world.repo.head();
  const broken = 'apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: broken }\nspec:\n  path: { prefix: no-slash }\n  service: catalog\n';
  const { commit: bad } = await pushCommit(world, url, { 'policies/broken.yaml': broken }, 'a route that does not compile');
  await waitFor('bad commit refused', async () => (await serverStatus(url)).policy.rejected?.commit === bad, 20_000);

  await server!.kill();
  server = await startServer('server-3.log'); // waits for /readyz 200: it answered 503 (served: null) before
  const ready = await serverStatus(url);
  expect(ready.policy.served?.commit).toBe(good);
  expect(ready.policy.served?.trigger).toBe('restore');
  // Then the first fetch finds the head still refused, and says so; the last good commit stays.
  const status = await waitFor('head refused again', async () => {
    const s = await serverStatus(url);
    return s.policy.rejected?.commit === bad ? s : undefined;
  }, 20_000);
  expect(status.policy.served?.commit).toBe(good);

  const fresh = startAdsEnvoy({ nodeId: 'e2e-restart-fresh', fleet: 'e2e-sotw', xdsPort: ports.xds, adminPort: await freePort(), delta: false });
  try {
    await fresh.waitReady();
    expect((await call(world.ports.sotwListener, '/catalog', { xff: '192.0.2.81' })).status).toBe(200);
  } finally {
    await fresh.stop();
  }
});
