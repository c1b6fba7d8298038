/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The bot's side of GitHub webhooks and the incident's ending, against the GitHub double (signed
 * webhooks, GitHub's OpenAPI description as judge) and a real monitor fed access-log entries:
 * the PR carries what the lockdown would have refused, a `portcullis` status and the review request;
 * approve → `review.submitted`, merge → `pr.merged` and the deploy dispatched (the lockdown changes
 * prod's WAF rules); `/portcullis lift` only from a writer opens the lift PR; the resolved alert
 * comments with what was refused; bad signatures and duplicate deliveries change nothing.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { AuditWriter, buildTimeline, queryTrail, renderMarkdown, teeSink } from '../../audit';
import { checkRecord } from '../../audit/kinds';
import { accessEntry } from '../../bench/monitor/als-encode';
import { compileSources } from '../../compiler';
import type { BotService } from '../../bot/service';
import { branchFor, fileFor } from '../../bot/incident';
import { monitorRoutes } from '../../monitor/http-api';
import { createMonitor } from '../../monitor/monitor';
import { GitHubDouble } from '../support/github-double';
import { collaboratorPermissions, dispatchesOf } from '../support/github-double/handlers-actions';
import { alertPayload, BOT_TOKEN, deliver, repositoryPolicies, startTestBot, TRIGGER_FILE, triggerYaml } from '../support/bot-fixtures';
import { tempDir } from '../support/git-repo';

jest.setTimeout(180_000);

const SECRET = 'webhook-secret-for-tests';
const KEY = '203.0.113.0/24';
const INCIDENT = `login-stuffing/prod/${KEY}`;
const DEPLOY = 'name: Deploy\non:\n  workflow_dispatch:\njobs: {}\n';
const CODEOWNERS = '*  @acme/platform\n/policies/lockdowns/  @bob @acme/oncall\n';
const NO_REVIEWERS_FILE = 'policies/triggers/orders-abuse.yaml';
const NO_REVIEWERS = triggerYaml()
  .replace('name: login-stuffing', 'name: orders-abuse')
  .replace('    reviewers: [alice]\n', '')
  .replace('routes: [accounts-login] }', 'routes: [orders-create] }')
  .replace('routes: [accounts-login]\n', 'routes: [orders-create]\n');

let gh: GitHubDouble;
let bot: BotService;
let monitorServer: Server;
let monitor: ReturnType<typeof createMonitor>;
let writer: AuditWriter;
const auditDir = tempDir('portcullis-bot-audit-');
const workDir = tempDir('portcullis-bot-work-');
let botOptions: Parameters<typeof startTestBot>[1];
const records: { kind: string; fields: Record<string, unknown> }[] = [];
const audit = {
  async record(kind: string, fields: Record<string, unknown>) {
    records.push({ kind, fields });
  },
};
const recorded = (kind: string) => records.filter((r) => r.kind === kind);

function api(path: string, login: string, method = 'GET', body?: unknown): Promise<Response> {
  return fetch(`${gh.url}/repos/acme/policies${path}`, { method, headers: { authorization: `token ghp_${login}` }, ...(body ? { body: JSON.stringify(body) } : {}) });
}

async function startMonitor(files: Record<string, string>): Promise<string> {
  const ir = compileSources(Object.entries(files).map(([path, text]) => ({ path, text })), new Date());
  if (!ir.ok) throw new Error('fixture policies do not compile');
  monitor = createMonitor({ registry: new Registry(), logger: pino({ level: 'silent' }), alertmanager: null });
  monitor.setPolicy(ir.value);
  const now = Date.now();
  // The attack: 40 failed logins from 20 addresses of the /24, and 5 logins with a token from one of them.
  const attack = Array.from({ length: 40 }, (_, i) => accessEntry({ startMs: now - 2000, route: 'accounts-login', status: 401, clientIp: `203.0.113.${(i % 20) + 1}` }));
  const withToken = Array.from({ length: 5 }, () => accessEntry({ startMs: now - 2000, route: 'accounts-login', status: 200, clientIp: '203.0.113.1', sub: 'user-1', jti: 'jti-1' }));
  const others = Array.from({ length: 30 }, (_, i) => accessEntry({ startMs: now - 2000, route: 'accounts-login', status: 200, clientIp: `198.18.${i}.9` }));
  monitor.ingest('edge-prod', 'portcullis/prod', [...attack, ...withToken, ...others]);
  const routes = monitorRoutes(monitor, 300_000);
  monitorServer = createServer((req, res) => {
    if (!routes(req, res, new URL(req.url ?? '/', 'http://monitor'))) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => monitorServer.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(monitorServer.address() as AddressInfo).port}`;
}

/** The double's only webhook goes to the (possibly restarted) bot. */
function hookToBot(): void {
  gh.webhooks.length = 0;
  gh.addWebhook({ url: `${bot.url}/hooks/github`, secret: SECRET });
}

beforeAll(async () => {
  gh = await new GitHubDouble({ tokens: { [BOT_TOKEN]: 'portcullis-bot[bot]', ghp_alice: 'alice', ghp_mallory: 'mallory' } }).start();
  collaboratorPermissions(gh).set('mallory', 'read');
  const files = { ...repositoryPolicies(), [TRIGGER_FILE]: triggerYaml() };
  gh.seed({ ...files, '.github/workflows/deploy.yml': DEPLOY, '.github/CODEOWNERS': CODEOWNERS, [NO_REVIEWERS_FILE]: NO_REVIEWERS });
  const monitorUrl = await startMonitor(files);
  writer = await AuditWriter.open({ dir: auditDir, stream: 'bot', fsync: 'never' });
  const timeline = async (incident: string) => {
    const trail = await queryTrail(auditDir, { incident });
    return trail.length ? renderMarkdown(buildTimeline(trail).steps, `incident ${incident}`) : null;
  };
  botOptions = { workDir, audit: teeSink(writer, audit), timeline, githubWebhookSecret: SECRET, monitor: { url: monitorUrl }, deployWorkflow: 'deploy.yml', cloudIntervalMs: 0 };
  bot = await startTestBot(gh, botOptions);
  hookToBot();
}, 60_000);

afterAll(async () => {
  await bot?.stop();
  await writer?.close();
  await gh?.stop();
  await new Promise((resolve) => monitorServer?.close(resolve));
});

afterEach(async () => {
  await gh.settled();
  gh.assertClean();
  // Every record the bot wrote is one the audit trail accepts.
  for (const r of records) expect([r.kind, checkRecord(r.kind, r.fields)]).toEqual([r.kind, []]);
});

const pr = () => [...gh.pulls.values()].find((p) => p.head === branchFor(INCIDENT))!;

test('the PR shows what the lockdown would have refused (from the monitor), asks the reviewers and carries the portcullis status', async () => {
  const res = await deliver(bot, alertPayload({ key: KEY }));
  expect(res.body.outcomes[0]).toMatchObject({ action: 'open' });
  const p = pr();
  expect(p.body).toContain('### What it would have refused');
  expect(p.body).toContain(`\`${KEY}\` over the last 1m: **45 requests from 20 clients** would have been refused (answered then: 200: 5, 401: 40).`);
  // The monitor bounds token-carrying clients by min(clients, requests): 5 here, though one address sent them.
  expect(p.body).toContain('5 of them (from 1 client) carried a valid token');
  expect(p.body).toContain('| `accounts-login` | 45 |');
  const status = gh.statuses.find((s) => s.sha === p.headSha && s.context === 'portcullis');
  expect(status).toMatchObject({ state: 'success' });
  expect(status!.description).toMatch(/^compiles with main@[0-9a-f]{7}; 1 action in prod until /);
  const ids = { incident: INCIDENT, fingerprint: `fp-${KEY}`, pr: p.number, environment: 'prod' };
  expect(recorded('pr.opened')).toEqual([{ kind: 'pr.opened', fields: expect.objectContaining({ ...ids, commit: p.headSha }) }]);
  expect(recorded('review.requested')).toEqual([{ kind: 'review.requested', fields: expect.objectContaining({ ...ids, reviewers: ['alice'], source: 'trigger' }) }]);
});

test('approve → review.submitted; merge → pr.merged and the deploy dispatched (the lockdown changes prod WAF rules)', async () => {
  const p = pr();
  expect((await api(`/pulls/${p.number}/reviews`, 'alice', 'POST', { event: 'APPROVE' })).status).toBe(200);
  await gh.settled();
  expect(recorded('review.submitted')).toEqual([
    { kind: 'review.submitted', fields: expect.objectContaining({ incident: INCIDENT, fingerprint: `fp-${KEY}`, pr: p.number, environment: 'prod', actor: 'alice', state: 'approved', commit: p.headSha }) },
  ]);
  const merge = await api(`/pulls/${p.number}/merge`, 'alice', 'PUT', {});
  expect(merge.status).toBe(200);
  const { sha } = (await merge.json()) as { sha: string };
  await gh.settled();
  expect(recorded('pr.merged')).toEqual([{ kind: 'pr.merged', fields: expect.objectContaining({ incident: INCIDENT, pr: p.number, commit: sha, actor: 'alice', environment: 'prod' }) }]);
  expect(dispatchesOf(gh)).toEqual([expect.objectContaining({ workflow: 'deploy.yml', ref: 'main', login: 'portcullis-bot[bot]' })]);
  // Scanning again dispatches nothing more: the start was dispatched once.
  expect((await bot.cloud!.scan(new Date())).dispatched).toEqual([]);
});

test('a bad signature is 401 and nothing else; a delivery already handled is not handled twice', async () => {
  const [delivery] = gh.deliveries.filter((d) => d.event === 'pull_request_review');
  const body = JSON.stringify(delivery!.payload);
  const post = (signature: string | null, id: string) =>
    fetch(`${bot.url}/hooks/github`, { method: 'POST', body, headers: { 'x-github-event': 'pull_request_review', 'x-github-delivery': id, ...(signature ? { 'x-hub-signature-256': signature } : {}) } });
  const before = records.length;
  expect((await post(null, 'd-1')).status).toBe(401);
  expect((await post(`sha256=${createHmac('sha256', 'wrong').update(body).digest('hex')}`, 'd-2')).status).toBe(401);
  const good = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const again = await post(good, delivery!.id);
  expect(again.status).toBe(200);
  expect(((await again.json()) as any).result).toBe('duplicate');
  expect(records.length).toBe(before);
  // Concurrent copies of one new delivery: handled once.
  const copies = await Promise.all(Array.from({ length: 5 }, () => post(good, 'redelivery-1')));
  expect(copies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
  expect(records.length).toBe(before + 1);
  // A restarted bot (same work dir) still knows the deliveries it handled.
  await bot.stop();
  bot = await startTestBot(gh, botOptions);
  hookToBot();
  const replayed = await post(good, 'redelivery-1');
  expect(((await replayed.json()) as any).result).toBe('duplicate');
  expect(records.length).toBe(before + 1);
});

test('/portcullis lift: refused without write permission; from a writer it opens the lift PR, and its merge dispatches the deploy again', async () => {
  const p = pr();
  const comments = () => [...gh.comments.values()].filter((c) => c.issue === p.number && c.user === 'portcullis-bot[bot]');
  expect((await api(`/issues/${p.number}/comments`, 'mallory', 'POST', { body: '/portcullis lift' })).status).toBe(201);
  await gh.settled();
  expect(comments().at(-1)!.body).toMatch(/needs write permission on the repository \(you have read\)/);
  expect([...gh.pulls.values()].filter((x) => x.head.startsWith('portcullis/lift/'))).toEqual([]);

  expect((await api(`/issues/${p.number}/comments`, 'alice', 'POST', { body: 'Attack over.\n/portcullis lift' })).status).toBe(201);
  await gh.settled();
  const lift = [...gh.pulls.values()].find((x) => x.head.startsWith('portcullis/lift/'))!;
  expect(lift).toBeDefined();
  expect(comments().at(-1)!.body).toContain(`the lift is proposed in #${lift.number}`);
  const lifted = parse(gh.git.fileAt(lift.headSha, fileFor(INCIDENT))!.content.toString()) as any;
  expect(Date.parse(lifted.spec.expiresAt)).toBeLessThanOrEqual(Date.now());
  expect(Date.now() - Date.parse(lifted.spec.expiresAt)).toBeLessThan(60_000);
  expect(recorded('pr.opened').at(-1)!.fields).toMatchObject({ pr: lift.number, actor: 'alice', lifts: p.number, incident: INCIDENT });

  expect((await api(`/pulls/${lift.number}/merge`, 'alice', 'PUT', {})).status).toBe(200);
  await gh.settled();
  // The lockdown's end (expiresAt = the lift) is an edge of the cloud window: a second dispatch.
  expect(dispatchesOf(gh).length).toBe(2);
});

test('once the lifted lockdown has ended, housekeeping appends the incident\'s audit timeline to its PR, once', async () => {
  const p = pr();
  const first = await bot.housekeep();
  expect(first.expired).toContain(fileFor(INCIDENT));
  expect(first.timelines).toEqual([p.number]);
  const trail = [...gh.comments.values()].filter((c) => c.issue === p.number && /from the audit trail/.test(c.body));
  expect(trail.length).toBe(1);
  for (const text of [`### Audit trail: incident ${INCIDENT}`, `PR #${p.number} opened: Lockdown prod: login-stuffing`, `PR #${p.number} approved by @alice (reviewed ${p.headSha.slice(0, 7)})`, `PR #${p.number} merged by @alice`]) {
    expect(trail[0]!.body).toContain(text);
  }
  expect((await bot.housekeep()).timelines).toEqual([]);
});

test('the alert resolving after the merge comments once, with what the lockdown refused', async () => {
  const p = pr();
  // What Envoy refused since the merge: 12 requests of the /24 answered 403 by the lockdown.
  monitor.ingest('edge-prod', 'portcullis/prod', Array.from({ length: 12 }, (_, i) => accessEntry({ startMs: Date.now() - 100, route: 'accounts-login', status: 403, details: 'rbac_access_denied_matched_policy[lockdown]', clientIp: `203.0.113.${i + 1}` })));
  await deliver(bot, alertPayload({ key: KEY, status: 'resolved' }));
  await deliver(bot, alertPayload({ key: KEY, status: 'resolved' }));
  const resolved = [...gh.comments.values()].filter((c) => c.issue === p.number && /resolved at/.test(c.body));
  expect(resolved.length).toBe(1);
  expect(resolved[0]!.body).toMatch(/While the lockdown was in force \(last \d+[sm]\): \d+ requests from \d+ clients of `203\.0\.113\.0\/24` \(.*12×403.*\)/);
});

test('a Trigger without reviewers: the CODEOWNERS of the lockdown file are asked', async () => {
  const res = await deliver(bot, alertPayload({ key: '192.0.2.0/24', trigger: 'orders-abuse' }));
  expect(res.body.outcomes[0]).toMatchObject({ action: 'open' });
  const p = gh.pulls.get(res.body.outcomes[0].pull)!;
  expect([p.reviewers, p.teams]).toEqual([['bob'], ['oncall']]);
  expect(recorded('review.requested').at(-1)!.fields).toMatchObject({ pr: p.number, reviewers: ['bob', 'acme/oncall'], source: 'CODEOWNERS' });
});
