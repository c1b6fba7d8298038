/**
 * Break-glass CLI: `portcullis lockdown open` against the GitHub double (a PR through the bot's code)
 * and with --local (a branch of a plain git checkout); bad flags → clear errors, nothing written;
 * `lockdown list` with time left; `lockdown lift`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { GitHubDouble } from '../support/github-double';
import { tempDir, TestRepo } from '../support/git-repo';
import { runCli } from '../support/cli';
import { repositoryPolicies } from '../support/bot-fixtures';

jest.setTimeout(60_000);

const NOW = new Date('2026-12-01T12:00:00Z');
let gh: GitHubDouble;
let checkout: TestRepo;

beforeAll(async () => {
  gh = await new GitHubDouble({ tokens: { ghp_oncall: 'oncall' } }).start();
  gh.seed(repositoryPolicies());
  checkout = TestRepo.create();
  checkout.commit(repositoryPolicies(), 'policies');
}, 60_000);

afterAll(async () => {
  await gh.stop();
  checkout.remove();
});

afterEach(() => gh.assertClean());

const open = ['lockdown', 'open', '--env', 'prod', '--block', '203.0.113.0/24', '--route', 'accounts-login', '--for', '1h', '--reason', 'stuffing from one /24'];

test('open against GitHub: one PR with a compiling lockdown, its URL printed, breakglass.opened in the audit trail', async () => {
  process.env.PORTCULLIS_GITHUB_TOKEN = 'ghp_oncall';
  process.env.PORTCULLIS_ACTOR = 'carol';
  const auditDir = tempDir('portcullis-breakglass-audit-');
  const r = await runCli([...open, '--repo', 'acme/policies', '--github-url', gh.url, '--tighten', 'login-per-ip=2/minute', '--audit-dir', auditDir], { cwd: checkout.dir, now: NOW });
  delete process.env.PORTCULLIS_GITHUB_TOKEN;
  delete process.env.PORTCULLIS_ACTOR;
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const [pr] = [...gh.pulls.values()];
  expect(r.out.trim()).toBe(`https://github.com/acme/policies/pull/${pr!.number}`);
  expect(pr!.labels).toContain('break-glass');
  const file = gh.git.tree(pr!.headSha, true).find((e) => e.path.startsWith('policies/lockdowns/breakglass-'))!;
  const doc = parse(gh.git.readBlob(file.sha).toString()) as { spec: Record<string, unknown> };
  expect(doc.spec).toMatchObject({
    createdAt: '2026-12-01T12:00:00Z',
    expiresAt: '2026-12-01T13:00:00Z',
    environments: ['prod'],
    actions: [{ type: 'blockNetworks', cidrs: ['203.0.113.0/24'], routes: ['accounts-login'] }, { type: 'tightenRateLimit', rateLimit: 'login-per-ip', requests: 2, per: 'minute' }],
  });
  expect(pr!.body).toContain('403 for `203.0.113.0/24` on `accounts-login`');
  const lines = readdirSync(path.join(auditDir, 'cli')).flatMap((f) => readFileSync(path.join(auditDir, 'cli', f), 'utf8').trim().split('\n'));
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((x) => x.kind === 'breakglass.opened');
  expect(records).toEqual([expect.objectContaining({ actor: 'carol', pr: pr!.number, url: r.out.trim(), environment: 'prod', lockdown: expect.stringMatching(/^breakglass-/) })]);
});

test('bad flags: every error at once, nothing written', async () => {
  const before = checkout.git('for-each-ref', '--format=%(refname)');
  const r = await runCli(['lockdown', 'open', '--local', '--env', 'prod', '--block', '203.0.113.300/24', '--tighten', 'login-per-ip=two', '--for', '30d', '--reason', 'x'], { cwd: checkout.dir, now: NOW });
  expect(r.code).toBe(2);
  expect(r.err).toContain('--block 203.0.113.300/24');
  expect(r.err).toContain('--tighten login-per-ip=two: must be RATELIMIT=N');
  expect(r.err).toMatch(/--for 30d: must be a duration|--for 30d: at most 7 days/);
  const unknownRoute = await runCli(['lockdown', 'open', '--local', '--env', 'prod', '--disable-route', 'no-such-route', '--for', '1h', '--reason', 'x'], { cwd: checkout.dir, now: NOW });
  expect(unknownRoute.code).toBe(1);
  expect(unknownRoute.err).toMatch(/does not compile[\s\S]*no-such-route/);
  const tooLong = await runCli(['lockdown', 'open', '--local', '--env', 'prod', '--block', '192.0.2.0/24', '--for', '200h', '--reason', 'x'], { cwd: checkout.dir, now: NOW });
  expect([tooLong.code, tooLong.err]).toEqual([2, 'portcullis lockdown: --for 200h: at most 7 days (168h); a longer block belongs in Access policies\n']);
  expect(checkout.git('for-each-ref', '--format=%(refname)')).toBe(before);
});

test('--local commits on a new branch of the checkout (work tree untouched); list shows it once merged; lift ends it', async () => {
  const head = checkout.head();
  const r = await runCli([...open, '--local', '--name', 'stuffing-now'], { cwd: checkout.dir, now: NOW });
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/^branch portcullis\/lockdown\/stuffing-now \([0-9a-f]{12}\)/);
  expect(checkout.head()).toBe(head);
  expect(checkout.git('status', '--porcelain')).toBe('');
  checkout.git('merge', '--quiet', '--ff-only', 'portcullis/lockdown/stuffing-now');

  const list = await runCli(['lockdown', 'list'], { cwd: checkout.dir, now: new Date('2026-12-01T12:15:00Z') });
  expect(list.code).toBe(0);
  expect(list.out).toMatch(/^active\s+stuffing-now {2}45m left {2}\[prod\]/m);
  expect(list.out).toMatch(/^expired\s+stuffing-2026-11-20 {2}expired /m);
  expect(list.out).toMatch(/^active\s+export-leak-2026-11-25/m);

  const lift = await runCli(['lockdown', 'lift', 'stuffing-now', '--local'], { cwd: checkout.dir, now: new Date('2026-12-01T12:20:00Z') });
  expect(lift.code).toBe(0);
  const lifted = parse(checkout.git('show', 'portcullis/lift/stuffing-now:policies/lockdowns/stuffing-now.yaml')) as { spec: { expiresAt: string } };
  expect(lifted.spec.expiresAt).toBe('2026-12-01T12:20:00Z');
  const missing = await runCli(['lockdown', 'lift', 'nope', '--local'], { cwd: checkout.dir, now: NOW });
  expect([missing.code, missing.err]).toEqual([2, 'portcullis lockdown: no Lockdown named nope on main (portcullis lockdown list shows them)\n']);
});
