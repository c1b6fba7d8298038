/**
 * `portcullis serve` keeps its audit trail in <work-dir>/audit: killed with SIGKILL and started
 * again, the trail holds both runs in one valid chain, with each run's commit and the Envoy's ACKs (the restarted server offers the versions the
 * Envoy holds, so the second run pushes nothing and records no ACK).
 */
import * as path from 'node:path';
import { queryTrail, verifyAuditDir } from '../../audit';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { createPolicyWorld, spawnServer, waitInSync, type PolicyWorld } from '../support/e2e';
import { freePort } from '../support/ports';
import { waitFor, type ManagedProcess } from '../support/processes';

jest.setTimeout(120_000);

let world: PolicyWorld;
let envoy: EnvoyProcess | undefined;
let server: ManagedProcess | undefined;

afterAll(async () => {
  await envoy?.stop();
  await server?.stop();
  await world?.close();
});

test('the trail survives kill -9 of serve and continues in the same chain after the restart', async () => {
  world = await createPolicyWorld();
  const ports = { xds: await freePort(), http: await freePort() };
  const start = async (log: string): Promise<ManagedProcess> => {
    const proc = spawnServer(world, ports, log);
    await waitFor('serve ready', async () => {
      if (!proc.running) throw new Error(`serve exited with ${proc.exitCode}; see ${world.dir}/${log}`);
      return (await fetch(`http://127.0.0.1:${ports.http}/readyz`).catch(() => null))?.status === 200;
    }, 60_000, 100);
    return proc;
  };
  server = await start('audit-serve-1.log');
  envoy = startAdsEnvoy({ nodeId: 'e2e-audit-serve', fleet: 'e2e-delta', xdsPort: ports.xds, adminPort: await freePort(), delta: true });
  await envoy.waitReady();
  const first = await waitInSync(`http://127.0.0.1:${ports.http}`, 'e2e-delta');
  const dir = path.join(world.dir, 'child-mirror.git', 'audit');
  await waitFor('the ACKs in the trail', async () => (await queryTrail(dir, { since: new Date(0) })).some((r) => r.kind === 'xds.ack' && r.type === 'route'));
  await server.kill();

  server = await start('audit-serve-2.log');
  await waitInSync(`http://127.0.0.1:${ports.http}`, 'e2e-delta', 30_000);
  await waitFor('the second run in the trail', async () => (await queryTrail(dir, { since: new Date(0) })).filter((r) => r.kind === 'policy.compiled').length === 2, 15_000);
  await server.stop();
  server = undefined;

  const report = await verifyAuditDir(dir);
  expect(report.ok).toBe(true);
  expect(report.streams.map((s) => s.stream)).toEqual(['serve']);
  const trail = await queryTrail(dir, { since: new Date(0) });
  const compiled = trail.filter((r) => r.kind === 'policy.compiled');
  expect(compiled.map((r) => [r.commit, r.version, r.trigger])).toEqual([
    [first.policy.served!.commit, first.policy.served!.version, 'startup'],
    // The restarted server serves the last good commit from its work dir before it fetches.
    [first.policy.served!.commit, first.policy.served!.version, 'restore'],
  ]);
  const acks = trail.filter((r) => r.kind === 'xds.ack' && r.node === 'e2e-audit-serve');
  expect(new Set(acks.map((r) => r.commit))).toEqual(new Set([first.policy.served!.commit]));
  // One chain: the second run's first record follows the first run's last one.
  expect(trail.map((r) => r.seq)).toEqual(trail.map((_, i) => i + 1));
  // The commit was seen once: the restart restores it from the work dir and the fetch finds no new head.
  expect(trail.filter((r) => r.kind === 'policy.seen')).toHaveLength(1);
});
