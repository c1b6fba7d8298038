/* eslint-disable @typescript-eslint/no-explicit-any */
/**
 * The GitHub double itself, driven by the real Octokit: git state in a real bare repository,
 * requests refused as GitHub refuses them, responses checked against GitHub's OpenAPI description,
 * signed webhooks.
 */
import { createServer, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { Octokit } from 'octokit';
import { GitHubDouble } from '../support/github-double';
import { verifySignature } from '../../xds-server/http/webhook';

const TOKEN = 'ghp_test_token';
const owner = 'acme';
const repo = 'policies';

let gh: GitHubDouble;
let hooks: Server;
const received: { event: string; delivery: string; valid: boolean; body: any }[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any

const octokit = (auth = TOKEN) => new Octokit({ auth, baseUrl: gh.url, retry: { enabled: false }, throttle: { enabled: false } });
const b64 = (s: string) => Buffer.from(s).toString('base64');

beforeAll(async () => {
  hooks = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({
        event: String(req.headers['x-github-event']),
        delivery: String(req.headers['x-github-delivery']),
        valid: verifySignature(Buffer.from('s3cret'), body, req.headers['x-hub-signature-256'] as string | undefined),
        body: JSON.parse(body.toString('utf8')),
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(hooks.address() as { port: number }).port}/hooks`;
  gh = await new GitHubDouble({ owner, repo, tokens: { [TOKEN]: 'alice', ghp_bob: 'bob' }, webhook: { url, secret: 's3cret' } }).start();
  gh.seed({ 'policies/a.yaml': 'a: 1\n' });
}, 60_000);

afterAll(async () => {
  await gh.stop();
  await new Promise<void>((r) => hooks.close(() => r()));
});

afterEach(() => gh.assertClean());

test('a branch, a file commit and a pull request live in the bare repository; a merge is a real merge commit', async () => {
  const o = octokit();
  const main = await o.rest.git.getRef({ owner, repo, ref: 'heads/main' });
  await o.rest.git.createRef({ owner, repo, ref: 'refs/heads/feature/x', sha: main.data.object.sha });
  const put = await o.rest.repos.createOrUpdateFileContents({ owner, repo, path: 'policies/b.yaml', message: 'add b', content: b64('b: 2\n'), branch: 'feature/x' });
  expect(put.status).toBe(201);
  const pr = await o.rest.pulls.create({ owner, repo, title: 'Add b', head: 'feature/x', base: 'main', body: 'hello' });
  expect(pr.data.head.sha).toBe(put.data.commit.sha);

  // A second PR for the same head: GitHub's 422.
  const dup = await o.rest.pulls.create({ owner, repo, title: 'again', head: `${owner}:feature/x`, base: 'main' }).catch((e: any) => e);
  expect(dup.status).toBe(422);
  expect(JSON.stringify(dup.response.data.errors)).toContain('A pull request already exists for acme:feature/x.');

  const listed = await o.rest.pulls.list({ owner, repo, head: `${owner}:feature/x`, state: 'all' });
  expect(listed.data.map((p: { number: number }) => p.number)).toEqual([pr.data.number]);

  // The author cannot approve; another user can; then merge.
  const own = await o.rest.pulls.createReview({ owner, repo, pull_number: pr.data.number, event: 'APPROVE' }).catch((e: any) => e);
  expect(own.status).toBe(422);
  await octokit('ghp_bob').rest.pulls.createReview({ owner, repo, pull_number: pr.data.number, event: 'APPROVE' });
  const merged = await octokit('ghp_bob').rest.pulls.merge({ owner, repo, pull_number: pr.data.number, sha: pr.data.head.sha });
  const parents = execFileSync('git', ['-C', gh.git.dir, 'log', '-1', '--format=%P', 'main'], { encoding: 'utf8' }).trim().split(' ');
  expect(parents).toEqual([main.data.object.sha, put.data.commit.sha]);
  expect(merged.data.sha).toBe(gh.git.resolve('heads/main'));
  const file = await o.rest.repos.getContent({ owner, repo, path: 'policies/b.yaml' });
  expect(Buffer.from((file.data as { content: string }).content, 'base64').toString()).toBe('b: 2\n');

  await gh.settled();
  const events = received.map((r) => `${r.event}:${r.body.action ?? r.body.ref}`);
  expect(events).toEqual(expect.arrayContaining(['push:refs/heads/feature/x', 'pull_request:opened', 'pull_request_review:submitted', 'push:refs/heads/main', 'pull_request:closed']));
  expect(received.every((r) => r.valid && /^[0-9a-f-]{36}$/.test(r.delivery))).toBe(true);
  expect(received.find((r) => r.event === 'pull_request' && r.body.action === 'closed')?.body.pull_request.merged).toBe(true);
});

test('parallel content writes from the same blob: one wins, the other gets 409', async () => {
  const o = octokit();
  const current = await o.rest.repos.getContent({ owner, repo, path: 'policies/a.yaml' });
  const sha = (current.data as { sha: string }).sha;
  const write = (text: string) => o.rest.repos.createOrUpdateFileContents({ owner, repo, path: 'policies/a.yaml', message: text, content: b64(text), sha }).then((r: any) => r.status, (e: any) => e.status);
  const statuses = await Promise.all([write('a: 2\n'), write('a: 3\n')]);
  expect(statuses.sort()).toEqual([200, 409]);
  // A non-fast-forward ref update is refused too.
  const old = await o.rest.git.getCommit({ owner, repo, commit_sha: gh.git.commit(gh.git.resolve('heads/main')!).parents[0]! });
  const ff = await o.rest.git.updateRef({ owner, repo, ref: 'heads/main', sha: old.data.sha }).catch((e: any) => e);
  expect([ff.status, ff.response.data.message]).toEqual([422, 'Update is not a fast forward']);
});

test('a request GitHub would reject gets GitHub\'s error shape; unknown tokens get 401', async () => {
  const o = octokit();
  const bad = await o.request('POST /repos/{owner}/{repo}/pulls', { owner, repo, head: 'x', base: 'main', title: 5 as unknown as string }).catch((e: any) => e);
  expect(bad.status).toBe(422);
  expect(bad.response.data.message).toMatch(/^Invalid request\.\n\nbody\/title: must be string/);
  expect(bad.response.data.documentation_url).toBeTruthy();
  const badState = await o.request('GET /repos/{owner}/{repo}/pulls', { owner, repo, state: 'merged' }).catch((e: any) => e);
  expect(badState.status).toBe(422);
  const anon = await octokit('nope').rest.repos.get({ owner, repo }).catch((e: any) => e);
  expect([anon.status, anon.response.data.message]).toEqual([401, 'Bad credentials']);
  expect(gh.violations).toEqual([]);
});

test('a response outside GitHub\'s description is a violation (and a 500), so a double bug fails the test', async () => {
  const pulls = gh.pulls;
  const number = [...pulls.keys()][0]!;
  const saved = pulls.get(number)!.title;
  (pulls.get(number) as { title: unknown }).title = 42;
  const res = await octokit().rest.pulls.get({ owner, repo, pull_number: number }).catch((e: any) => e);
  expect(res.status).toBe(500);
  expect(gh.violations.join('\n')).toMatch(/pulls\/get 200 response\/title: must be string/);
  pulls.get(number)!.title = saved;
  gh.violations.length = 0;
});

test('secondary rate limits and outages are switchable, with retry-after', async () => {
  gh.failWith({ status: 403, times: 1, retryAfterSeconds: 7 });
  const limited = await octokit().rest.repos.get({ owner, repo }).catch((e: any) => e);
  expect(limited.status).toBe(403);
  expect(limited.response.headers['retry-after']).toBe('7');
  expect(limited.response.data.message).toMatch(/secondary rate limit/);
  expect((await octokit().rest.repos.get({ owner, repo })).status).toBe(200);
  gh.failWith({ status: 500 });
  expect((await octokit().rest.repos.get({ owner, repo }).catch((e: any) => e)).status).toBe(500);
  gh.recover();
  expect((await octokit().rest.repos.get({ owner, repo })).status).toBe(200);
});
