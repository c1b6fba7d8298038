/**
 * The bot's GitHub connection: GitHub App auth (app id + private key → JWT → installation token,
 * found from the repository) against the double, which checks the JWT's RS256 signature; every call
 * counted in the bot's metrics.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Registry } from 'prom-client';
import { connectGitHub } from '../../bot/github';
import { createBotMetrics } from '../../bot/metrics';
import { GitHubDouble } from '../support/github-double';
import { quietLog } from '../support/bot-fixtures';

const keys = () => generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const app = keys();
let gh: GitHubDouble;

beforeAll(async () => {
  gh = await new GitHubDouble({ app: { id: 4711, publicKey: app.publicKey, installationId: 77, slug: 'portcullis-bot' } }).start();
  gh.seed({ 'policies/a.yaml': 'a: 1\n' });
}, 60_000);

afterAll(() => gh.stop());
afterEach(() => gh.assertClean());

test('app id + private key → installation token for the repository; calls are counted', async () => {
  const registry = new Registry();
  const m = createBotMetrics(registry);
  const client = await connectGitHub({ baseUrl: gh.url, owner: 'acme', repo: 'policies', auth: { kind: 'app', appId: 4711, privateKey: app.privateKey }, log: quietLog, metrics: { requests: m.githubRequests, seconds: m.githubSeconds } });
  const repo = await client.request('GET /repos/{owner}/{repo}', { owner: 'acme', repo: 'policies' });
  expect(repo.data.full_name).toBe('acme/policies');
  expect(gh.calls.map((c) => [c.operation, c.status, c.login])).toEqual([
    ['apps/get-repo-installation', 200, 'portcullis-bot[app]'],
    ['apps/create-installation-access-token', 201, 'portcullis-bot[app]'],
    ['repos/get', 200, 'portcullis-bot[bot]'],
  ]);
  const text = await registry.metrics();
  expect(text).toMatch(/portcullis_bot_github_requests_total\{method="GET",route="\/repos\/\{owner\}\/\{repo\}",status="200"\} 1/);
});

test('a key that is not the app\'s is refused (401), and the bot does not start', async () => {
  const other = keys();
  const failed = await connectGitHub({ baseUrl: gh.url, owner: 'acme', repo: 'policies', auth: { kind: 'app', appId: 4711, privateKey: other.privateKey }, log: quietLog, retries: 0 }).catch((e: { status?: number }) => e);
  expect((failed as { status?: number }).status).toBe(401);
});
