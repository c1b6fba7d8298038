/**
 * The bot's live blast radius (issue 10, item 4) with real processes: an alert opens the incident
 * PR on the GitHub double and the bot puts the proposed lockdown in shadow mode on the control
 * server; a real Envoy serves requests from the offending /24 (all answered 200) and the PR body is
 * refreshed in place with exactly what the shadow would have blocked; closing or merging the PR
 * (signed pull_request webhooks) deletes the overlay. A restarted bot rebuilds its shadows from
 * GitHub and the control server: the open PR's live figures go on being refreshed without a new
 * alert, and an overlay whose PR was closed while the bot was down is deleted at start.
 */
import type { ControlServer } from '../../cli/control-server';
import type { BotService } from '../../bot/service';
import { withLiveSection } from '../../bot/pr-body';
import { httpShadowClient } from '../../bot/shadow';
import { alertPayload, BOT_TOKEN, deliver, startTestBot } from '../support/bot-fixtures';
import { call, waitInSync, type PolicyWorld } from '../support/e2e';
import { startE2eFleet, type E2eFleet } from '../support/e2e-fleet';
import { tempDir } from '../support/git-repo';
import { GitHubDouble } from '../support/github-double';
import { waitFor } from '../support/processes';

jest.setTimeout(120_000);

const TOKEN = 'e2e-shadow-bot-token-0123456789';
const SECRET = 'e2e-github-hook-secret';
const TRIGGER = `apiVersion: portcullis.dev/v1
kind: Trigger
metadata: { name: catalog-stuffing }
spec:
  environments: [e2e]
  routes: [catalog]
  responses: { statuses: [401] }
  key: clientNetwork
  condition: { rate: { above: 1000, per: minute } }
  severity: critical
  lockdown:
    duration: 1h
    owner: "@oncall"
    reason: "Scraping of {{route}} from {{network}}"
    actions: [{ type: blockNetworks, cidrs: ["{{network}}"], routes: [catalog] }]
`;

let fleet: E2eFleet;
let world: PolicyWorld;
let server: ControlServer;
let gh: GitHubDouble;
let bot: BotService;
const botDir = tempDir('portcullis-shadow-bot-');
const startBot = (port?: number) =>
  startTestBot(gh, { workDir: botDir, port, githubWebhookSecret: SECRET, shadow: { client: httpShadowClient({ url: server.http.url, token: TOKEN }), refreshMs: 300, windowMs: 300_000 } });
/** Stops the bot and starts a new one on the same port and work dir (what it knew in memory is gone). */
async function restartBot(whileDown: () => Promise<void> = async () => undefined): Promise<void> {
  const port = Number(new URL(bot.url).port);
  await bot.stop();
  await whileDown();
  bot = await startBot(port);
}

beforeAll(async () => {
  fleet = await startE2eFleet('e2e-shadow-bot-1', { shadow: { token: TOKEN } });
  ({ world, server } = fleet);
  gh = await new GitHubDouble({ tokens: { [BOT_TOKEN]: 'portcullis-bot[bot]', ghp_alice: 'alice' } }).start();
  gh.seed({ ...world.basePolicies, 'policies/triggers.yaml': TRIGGER });
  bot = await startBot();
  gh.addWebhook({ url: `${bot.url}/hooks/github`, secret: SECRET });
});

afterAll(async () => {
  await bot?.stop();
  await gh?.stop();
  await fleet?.close();
});

afterEach(async () => {
  await gh.settled();
  gh.assertClean();
});

function alert(key: string): Record<string, unknown> {
  const p = alertPayload({ key, trigger: 'catalog-stuffing', environment: 'e2e' }) as { alerts: { labels: Record<string, string> }[]; commonLabels: Record<string, string> };
  for (const labels of [p.commonLabels, p.alerts[0]!.labels]) labels.route = 'catalog';
  return p;
}

const overlays = async () => ((await (await fetch(`${server.http.url}/shadow/overlays`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { overlays: { name: string }[] }).overlays.map((o) => o.name);
const prOf = (key: string) => [...gh.pulls.values()].find((p) => (p.body ?? '').includes(`"incident":"catalog-stuffing/e2e/${key}"`));
const asAlice = (path: string, method: string, body: unknown) =>
  fetch(`${gh.url}/repos/${gh.site.owner}/${gh.site.repo}${path}`, { method, headers: { authorization: 'token ghp_alice', 'content-type': 'application/json' }, body: JSON.stringify(body) });
const bodyEdits = (n: number) => gh.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith(`/pulls/${n}`) && c.login === 'portcullis-bot[bot]').length;

async function shadowedPr(key: string) {
  const res = await deliver(bot, alert(key));
  expect(res.status).toBe(200);
  expect(res.body.outcomes[0]).toMatchObject({ action: 'open' });
  const p = prOf(key)!;
  expect(p.body).toContain('### Live, in shadow mode');
  const names = await overlays();
  expect(names).toHaveLength(1);
  return { p, name: names[0]! };
}

test('the PR body gets the live figures in place; closing the PR deletes the overlay', async () => {
  const sentAt = Date.now();
  const { p, name } = await shadowedPr('198.51.100.0/24');
  await waitInSync(server.http.url, 'e2e-delta');
  // 10 requests from 5 addresses of the /24, 6 from elsewhere: every one answered.
  for (let i = 0; i < 10; i++) expect((await call(world.ports.listener, '/catalog/items', { xff: `198.51.100.${1 + (i % 5)}` })).status).toBe(200);
  for (let i = 0; i < 6; i++) expect((await call(world.ports.listener, '/catalog/items', { xff: `192.0.2.${i + 1}` })).status).toBe(200);
  const want = 'would have blocked 10 requests from 5 clients in the last 5 minutes** (0 with a valid token); 6 other requests unaffected.';
  await waitFor('the PR body with the live figures', () => ((gh.pulls.get(p.number)!.body ?? '').includes(want) ? true : undefined), 20_000, 100);
  console.log(`shadow bot: alert → PR body with the exact live figures in ${((Date.now() - sentAt) / 1000).toFixed(1)} s`);
  expect(gh.pulls.get(p.number)!.body).toContain('| `catalog` | 10 |');
  // In place: one PR, no comment, the body edited (a few refreshes at most while the counts arrived).
  expect([...gh.pulls.values()].filter((x) => (x.body ?? '').includes('catalog-stuffing/e2e/198.51.100.0/24'))).toHaveLength(1);
  expect([...gh.comments.values()].filter((c) => c.issue === p.number)).toEqual([]);
  expect(bodyEdits(p.number)).toBeGreaterThanOrEqual(1);
  await new Promise((r) => setTimeout(r, 1000));
  const edits = bodyEdits(p.number);
  await new Promise((r) => setTimeout(r, 1000));
  expect(bodyEdits(p.number)).toBe(edits); // unchanged figures: no more edits

  expect((await asAlice(`/pulls/${p.number}`, 'PATCH', { state: 'closed' })).status).toBe(200);
  await waitFor('the overlay deleted', async () => (!(await overlays()).includes(name) ? true : undefined), 10_000, 100);
});

test('merging the PR deletes the overlay', async () => {
  const { p, name } = await shadowedPr('198.18.7.0/24');
  const merged = await asAlice(`/pulls/${p.number}/merge`, 'PUT', {});
  expect(merged.status).toBe(200);
  await waitFor('the overlay deleted', async () => (!(await overlays()).includes(name) ? true : undefined), 10_000, 100);
});

test('after a restart, with no alert since: the open PR\'s live figures are refreshed in place, closing it deletes the overlay', async () => {
  const { p, name } = await shadowedPr('198.18.30.0/24');
  await restartBot();
  const before = gh.pulls.get(p.number)!.body ?? '';
  await waitInSync(server.http.url, 'e2e-delta');
  for (let i = 0; i < 7; i++) expect((await call(world.ports.listener, '/catalog/items', { xff: `198.18.30.${1 + (i % 3)}` })).status).toBe(200);
  for (let i = 0; i < 2; i++) expect((await call(world.ports.listener, '/catalog/items', { xff: `192.0.2.${40 + i}` })).status).toBe(200);
  const want = 'would have blocked 7 requests from 3 clients in the last 5 minutes** (0 with a valid token); 2 other requests unaffected.';
  await waitFor('the PR body with the live figures after the restart', () => ((gh.pulls.get(p.number)!.body ?? '').includes(want) ? true : undefined), 20_000, 100);
  const after = gh.pulls.get(p.number)!.body ?? '';
  // Only the live section changed: what fired, the plan and the marker are as the alert wrote them.
  expect(withLiveSection(after, [])).toBe(withLiveSection(before, []));
  expect(after).toContain('| `catalog` | 7 |');
  expect(await overlays()).toEqual([name]);
  expect((await asAlice(`/pulls/${p.number}`, 'PATCH', { state: 'closed' })).status).toBe(200);
  await waitFor('the overlay deleted', async () => (!(await overlays()).includes(name) ? true : undefined), 10_000, 100);
});

test('a PR closed while the bot was down: the restarted bot deletes its overlay', async () => {
  const { p, name } = await shadowedPr('198.18.40.0/24');
  await restartBot(async () => {
    expect((await asAlice(`/pulls/${p.number}`, 'PATCH', { state: 'closed' })).status).toBe(200);
    await gh.settled(); // the webhook delivery failed: nobody listened
    expect(await overlays()).toEqual([name]);
  });
  await waitFor('the overlay deleted by the restarted bot', async () => (!(await overlays()).includes(name) ? true : undefined), 10_000, 100);
});
