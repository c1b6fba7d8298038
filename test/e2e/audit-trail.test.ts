/**
 * The control server's audit records and rollout commit statuses, following the GitHub double's
 * repository with two real Envoys (delta and SotW, one fleet): every commit's policy.seen →
 * policy.compiled → xds.pushed → xds.ack (right commit, version and node), Envoy's NACK with its
 * error, a refused commit, and a lockdown that starts with a merge and expires by the clock. The
 * trail and the rollout reporter are wired as `portcullis serve` wires them (cli/audit-wiring.ts,
 * cli/serve-bot.ts): statuses go to the double through its statuses API (GitHub's OpenAPI
 * description as judge) and are read back through it. Two replicas: each its own context.
 */
import pino from 'pino';
import type { EnvoyResources } from '../../compiler/envoy/resources';
import { queryTrail, verifyAuditDir, type StoredRecord } from '../../audit';
import { openServeAudit, type ServeAudit } from '../../cli/audit-wiring';
import type { ControlServer } from '../../cli/control-server';
import { commitStatusClient } from '../../cli/serve-bot';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { createPolicyWorld, startServerInProcess, waitInSync, WEBHOOK_SECRET, type PolicyWorld } from '../support/e2e';
import { tempDir } from '../support/git-repo';
import { GitHubDouble } from '../support/github-double';
import { lockdownFile } from '../support/policies';
import { freePort } from '../support/ports';
import { waitFor } from '../support/processes';

jest.setTimeout(60_000);

const NODE = 'e2e-audit-1';
let world: PolicyWorld;
let server: ControlServer;
let envoy: EnvoyProcess;
let envoy2: EnvoyProcess;
let gh: GitHubDouble;
let serveAudit: ServeAudit;
const CP_TOKEN = 'ghs_control_server';
const REPOSITORY = 'acme/policies';

/** GitHub's API through the double (validated against GitHub's description), as the approver's browser sees it. */
async function api<T>(route: string): Promise<T> {
  const r = await fetch(`${gh.url}/repos/${REPOSITORY}${route}`, { headers: { authorization: 'token ghp_alice' } });
  if (r.status !== 200) throw new Error(`${route}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

/** The commit's statuses of `context` as GitHub lists them (oldest first here), as `state: description`. */
async function statuses(commit: string, context = 'portcullis/e2e'): Promise<string[]> {
  const list = await api<{ context: string; state: string; description: string }[]>(`/commits/${commit}/statuses?per_page=100`);
  return list.filter((s) => s.context === context).map((s) => `${s.state}: ${s.description}`).reverse();
}

/** A commit on main through the double: its push webhook tells the control servers. */
function pushCommit(files: Record<string, string | null>, message: string): { commit: string } {
  return { commit: gh.pushCommit('main', files, message, 'alice') };
}

/** The trail and rollout reporter as `portcullis serve` opens them, posting statuses to the double. */
async function openAudit(dir: string, replica?: string): Promise<ServeAudit> {
  const logger = pino({ level: 'silent' });
  const client = await commitStatusClient({ baseUrl: gh.url, auth: { kind: 'token', token: CP_TOKEN } }, REPOSITORY, logger);
  return openServeAudit({ dir, fsync: 'incident', githubStatus: { repository: REPOSITORY, client }, logger, ...(replica ? { replica } : {}) });
}
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
  gh = (await new GitHubDouble({ tokens: { [CP_TOKEN]: 'portcullis[bot]', ghp_alice: 'alice' } }).start()).warm();
  gh.seed(world.basePolicies, 'base policies');
  auditDir = tempDir('portcullis-e2e-audit-');
  serveAudit = await openAudit(auditDir);
  server = await startServerInProcess(world, { repo: gh.git.dir, transformResources: badClusterHook, audit: serveAudit.sink });
  serveAudit.attach(server);
  gh.addWebhook({ url: `${server.http.url}/hooks/git`, secret: WEBHOOK_SECRET, events: ['push'] });
  envoy = startAdsEnvoy({ nodeId: NODE, fleet: 'e2e-delta', xdsPort: server.xdsPort, adminPort: await freePort(), delta: true });
  envoy2 = startAdsEnvoy({ nodeId: 'e2e-audit-2', fleet: 'e2e-delta', xdsPort: server.xdsPort, adminPort: await freePort(), delta: false });
  await envoy.waitReady();
  await envoy2.waitReady();
  await waitInSync(server.http.url, 'e2e-delta');
});

afterAll(async () => {
  envoy2?.proc.killGroup('SIGCONT');
  await envoy?.stop();
  await envoy2?.stop();
  await server?.stop();
  await serveAudit?.close();
  await gh?.stop();
  await world?.close();
});

afterEach(() => gh.assertClean());

test('a merged lockdown: seen → compiled → pushed → ACKed by the node, with commit, version and node; it expires by the clock', async () => {
  const expiresAt = new Date(Date.now() + 8000).toISOString();
  // The second Envoy is frozen (SIGSTOP) while the commit rolls out: GitHub must show 1/2, pending.
  envoy2.proc.killGroup('SIGSTOP');
  const { commit } = pushCommit({ 'policies/lockdown-audit.yaml': lockdownFile('audit-block', [{ type: 'blockNetworks', cidrs: ['192.0.2.77/32'] }], expiresAt) }, 'lockdown: audit-block');
  await waitFor('the commit served', () => server.follower.status().served?.commit === commit);
  const short = commit.slice(0, 7);
  await waitFor('the pending status', async () => (await statuses(commit)).includes(`pending: 1/2 Envoys enforce ${short}`));
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
  await waitFor('the success status', async () => (await statuses(commit)).includes(`success: 2/2 Envoys enforce ${short}`));
  const posted = await statuses(commit);
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
  const { commit } = pushCommit({ 'policies/extra.yaml': 'apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: extra }\nspec:\n  path: { prefix: /extra-1 }\n  service: catalog\n' }, 'touch: a cluster Envoy rejects');
  const nack = await waitFor('xds.nack', async () => (await records()).find((r) => r.kind === 'xds.nack' && r.commit === commit && r.node === NODE), 15_000, 100);
  expect(nack).toMatchObject({ node: NODE, type: 'cluster', environment: 'e2e', resources: expect.arrayContaining(['e2e-rejected']) });
  expect(String(nack.error)).toMatch(/e2e-rejected|connect_timeout|duration/i);
  // Both Envoys reject it: the commit's status is failure with Envoy's own message.
  const lastNack = (await waitFor('both NACKs', () => {
    const nodes = server.status().nodes.filter((n) => n.lastNack?.commit === commit);
    return nodes.length === 2 ? nodes : undefined;
  }))[0]!.lastNack!;
  const failure = await waitFor('the failure status', async () => (await statuses(commit)).find((s) => s.startsWith('failure: 2 Envoys rejected')));
  const description = `2 Envoys rejected ${commit.slice(0, 7)} (cluster): ${lastNack.error}`;
  // GitHub keeps 140 characters of a description.
  expect(failure).toBe(`failure: ${description.length <= 140 ? description : `${description.slice(0, 139)}…`}`);
  injectBadCluster = false;

  const refused = pushCommit({ 'policies/broken.yaml': 'apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: broken }\nspec: { service: nowhere }\n' }, 'broken route');
  const rec = await waitFor('policy.refused', async () => (await records()).find((r) => r.kind === 'policy.refused' && r.commit === refused.commit), 15_000, 100);
  expect(rec).toMatchObject({ stage: 'compile', errorCount: expect.any(Number) });
  expect((rec.errors as { file: string }[])[0]!.file).toContain('policies/broken.yaml');
  expect((await verifyAuditDir(auditDir)).ok).toBe(true);
});

test('two replicas: each reports only its own Envoys under its own context; GitHub combines them', async () => {
  type Replica = { id: string; audit: ServeAudit; server: ControlServer; envoy: EnvoyProcess };
  const replicas: Replica[] = [];
  try {
    for (const id of ['cp-1', 'cp-2']) {
      const audit = await openAudit(tempDir(`portcullis-e2e-audit-${id}-`), id);
      const s = await startServerInProcess(world, { repo: gh.git.dir, audit: audit.sink });
      audit.attach(s);
      gh.addWebhook({ url: `${s.http.url}/hooks/git`, secret: WEBHOOK_SECRET, events: ['push'] });
      replicas.push({ id, audit, server: s, envoy: startAdsEnvoy({ nodeId: `e2e-${id}-envoy`, fleet: 'e2e-delta', xdsPort: s.xdsPort, adminPort: await freePort(), delta: true }) });
    }
    // HEAD is the refused commit: this one repairs it, and all three servers serve it.
    const { commit } = pushCommit({ 'policies/broken.yaml': null, 'policies/extra.yaml': 'apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: extra }\nspec:\n  path: { prefix: /extra-2 }\n  service: catalog\n' }, 'replicas: repair');
    const short = commit.slice(0, 7);
    await Promise.all(replicas.map((r) => r.envoy.waitReady()));
    type Combined = { state: string; statuses: { context: string; state: string; description: string }[] };
    const latest = (c: Combined) => Object.fromEntries(c.statuses.map((x) => [x.context, `${x.state}: ${x.description}`]));
    const want = { 'portcullis/e2e': `success: 2/2 Envoys enforce ${short}`, 'portcullis/e2e (cp-1)': `success: 1/1 Envoys enforce ${short}`, 'portcullis/e2e (cp-2)': `success: 1/1 Envoys enforce ${short}` };
    // GitHub's combined status: the latest per context. The replicas post nothing for e2e-sotw (none of their Envoys).
    const e2eContexts = (c: Combined) => Object.fromEntries(Object.entries(latest(c)).filter(([k]) => !k.startsWith('portcullis/e2e-sotw')).sort());
    const combined = await waitFor('every e2e context success', async () => {
      const c = await api<Combined>(`/commits/${commit}/status`);
      return JSON.stringify(e2eContexts(c)) === JSON.stringify(Object.fromEntries(Object.entries(want).sort())) ? c : undefined;
    }, 20_000, 200).catch(async (e: unknown) => {
      throw new Error(`${String(e)}: ${JSON.stringify(latest(await api<Combined>(`/commits/${commit}/status`)))}`);
    });
    expect(Object.keys(latest(combined)).filter((k) => /\((cp-1|cp-2)\)$/.test(k)).sort()).toEqual(['portcullis/e2e (cp-1)', 'portcullis/e2e (cp-2)']);
    // No replica ever counted another's Envoys.
    for (const r of replicas) expect((await statuses(commit, `portcullis/e2e (${r.id})`)).every((s) => /[01]\/1 Envoys/.test(s))).toBe(true);
  } finally {
    for (const r of replicas) {
      await r.envoy.stop();
      await r.server.stop();
      await r.audit.close();
    }
  }
});
