/**
 * The control server's audit records, with a real git repository and two real Envoys (delta and
 * SotW, one fleet): every commit's policy.seen → policy.compiled → xds.pushed → xds.ack (right
 * commit, version and node), Envoy's NACK with its error, a refused commit, and a lockdown that
 * starts with a merge and expires by the clock. The rollout reporter, teed onto the same sink, posts
 * commit statuses to a recording client (GitHub's API shape; the bot's GitHub double was not on main).
 */
import type { EnvoyResources } from '../../compiler/envoy/resources';
import { AuditWriter, queryTrail, RolloutStatusReporter, teeSink, verifyAuditDir, type StoredRecord } from '../../audit';
import { recordingClient } from '../support/commit-status-client';
import type { ControlServer } from '../../cli/control-server';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { createPolicyWorld, pushCommit, startServerInProcess, waitInSync, type PolicyWorld } from '../support/e2e';
import { tempDir } from '../support/git-repo';
import { lockdownFile } from '../support/policies';
import { freePort } from '../support/ports';
import { waitFor } from '../support/processes';

jest.setTimeout(60_000);

const NODE = 'e2e-audit-1';
let world: PolicyWorld;
let server: ControlServer;
let envoy: EnvoyProcess;
let envoy2: EnvoyProcess;
const github = recordingClient();
let reporter: RolloutStatusReporter;
/** Commit statuses posted for `commit`, as `state: description`. */
const statuses = (commit: string): string[] => github.calls.filter((c) => c.sha === commit && c.context === 'portcullis/e2e').map((c) => `${c.state}: ${c.description}`);
let writer: AuditWriter;
let auditDir: string;
let injectBadCluster = false;

function badClusterHook(r: EnvoyResources): EnvoyResources {
  if (!injectBadCluster) return r;
  const bad = { name: 'e2e-rejected', type: 'STATIC', connect_timeout: '-1s', load_assignment: { cluster_name: 'e2e-rejected', endpoints: [] } };
  return { ...r, clusters: [...r.clusters, { name: 'e2e-rejected', version: 'bad-0001', value: bad }].sort((a, b) => (a.name < b.name ? -1 : 1)) };
}

/** The server's records so far (the writer resolves each record once it is in the segment). */
const since0 = new Date(0);
async function records(): Promise<StoredRecord[]> {
  return queryTrail(auditDir, { since: since0 });
}

beforeAll(async () => {
  world = await createPolicyWorld();
  auditDir = tempDir('portcullis-e2e-audit-');
  writer = await AuditWriter.open({ dir: auditDir, stream: 'serve' });
  reporter = new RolloutStatusReporter({
    client: github,
    repository: 'e2e/policies',
    minIntervalMs: 200,
    served: () => {
      const s = server?.follower.status().served;
      return s ? { commit: s.commit, environments: s.environments.map((e) => e.name) } : null;
    },
    nodes: () => server?.status().nodes ?? [],
  });
  server = await startServerInProcess(world, { transformResources: badClusterHook, audit: teeSink(writer, reporter) });
  envoy = startAdsEnvoy({ nodeId: NODE, fleet: 'e2e-delta', xdsPort: server.xdsPort, adminPort: await freePort(), delta: true });
  envoy2 = startAdsEnvoy({ nodeId: 'e2e-audit-2', fleet: 'e2e-delta', xdsPort: server.xdsPort, adminPort: await freePort(), delta: false });
  await envoy.waitReady();
  await envoy2.waitReady();
  await waitInSync(server.http.url, 'e2e-delta');
});

afterAll(async () => {
  envoy2?.proc.killGroup('SIGCONT');
  reporter?.stop();
  await envoy?.stop();
  await envoy2?.stop();
  await server?.stop();
  await writer?.close();
  await world?.close();
});

test('a merged lockdown: seen → compiled → pushed → ACKed by the node, with commit, version and node; it expires by the clock', async () => {
  const expiresAt = new Date(Date.now() + 8000).toISOString();
  // The second Envoy is frozen (SIGSTOP) while the commit rolls out: GitHub must show 1/2, pending.
  envoy2.proc.killGroup('SIGSTOP');
  const { commit } = await pushCommit(world, server.http.url, { 'policies/lockdown-audit.yaml': lockdownFile('audit-block', [{ type: 'blockNetworks', cidrs: ['192.0.2.77/32'] }], expiresAt) }, 'lockdown: audit-block');
  await waitFor('the commit served', () => server.follower.status().served?.commit === commit);
  const short = commit.slice(0, 7);
  await waitFor('the pending status', () => statuses(commit).includes(`pending: 1/2 Envoys enforce ${short}`));
  envoy2.proc.killGroup('SIGCONT');
  const status = await waitInSync(server.http.url, 'e2e-delta');
  expect(status.policy.served?.commit).toBe(commit);
  const version = status.policy.served!.version;
  const node = status.nodes.find((n) => n.id === NODE)!;

  const trail = (await waitFor('the route ACK of the commit in the trail', async () => {
    const all = await records();
    return all.some((r) => r.kind === 'xds.ack' && r.commit === commit && r.type === 'route') ? all : undefined;
  })).filter((r) => r.commit === commit);
  const kinds = trail.map((r) => r.kind);
  expect(kinds.indexOf('policy.seen')).toBeLessThan(kinds.indexOf('policy.compiled'));
  expect(trail.find((r) => r.kind === 'policy.compiled')).toMatchObject({ version, trigger: 'webhook', fleetVersions: status.policy.served!.fleetVersions });
  expect(trail.find((r) => r.kind === 'lockdown.started')).toMatchObject({ lockdown: 'audit-block', environment: 'e2e', expiresAt: expect.stringMatching(/^20/) });
  // Per type: the push, then its ACK of the same version, for this node, in this environment.
  for (const t of node.types.filter((x) => trail.some((r) => r.kind === 'xds.pushed' && r.type === x.type))) {
    const pushed = trail.find((r) => r.kind === 'xds.pushed' && r.type === t.type && r.node === NODE)!;
    const ack = trail.find((r) => r.kind === 'xds.ack' && r.type === t.type && r.node === NODE)!;
    expect(pushed).toMatchObject({ fleet: 'e2e-delta', environment: 'e2e', version: t.ackedVersion });
    expect(ack).toMatchObject({ fleet: 'e2e-delta', environment: 'e2e', version: t.ackedVersion, nonce: pushed.nonce });
    expect(ack.seq).toBeGreaterThan(pushed.seq);
    expect(typeof ack.latencyMs).toBe('number');
  }
  expect(trail.some((r) => r.kind === 'xds.pushed' && r.type === 'route')).toBe(true);
  // Both Envoys got it: GitHub shows the rollout going from pending 1/2 to success 2/2.
  await waitFor('the success status', () => statuses(commit).includes(`success: 2/2 Envoys enforce ${short}`));
  const posted = statuses(commit);
  expect(posted.filter((p) => p.startsWith('pending')).every((p) => /^pending: [01]\/2 Envoys enforce /.test(p))).toBe(true);
  expect(posted.slice(-2)).toEqual([`pending: 1/2 Envoys enforce ${short}`, `success: 2/2 Envoys enforce ${short}`]);

  // The clock ends it: a recompile of the same commit, no new commit.
  const expired = await waitFor('lockdown.expired', async () => (await records()).find((r) => r.kind === 'lockdown.expired' && r.lockdown === 'audit-block'), 15_000, 200);
  expect(expired).toMatchObject({ environment: 'e2e', reason: 'expired', commit });
  expect(Date.parse(expired.time)).toBeGreaterThanOrEqual(Date.parse(expiresAt));
  const recompiled = (await records()).filter((r) => r.kind === 'policy.compiled' && r.commit === commit);
  expect(recompiled.map((r) => r.trigger)).toEqual(['webhook', 'schedule']);
});

test("a NACK is recorded with Envoy's error; a refused commit with its errors", async () => {
  injectBadCluster = true;
  const { commit } = await pushCommit(world, server.http.url, { 'policies/extra.yaml': 'apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: extra }\nspec:\n  path: { prefix: /extra-1 }\n  service: catalog\n' }, 'touch: a cluster Envoy rejects');
  const nack = await waitFor('xds.nack', async () => (await records()).find((r) => r.kind === 'xds.nack' && r.commit === commit && r.node === NODE), 15_000, 100);
  expect(nack).toMatchObject({ node: NODE, type: 'cluster', environment: 'e2e', resources: expect.arrayContaining(['e2e-rejected']) });
  expect(String(nack.error)).toMatch(/e2e-rejected|connect_timeout|duration/i);
  // Both Envoys reject it: the commit's status is failure with Envoy's own message.
  const lastNack = (await waitFor('both NACKs', () => {
    const nodes = server.status().nodes.filter((n) => n.lastNack?.commit === commit);
    return nodes.length === 2 ? nodes : undefined;
  }))[0]!.lastNack!;
  const failure = await waitFor('the failure status', () => statuses(commit).find((s) => s.startsWith('failure: 2 Envoys rejected')));
  const description = `2 Envoys rejected ${commit.slice(0, 7)} (cluster): ${lastNack.error}`;
  // GitHub keeps 140 characters of a description.
  expect(failure).toBe(`failure: ${description.length <= 140 ? description : `${description.slice(0, 139)}…`}`);
  injectBadCluster = false;

  const refused = await pushCommit(world, server.http.url, { 'policies/broken.yaml': 'apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: broken }\nspec: { service: nowhere }\n' }, 'broken route');
  const rec = await waitFor('policy.refused', async () => (await records()).find((r) => r.kind === 'policy.refused' && r.commit === refused.commit), 15_000, 100);
  expect(rec).toMatchObject({ stage: 'compile', errorCount: expect.any(Number) });
  expect((rec.errors as { file: string }[])[0]!.file).toContain('policies/broken.yaml');
  expect((await verifyAuditDir(auditDir)).ok).toBe(true);
});
