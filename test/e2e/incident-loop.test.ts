/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * THE incident loop, end to end, with real processes (issue 10 "Done when", first bullet, and issue
 * 11's trail check): `portcullis serve --bot` (control server + monitor + lockdown bot in one
 * process, run through its CLI entry) follows the GitHub double's bare repository; two real Envoys
 * (delta and SotW) stream access logs to the monitor; a real Alertmanager delivers the monitor's
 * alert to the bot and a real Prometheus scrapes. A bounded credential-stuffing burst from one /24 →
 * exactly one lockdown PR with the evidence and a compiling Lockdown → the test approves and merges
 * it through the API → the double's signed push webhook reaches the control server → Envoy answers
 * 403 to that /24 while other clients keep 200 → at expiry Envoy is back to normal without a commit
 * → the housekeeping PR appears. Then the audit trail: every record in order, linked by incident
 * key, PR and commit; `audit show --incident` prints the timeline; `audit verify` passes.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { queryTrail, type StoredRecord } from '../../audit';
import { runAuditShow, runAuditVerify } from '../../cli/commands/audit';
import { runServe } from '../../cli/commands/serve';
import { compileSources } from '../../compiler';
import { monitoringConfig } from '../../compiler/monitor/monitoring-config';
import { captureCli } from '../support/cli';
import { call, createPolicyWorld, waitInSync, WEBHOOK_SECRET, type PolicyWorld } from '../support/e2e';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { GitHubDouble } from '../support/github-double';
import { startAlertmanager, startPrometheus, writeConfigs } from '../support/monitoring';
import { freePorts } from '../support/ports';
import { waitFor, type ManagedProcess } from '../support/processes';
import { compiledOrThrow, environmentOf, stuffingTrigger } from '../support/policy-fixtures';

jest.setTimeout(150_000);

/** How long the lockdown lasts: the shortest a Trigger allows (1 minute), so the test sees it end. */
const LOCKDOWN_SECONDS = 60;
const TRIGGER = stuffingTrigger({
  name: 'orders-stuffing',
  description: 'Failed authentication on the orders API from one network',
  environments: ['e2e'],
  route: 'orders',
  rate: '{ above: 20, window: 10s }',
  duration: '1m',
  reviewers: ['alice'],
});
const TRIGGER_FILE = 'policies/triggers/orders-stuffing.yaml';
const ATTACK_NET = '198.51.100.0/24';
const INCIDENT = `orders-stuffing/e2e/${ATTACK_NET}`;
const NODES = ['e2e-loop-delta', 'e2e-loop-sotw'];
const BOT_TOKEN = 'ghs_e2e_loop_bot';
const HOOK_TOKEN = 'e2e-loop-alertmanager-token';
const OWNER_REPO = 'acme/policies';

let world: PolicyWorld;
let gh: GitHubDouble;
let envoys: EnvoyProcess[] = [];
let alertmanager: ManagedProcess | undefined;
let prometheus: ManagedProcess | undefined;
const signals = new EventEmitter();
let serveExit: Promise<number> | undefined;
const serveCli = captureCli();
let httpUrl = '';
let botUrl = '';
let amUrl = '';
let auditDir = '';

/** GitHub's API through the double, as the approver's client calls it. */
async function github(method: string, route: string, body?: unknown): Promise<any> {
  const r = await fetch(`${gh.url}/repos/${OWNER_REPO}${route}`, { method, headers: { authorization: 'token ghp_alice', 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${route}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The environment's IR with the Trigger, for `portcullis monitoring-config`'s files. */
function e2eEnvironment(files: Record<string, string>) {
  return environmentOf(compiledOrThrow(compileSources(Object.entries(files).map(([p, text]) => ({ path: p, text })), new Date())), 'e2e');
}

beforeAll(async () => {
  world = await createPolicyWorld();
  gh = (await new GitHubDouble({ tokens: { [BOT_TOKEN]: 'portcullis-bot[bot]', ghp_alice: 'alice' } }).start()).warm();
  const files = { ...world.basePolicies, [TRIGGER_FILE]: TRIGGER };
  gh.seed(files, 'base policies and the orders-stuffing trigger');
  const [xdsPort, httpPort, botPort, amPort, promPort, admin1, admin2] = (await freePorts(7)) as [number, number, number, number, number, number, number];
  const secrets = path.join(world.dir, 'secrets');
  mkdirSync(secrets, { recursive: true });
  const secret = (name: string, value: string) => (writeFileSync(path.join(secrets, name), `${value}\n`), path.join(secrets, name));
  const workDir = path.join(world.dir, 'serve');
  auditDir = path.join(workDir, 'audit');
  httpUrl = `http://127.0.0.1:${httpPort}`;
  botUrl = `http://127.0.0.1:${botPort}`;
  amUrl = `http://127.0.0.1:${amPort}`;
  serveExit = runServe(
    serveCli.ctx,
    {
      repo: gh.git.dir,
      pollInterval: '0', // webhook-driven: the double's push webhook is the only news of a merge
      xdsPort,
      httpPort,
      workDir,
      webhookSecretFile: secret('push-webhook', WEBHOOK_SECRET),
      envoyValidate: false,
      logLevel: process.env.LOOP_LOG ? 'debug' : 'warn',
      alertmanagerUrl: `http://127.0.0.1:${amPort}`,
      prometheusUrl: `http://127.0.0.1:${promPort}`,
      githubStatusRepo: OWNER_REPO,
      bot: true,
      githubRepo: OWNER_REPO,
      githubUrl: gh.url,
      githubTokenFile: secret('github-token', BOT_TOKEN),
      hookTokenFile: secret('alertmanager-token', HOOK_TOKEN),
      botPort,
      botHousekeepingInterval: '3s',
      cooldown: '1h',
    },
    signals,
  );
  void serveExit.then((code) => code !== 0 && process.stderr.write(`portcullis serve exited ${code}: ${serveCli.err()}\n`));
  await waitFor('portcullis serve --bot listening', async () => {
    const [a, b] = await Promise.all([fetch(`${httpUrl}/readyz`).catch(() => null), fetch(`${botUrl}/metrics`).catch(() => null)]);
    return a?.status === 200 && b !== null;
  }, 30_000, 100);
  gh.addWebhook({ url: `${httpUrl}/hooks/git`, secret: WEBHOOK_SECRET, events: ['push'] });
  // The bot's hook (pull_request, pull_request_review → pr.merged, review.submitted) has the same secret.
  gh.addWebhook({ url: `${botUrl}/hooks/github`, secret: WEBHOOK_SECRET, events: ['pull_request', 'pull_request_review', 'issue_comment'] });

  envoys = [
    startAdsEnvoy({ nodeId: NODES[0]!, fleet: 'e2e-delta', xdsPort, adminPort: admin1, delta: true, logLevel: 'warn' }),
    startAdsEnvoy({ nodeId: NODES[1]!, fleet: 'e2e-delta', xdsPort, adminPort: admin2, delta: false, logLevel: 'warn' }),
  ];
  const dir = path.join(world.dir, 'monitoring');
  mkdirSync(dir, { recursive: true });
  writeConfigs(
    dir,
    monitoringConfig(e2eEnvironment(files), {
      portcullis: httpUrl.replace(/^http:\/\//, ''),
      envoys: [`127.0.0.1:${admin1}`, `127.0.0.1:${admin2}`],
      alertmanager: `127.0.0.1:${amPort}`,
      webhookUrl: `${botUrl}/hooks/alertmanager`,
      webhookAuth: { kind: 'bearer', credentialsFile: secret('alertmanager-token-for-am', HOOK_TOKEN) },
      scrapeIntervalMs: 1000,
      evaluationIntervalMs: 1000,
      groupWaitMs: 500,
      groupIntervalMs: 1000,
      repeatIntervalMs: 3_600_000,
    }),
  );
  [alertmanager, prometheus] = await Promise.all([startAlertmanager(dir, amPort), startPrometheus(dir, promPort), ...envoys.map((e) => e.waitReady())]);
  await waitInSync(httpUrl, 'e2e-delta');
});

afterAll(async () => {
  signals.emit('SIGTERM');
  await serveExit;
  await Promise.all([...envoys.map((e) => e.stop()), alertmanager?.stop(), prometheus?.stop()]);
  await gh?.stop();
  await world?.close();
});

afterEach(() => gh.assertClean());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lockdownPulls = () => [...gh.pulls.values()].filter((p) => p.head.startsWith('portcullis/lockdown/'));
/** A caller with a valid token from one of 40 other networks. */
const normal = async (i: number, token: string) => (await call(world.ports.listener, '/orders', { token, xff: `10.${i % 40}.${i % 7}.${(i % 200) + 1}` })).status;
/** A bad login from the attacking /24. */
const attack = async (i: number) => (await call(world.ports.listener, '/orders', { token: 'not-a-jwt', xff: `198.51.100.${(i % 50) + 1}` })).status;

/** The sum of a counter's series (those whose labels contain `labels`) on a Prometheus /metrics page. */
async function counterTotal(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(labels))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

/** The records of kind `kind` in `records` matching `fields`. */
const where = (records: readonly StoredRecord[], kind: string, fields: Record<string, unknown> = {}) => records.filter((r) => r.kind === kind && Object.entries(fields).every(([k, v]) => r[k] === v));

/** Timings the test prints, in ms since the epoch. */
const at = { firstAnomalous: 0, prOpened: 0, alertReceived: 0, merge: 0, mergeAnswered: 0, enforcing: 0, backToNormal: 0 };
let pr: { number: number; headSha: string; body: string | null };
let mergeSha = '';
let lockdown: { name: string; file: string; expiresAt: string };

test('a credential-stuffing burst becomes one lockdown PR; merged, Envoy enforces it; it ends by itself; housekeeping follows', async () => {
  const token = world.token({ roles: ['reader'] });
  for (let i = 0; i < 20; i++) expect(await normal(i, token)).toBe(200);

  // The burst: bad logins from one /24, interleaved with normal traffic, bounded in count and time.
  at.firstAnomalous = Date.now();
  const seen = new Map<number, number>();
  for (let i = 0; i < 800 && lockdownPulls().length === 0 && Date.now() - at.firstAnomalous < 45_000; i++) {
    const s = await attack(i);
    seen.set(s, (seen.get(s) ?? 0) + 1);
    if (i % 2 === 0) expect(await normal(i, token)).toBe(200);
    await sleep(20);
  }
  expect([...seen.keys()]).toEqual([401]);
  const open = await waitFor('the lockdown PR', () => lockdownPulls()[0], 15_000, 50);
  const created = gh.calls.find((c) => c.operation === 'pulls/create' && c.status === 201)!;
  at.prOpened = created.at + created.ms;
  // A late duplicate would come from a notification still in flight: wait until the bot has answered
  // every webhook notification Alertmanager has sent so far.
  await waitFor('the bot to answer every Alertmanager notification', async () => {
    const [sent, answered] = await Promise.all([counterTotal(`${amUrl}/metrics`, 'alertmanager_notifications_total', 'integration="webhook"'), counterTotal(`${botUrl}/metrics`, 'portcullis_bot_alert_deliveries_total')]);
    return sent > 0 && answered >= sent;
  }, 15_000, 100);
  expect(lockdownPulls()).toHaveLength(1);
  pr = gh.pulls.get(open.number)!;
  expect(gh.git.refs('refs/heads/portcullis/lockdown/')).toHaveLength(1);

  // The evidence for the approver, and a Lockdown that compiles with the base.
  for (const text of [ATTACK_NET, 'orders-stuffing', '/portcullis lift']) expect(pr.body ?? '').toContain(text);
  const tree = gh.git.tree(pr.headSha, true).filter((e) => e.type === 'blob' && e.path.startsWith('policies/'));
  const headFiles = tree.map((e) => ({ path: e.path, text: gh.git.readBlob(e.sha).toString() }));
  const file = headFiles.find((f) => f.path.startsWith('policies/lockdowns/'))!;
  const doc = parse(file.text) as any;
  expect(doc.kind).toBe('Lockdown');
  expect(doc.spec).toMatchObject({ environments: ['e2e'], owner: '@oncall', actions: [{ type: 'blockNetworks', cidrs: [ATTACK_NET], routes: ['orders'] }] });
  expect(Date.parse(doc.spec.expiresAt) - Date.parse(doc.spec.createdAt)).toBe(LOCKDOWN_SECONDS * 1000);
  expect(compileSources(headFiles, new Date(doc.spec.createdAt)).ok).toBe(true);
  lockdown = { name: doc.metadata.name, file: file.path, expiresAt: doc.spec.expiresAt };

  // The approver, asked for a review once the bot is done with the PR, approves and merges through the API.
  await waitFor('alice asked to review', () => gh.pulls.get(pr.number)!.reviewers.includes('alice'), 15_000, 50);
  await waitFor('pr.opened in the trail', async () => where(await queryTrail(auditDir, { since: new Date(at.firstAnomalous) }), 'pr.opened', { pr: pr.number }).length > 0, 5000, 50);
  await github('POST', `/pulls/${pr.number}/reviews`, { event: 'APPROVE', body: 'Blocking the stuffing network.', commit_id: pr.headSha });
  at.merge = Date.now();
  mergeSha = (await github('PUT', `/pulls/${pr.number}/merge`, { merge_method: 'merge' })).sha;
  at.mergeAnswered = Date.now();

  // The push webhook reaches the control server: 403 for the /24 on every Envoy, 200 for the others.
  at.enforcing = await waitFor('403 for the attacking /24', async () => ((await attack(0)) === 403 ? Date.now() : undefined), 15_000, 20);
  const status = await waitInSync(httpUrl, 'e2e-delta');
  expect(status.policy.served?.commit).toBe(mergeSha);
  const during = await Promise.all(Array.from({ length: 20 }, (_, i) => attack(i)));
  expect(during).toEqual(Array(20).fill(403));
  const others = await Promise.all(Array.from({ length: 20 }, (_, i) => normal(i, token)));
  expect(others).toEqual(Array(20).fill(200));

  // At expiry, back to normal without a commit (the attack gets its 401s again; no new commit on main).
  const expiry = Date.parse(lockdown.expiresAt);
  at.backToNormal = await waitFor('the lockdown to end by itself', async () => ((await attack(1)) === 401 ? Date.now() : undefined), expiry - Date.now() + 15_000, 250);
  expect(at.backToNormal).toBeGreaterThanOrEqual(expiry);
  expect(gh.git.resolve('heads/main')).toBe(mergeSha);
  expect(await normal(1, token)).toBe(200);

  // The bot then proposes removing the expired file.
  const housekeeping = await waitFor('the housekeeping PR', () => [...gh.pulls.values()].find((p) => p.head === 'portcullis/housekeeping'), 20_000, 200);
  expect(housekeeping.state).toBe('open');
  expect(gh.git.fileAt(housekeeping.headSha, lockdown.file)).toBeNull();
  expect(gh.git.fileAt(mergeSha, lockdown.file)).not.toBeNull();
  expect(lockdownPulls()).toHaveLength(1);

  const s = (a: number, b: number) => `${((b - a) / 1000).toFixed(2)} s`;
  const received = (await queryTrail(auditDir, { since: new Date(at.firstAnomalous) })).find((r) => r.kind === 'alert.received');
  at.alertReceived = received ? Date.parse(received.time) : NaN;
  console.log(
    [
      `first anomalous request → PR opened: ${s(at.firstAnomalous, at.prOpened)}`,
      `alert received → PR opened: ${s(at.alertReceived, at.prOpened)} (target ≤ 2 s)`,
      `merge → Envoy enforcing: ${s(at.merge, at.enforcing)} (target ≤ 1 s)`,
      `expiry → Envoy back to normal: ${s(expiry, at.backToNormal)}`,
      // Where alert → PR goes: the bot's GitHub calls (ms after the alert reached it, and how long the double took).
      `GitHub calls alert → PR: ${gh.calls.filter((c) => c.at >= at.alertReceived && c.at <= at.prOpened).map((c) => `${c.operation}@+${c.at - at.alertReceived}(${c.ms})`).join(' ')}`,
    ].join('\n'),
  );
});

test('the trail: alert → incident → PR → review → merge → compiled → pushed → ACKed per node → started → expired, linked and verified', async () => {
  expect(mergeSha).not.toBe('');
  await waitFor('lockdown.expired', async () => where(await queryTrail(auditDir, { since: new Date(0) }), 'lockdown.expired', { lockdown: lockdown.name }).length > 0, 10_000, 200);
  const all = await queryTrail(auditDir, { since: new Date(0) });
  const first = (kind: string, fields: Record<string, unknown> = {}) => {
    const r = where(all, kind, fields)[0];
    if (!r) throw new Error(`no ${kind} ${JSON.stringify(fields)} in the trail:\n${all.map((x) => `${x.kind} ${x.incident ?? ''} ${x.commit ?? ''}`).join('\n')}`);
    return all.indexOf(r);
  };
  // The bot's records, linked by the incident key and the PR.
  const alertAt = first('alert.received', { incident: INCIDENT });
  const prAt = first('pr.opened', { incident: INCIDENT, pr: pr.number });
  expect(alertAt).toBeLessThan(prAt);
  // The control server's records, linked by the merge commit; the lockdown's by its name. The
  // publication pushes to the streams before the follower records the commit as compiled (its
  // versions are the publication's), so policy.seen → xds.pushed → xds.ack, and policy.compiled.
  const seenAt = first('policy.seen', { commit: mergeSha, trigger: 'webhook' });
  const compiledAt = first('policy.compiled', { commit: mergeSha, trigger: 'webhook' });
  expect(prAt).toBeLessThan(seenAt);
  const ackAts = NODES.map((node) => {
    const pushedAt = first('xds.pushed', { commit: mergeSha, node });
    const ackAt = first('xds.ack', { commit: mergeSha, node });
    expect(seenAt).toBeLessThan(pushedAt);
    expect(pushedAt).toBeLessThan(ackAt);
    return ackAt;
  });
  const startedAt = first('lockdown.started', { lockdown: lockdown.name, commit: mergeSha });
  const expiredAt = first('lockdown.expired', { lockdown: lockdown.name });
  const expired = all[expiredAt]!;
  expect(expiredAt).toBeGreaterThan(Math.max(startedAt, compiledAt, ...ackAts));
  expect(expired).toMatchObject({ reason: 'expired', environment: 'e2e' });
  expect(Date.parse(expired.time)).toBeGreaterThanOrEqual(Date.parse(lockdown.expiresAt));

  // Where merge → enforcing goes (the trail's clock is the control server's).
  const t = (kind: string, fields: Record<string, unknown>) => Date.parse(all[first(kind, fields)]!.time);
  const lastAck = Math.max(...NODES.map((node) => t('xds.ack', { commit: mergeSha, node })));
  console.log(`merge → enforcing: merge call ${at.mergeAnswered - at.merge} ms, → policy.seen ${t('policy.seen', { commit: mergeSha }) - at.merge} ms, → policy.compiled ${t('policy.compiled', { commit: mergeSha }) - at.merge} ms, → last xds.ack ${lastAck - at.merge} ms, → first 403 seen ${at.enforcing - at.merge} ms`);

  const verify = captureCli();
  expect(await runAuditVerify(verify.ctx, { auditDir })).toBe(0);

  // The incident's own timeline has all of it, in order: the bot's records by incident key and PR,
  // the rollout through the PR's merge commit (pr.merged, which the bot records from GitHub's
  // pull_request webhook, links it; review.submitted comes from pull_request_review).
  const timeline = await queryTrail(auditDir, { incident: INCIDENT });
  const kinds = timeline.map((r) => r.kind);
  const inOrder = (order: string[]) => {
    for (const k of order) expect(kinds).toContain(k);
    const at = order.map((k) => kinds.indexOf(k));
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  };
  // The bot's records in order; the control server's after the PR (the merge's two webhooks race: pr.merged and the rollout are not ordered).
  inOrder(['alert.received', 'incident.opened', 'pr.opened', 'review.submitted', 'pr.merged']);
  inOrder(['pr.opened', 'policy.seen', 'xds.pushed', 'xds.ack', 'lockdown.expired']);
  expect(kinds).toContain('policy.compiled');
  expect(kinds).toContain('lockdown.started');
  expect(where(timeline, 'review.submitted', { pr: pr.number })[0]).toMatchObject({ actor: 'alice', state: 'approved', commit: pr.headSha });
  expect(where(timeline, 'pr.merged', { pr: pr.number })[0]).toMatchObject({ commit: mergeSha, actor: 'alice' });
  expect(new Set(where(timeline, 'xds.ack', { commit: mergeSha }).map((r) => r.node))).toEqual(new Set(NODES));

  const show = captureCli();
  expect(await runAuditShow(show.ctx, { auditDir, incident: INCIDENT })).toBe(0);
  console.log(`portcullis audit show --incident ${INCIDENT}\n${show.out()}`);
  expect(show.out()).toContain(`#${pr.number}`);
  expect(show.out()).toMatch(/approved by @alice.*merged/s);
  // The summary line: the Envoys enforced the merge before the lockdown expired (not at the expiry's re-push).
  expect(show.out().split('\n')[0]).toMatch(/merged [\d:]+ → .*2\/2 e2e Envoys [\d:]+ → .*expired [\d:]+/);
});
