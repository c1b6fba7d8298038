/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The lockdown bot against the GitHub double (real Octokit, real git, GitHub's OpenAPI description
 * as judge): an alert becomes exactly one compiling lockdown PR; duplicates, repeats, a second key,
 * resolution, a restart mid-way, GitHub outages and bad credentials.
 */
import { parse } from 'yaml';
import { compileSources } from '../../compiler';
import { branchFor, fileFor } from '../../bot/incident';
import type { BotService } from '../../bot/service';
import { GitHubDouble } from '../support/github-double';
import { alertPayload, BOT_TOKEN, deliver, repositoryPolicies, startTestBot, TRIGGER_FILE, triggerYaml } from '../support/bot-fixtures';
import { tempDir } from '../support/git-repo';

jest.setTimeout(180_000);

let gh: GitHubDouble;
let bot: BotService;
const running: BotService[] = [];

async function start(workDir?: string): Promise<BotService> {
  const b = await startTestBot(gh, workDir ? { workDir } : {});
  running.push(b);
  return b;
}

beforeAll(async () => {
  gh = await new GitHubDouble({ tokens: { [BOT_TOKEN]: 'portcullis-bot[bot]', ghp_alice: 'alice' } }).start();
  gh.seed({ ...repositoryPolicies(), [TRIGGER_FILE]: triggerYaml() });
  bot = await start();
}, 60_000);

afterAll(async () => {
  for (const b of running) await b.stop().catch(() => undefined);
  await gh.stop();
});

afterEach(() => gh.assertClean());

const incident = (key: string) => `login-stuffing/prod/${key}`;
const pullsFor = (key: string) => [...gh.pulls.values()].filter((p) => p.head === branchFor(incident(key)));
const branches = () => gh.git.refs('refs/heads/portcullis/lockdown/');
const commentsOn = (n: number) => [...gh.comments.values()].filter((c) => c.issue === n);

test('a firing alert opens one PR whose lockdown file compiles with the base, written for the approver', async () => {
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const res = await deliver(bot, alertPayload({ key: '203.0.113.0/24' }));
  const elapsed = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  expect(res.status).toBe(200);
  expect(res.body.outcomes[0]).toMatchObject({ action: 'open' });
  const [pr, ...more] = pullsFor('203.0.113.0/24');
  expect(more).toEqual([]);
  expect(pr!.user).toBe('portcullis-bot[bot]');
  expect(pr!.labels).toEqual(expect.arrayContaining(['portcullis', 'lockdown', 'severity:critical']));
  expect(pr!.reviewers).toEqual(['alice']);
  expect(pr!.title).toBe('Lockdown prod: login-stuffing (203.0.113.0/24) for 1h');
  // What the approver reads.
  for (const text of ['| 45 | 30 | — | 1m | critical |', '| `203.0.113.0/24` | 400 | 32.0% |', '403 for `203.0.113.0/24` on `accounts-login`', 'Plan: what each Envoy fleet', '/portcullis lift', 'http://prometheus.test:9090/graph']) {
    expect(pr!.body).toContain(text);
  }
  // The file on the branch is a Lockdown from the template, and base + it compiles.
  const file = gh.git.fileAt(pr!.headSha, fileFor(incident('203.0.113.0/24')))!;
  const doc = parse(file.content.toString()) as any;
  expect(doc.spec).toMatchObject({ owner: '@oncall', environments: ['prod'], reason: 'Credential stuffing on accounts-login from 203.0.113.0/24', actions: [{ type: 'blockNetworks', cidrs: ['203.0.113.0/24'], routes: ['accounts-login'] }] });
  expect(Date.parse(doc.spec.expiresAt) - Date.parse(doc.spec.createdAt)).toBe(3_600_000);
  const files = gh.git.tree(pr!.headSha, true).filter((e) => e.type === 'blob').map((e) => ({ path: e.path, text: gh.git.readBlob(e.sha).toString() }));
  const ir = compileSources(files, new Date(doc.spec.createdAt));
  expect(ir.ok).toBe(true);
  // CPU of this process: the bot, the double (its OpenAPI validation of every exchange) and git's callers.
  process.stdout.write(`alert received → PR opened: ${res.body.outcomes[0].openedInMs} ms (delivery answered after labels, reviewers, status: ${elapsed} ms; CPU ${Math.round((cpu.user + cpu.system) / 1000)} ms)\n`);
});

test('50 concurrent duplicate deliveries: exactly one PR and one branch; a repeat updates the body in place', async () => {
  const key = '198.18.0.0/24';
  const before = branches().length;
  const t0 = Date.now();
  const results = await Promise.all(Array.from({ length: 50 }, () => deliver(bot, alertPayload({ key: '198.18.0.0/24', trigger: 'login-stuffing' }))));
  process.stdout.write(`50 concurrent duplicates handled in ${Date.now() - t0} ms\n`);
  expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
  // The first key's PR is open for this trigger: the new key joins it. Either way: one PR, one branch.
  const prs = [...gh.pulls.values()];
  expect(prs.length).toBe(1);
  expect(branches().length).toBe(before);
  const pr = prs[0]!;
  const file = parse(gh.git.fileAt(pr.headSha, fileFor(incident('203.0.113.0/24')))!.content.toString()) as any;
  expect(file.spec.actions).toEqual([{ type: 'blockNetworks', cidrs: ['203.0.113.0/24', key], routes: ['accounts-login'] }]);
  // One commit for the second key, not fifty.
  expect(gh.git.git(['rev-list', '--count', `main..${pr.headSha}`])).toBe('2');
  const updates = gh.calls.filter((c) => c.operation === 'pulls/update').length;

  const again = await deliver(bot, alertPayload({ key, value: '97' }));
  expect(again.body.outcomes[0]).toMatchObject({ action: 'update-body', pull: pr.number });
  expect(gh.pulls.get(pr.number)!.body).toContain('| 97 | 30 |');
  expect(gh.calls.filter((c) => c.operation === 'pulls/update').length).toBe(updates + 1);
  expect(commentsOn(pr.number)).toEqual([]);
});

test('resolved: one comment, however often Alertmanager repeats it', async () => {
  const [pr] = pullsFor('203.0.113.0/24');
  await deliver(bot, alertPayload({ key: '203.0.113.0/24', status: 'resolved' }));
  await deliver(bot, alertPayload({ key: '203.0.113.0/24', status: 'resolved' }));
  const comments = commentsOn(pr!.number);
  expect(comments.length).toBe(1);
  expect(comments[0]!.body).toMatch(/resolved at 2026-12-01T12:20:00Z/);
});

test('wrong or missing credentials: 401 and nothing else', async () => {
  const calls = gh.calls.length;
  const pending = bot.journal.pending().length;
  for (const auth of [null, 'Basic ' + Buffer.from('alertmanager:wrong').toString('base64'), 'Bearer hunter2-long-secret']) {
    const res = await deliver(bot, alertPayload({ key: '192.0.2.0/24' }), auth);
    expect(res.status).toBe(401);
  }
  expect(gh.calls.length).toBe(calls);
  expect(bot.journal.pending().length).toBe(pending);
});

test('a PR closed unmerged is not proposed again during the cool-down (one comment at most)', async () => {
  const [pr] = pullsFor('203.0.113.0/24');
  const res = await fetch(`${gh.url}/repos/acme/policies/pulls/${pr!.number}`, { method: 'PATCH', headers: { authorization: 'token ghp_alice' }, body: JSON.stringify({ state: 'closed' }) });
  expect(res.status).toBe(200);
  const a = await deliver(bot, alertPayload({ key: '203.0.113.0/24', value: '60' }));
  const b = await deliver(bot, alertPayload({ key: '203.0.113.0/24', value: '61' }));
  expect([a.body.outcomes[0].action, b.body.outcomes[0].action]).toEqual(['comment', 'nothing']);
  expect([...gh.pulls.values()].filter((p) => p.state === 'open')).toEqual([]);
  expect(commentsOn(pr!.number).filter((c) => /cool-down/.test(c.body)).length).toBe(1);
});

test('GitHub failing (500, then 429): 503 to the sender with bounded attempts; handled once GitHub is back', async () => {
  const key = '100.64.0.0/24';
  gh.failWith({ status: 500 });
  const calls = gh.calls.length;
  const failed = await deliver(bot, alertPayload({ key }));
  expect(failed.status).toBe(503);
  // The first reads (base head, the bot's PRs: in parallel), each retried twice: three attempts each, then the bot gives up.
  let seen = -1;
  while (seen !== gh.calls.length) {
    seen = gh.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  const attempts = new Map<string, number>();
  for (const c of gh.calls.slice(calls)) attempts.set(String(c.operation), (attempts.get(String(c.operation)) ?? 0) + 1);
  expect(attempts.get('git/get-ref')).toBe(3);
  expect([...attempts.values()].every((n) => n <= 3 * 2)).toBe(true); // pulls/list is asked twice (recent, by head)
  expect(gh.calls.length - calls).toBeLessThanOrEqual(9);
  gh.failWith({ status: 429, times: 1, retryAfterSeconds: 1 });
  const ok = await deliver(bot, alertPayload({ key }));
  expect(ok.status).toBe(200);
  expect(ok.body.outcomes[0]).toMatchObject({ action: 'open' });
  // The double's validators for these operations are compiled by now (the first PR compiled them).
  process.stdout.write(`alert received → PR opened, warm double (one 429 retried after 20 ms): ${ok.body.outcomes[0].openedInMs} ms\n`);
  expect(gh.calls.filter((c) => c.status === 429).length).toBe(1);
  gh.recover();
  // The 503'd delivery is still in the journal; replaying it creates nothing new.
  await bot.replay();
  expect(bot.journal.pending()).toEqual([]);
  expect(pullsFor(key).length).toBe(1);
});

test('a restart in the middle (branch and file written, PR not yet) loses nothing and creates nothing twice', async () => {
  const key = '100.65.0.0/24';
  const workDir = tempDir('portcullis-bot-restart-');
  const first = await start(workDir);
  // With no PR of this trigger open, this key opens its own.
  for (const p of gh.pulls.values()) if (p.state === 'open') await fetch(`${gh.url}/repos/acme/policies/pulls/${p.number}`, { method: 'PATCH', headers: { authorization: 'token ghp_alice' }, body: JSON.stringify({ state: 'closed' }) });
  gh.failWith({ status: 500, operations: ['pulls/create'] });
  const res = await deliver(first, alertPayload({ key, trigger: 'login-stuffing' }));
  expect(res.status).toBe(503);
  expect(gh.git.resolve(`heads/${branchFor(incident(key))}`)).not.toBeNull();
  await first.stop();
  gh.recover();
  const second = await start(workDir);
  await second.replay();
  expect(second.journal.pending()).toEqual([]);
  const prs = pullsFor(key);
  expect(prs.length).toBe(1);
  expect(gh.git.git(['rev-list', '--count', `main..${branchFor(incident(key))}`])).toBe('1');
});

test('an overlay that does not compile is never proposed', async () => {
  const broken = triggerYaml().replace('routes: [accounts-login] }', 'routes: [no-such-route] }').replace('name: login-stuffing', 'name: broken-trigger');
  gh.pushCommit('main', { 'policies/triggers/broken.yaml': broken }, 'add a broken trigger', 'alice');
  const before = branches().length;
  const res = await deliver(bot, alertPayload({ key: '192.0.2.0/24', trigger: 'broken-trigger' }));
  expect(res.status).toBe(200);
  expect(res.body.outcomes[0].action).toBe('refused');
  expect(res.body.outcomes[0].detail).toMatch(/no-such-route/);
  expect(branches().length).toBe(before);
});

test('a key that does not fit the trigger (a CIDR with host bits) is refused by instantiateLockdown, nothing proposed', async () => {
  // The test above left a base that does not compile (its trigger names an unknown route): repair it.
  gh.pushCommit('main', { 'policies/triggers/broken.yaml': null }, 'remove the broken trigger', 'alice');
  const before = branches().length;
  const res = await deliver(bot, alertPayload({ key: '203.0.113.7/24' }));
  expect(res.status).toBe(200);
  expect(res.body.outcomes[0]).toMatchObject({ action: 'refused' });
  expect(res.body.outcomes[0].detail).toMatch(/key clientNetwork: not a canonical CIDR/);
  expect(branches().length).toBe(before);
});
