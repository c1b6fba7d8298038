/**
 * The bot in local mode (bot/local-repo.ts, `portcullis bot --local-repo DIR`, the `npm start` demo):
 * an Alertmanager payload → a lockdown branch in a plain git checkout with a lockdown file that
 * compiles; the user merges it with git → the control server following that checkout serves it →
 * a real Envoy answers 403 to the /24 while other clients keep 200. Repeats find the same branch;
 * a merged proposal is not proposed again while in force; a branch deleted unmerged is "closed".
 */
import { runBot } from '../../cli/commands/bot';
import { planMarkdownForFiles } from '../../cli/commands/plan';
import { compileWithOverlay } from '../../bot/lockdown-file';
import { LocalPolicyRepo } from '../../bot/local-repo';
import { startBotService, type BotService } from '../../bot/service';
import { readPolicyFilesAt } from '../../sources';
import { signBody } from '../../xds-server/http/webhook';
import { alertPayload, deliver, HOOK_AUTH, quietLog } from '../support/bot-fixtures';
import { captureCli } from '../support/cli';
import { call, createPolicyWorld, startServerInProcess, waitInSync, WEBHOOK_SECRET, type PolicyWorld } from '../support/e2e';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { tempDir } from '../support/git-repo';
import { freePort } from '../support/ports';
import { waitFor } from '../support/processes';
import { compiledOrThrow, stuffingTrigger } from '../support/policy-fixtures';

jest.setTimeout(90_000);

const TRIGGER = stuffingTrigger({ name: 'login-stuffing', environments: ['e2e'], route: 'accounts', rate: '{ above: 30, per: minute }' });
const NET = '198.18.7.0/24';
const alert = (key = NET) => alertPayload({ key, environment: 'e2e' });

let world: PolicyWorld;
let server: Awaited<ReturnType<typeof startServerInProcess>>;
let envoy: EnvoyProcess;
let bot: BotService;
let local: LocalPolicyRepo;

/** Tells the server about a commit of main the way a push webhook does. */
async function notify(commit: string): Promise<void> {
  const body = JSON.stringify({ ref: 'refs/heads/main', after: commit, repository: { full_name: 'local/policies' } });
  const res = await fetch(`${server.http.url}/hooks/git`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `local-${commit.slice(0, 8)}`, 'x-hub-signature-256': signBody(WEBHOOK_SECRET, body) }, body });
  expect(res.status).toBe(202);
}

const branches = () => world.repo.git('for-each-ref', '--format=%(refname:short)', 'refs/heads/portcullis/').split('\n').filter(Boolean);

beforeAll(async () => {
  world = await createPolicyWorld({ 'policies/triggers.yaml': TRIGGER });
  server = await startServerInProcess(world);
  envoy = startAdsEnvoy({ nodeId: 'local-bot-1', fleet: 'e2e-delta', xdsPort: server.xdsPort, adminPort: await freePort(), delta: true, logLevel: 'warn' });
  await envoy.waitReady();
  await waitInSync(server.http.url, 'e2e-delta');
  const workDir = tempDir('portcullis-local-bot-');
  local = await LocalPolicyRepo.open(world.repo.dir, { base: 'main', folder: 'policies', stateDir: workDir });
  bot = await startBotService({ workDir, auth: HOOK_AUTH, repo: local, log: quietLog, describePlan: planMarkdownForFiles, replayIntervalMs: 0, housekeepingIntervalMs: 0 });
});

afterAll(async () => {
  await bot?.stop();
  await envoy?.stop();
  await server?.stop();
  await world?.close();
});

test('alert → local branch with a compiling lockdown; git merge → Envoy 403s the /24, others 200', async () => {
  const before = world.repo.head();
  const first = await deliver(bot, alert());
  expect(first.status).toBe(200);
  expect(first.body.outcomes).toEqual([expect.objectContaining({ action: 'open', pull: 1 })]);
  expect(world.repo.head()).toBe(before); // the checked-out branch is not touched
  expect(world.repo.git('status', '--porcelain')).toBe('');
  const [branch, ...others] = branches();
  expect(others).toEqual([]);
  expect(branch).toMatch(/^portcullis\/lockdown\/login-stuffing-e2e-198-18-7-0-24-[0-9a-f]{8}$/);

  // The branch is the base plus one lockdown file, and it compiles on its own (not only in the bot).
  expect(world.repo.git('diff', '--name-only', `main...${branch}`)).toMatch(/^policies\/lockdowns\/login-stuffing-e2e-198-18-7-0-24-[0-9a-f]{8}\.yaml$/);
  const files = await readPolicyFilesAt(world.repo.dir, branch!, 'policies');
  if (!files.ok) throw new Error(files.errors.map((e) => e.message).join('\n'));
  const lockdown = files.value.files.find((f) => f.path.startsWith('policies/lockdowns/'))!;
  expect(lockdown.text).toContain(NET);
  compiledOrThrow(compileWithOverlay(files.value.files.filter((f) => f !== lockdown), lockdown.path, lockdown.text, new Date()));

  // A duplicate delivery finds the same "pull request": no second branch.
  const again = await deliver(bot, alert());
  expect(again.body.outcomes[0].action).not.toBe('open');
  expect(branches()).toEqual([branch]);

  expect((await call(world.ports.listener, '/accounts/me', { xff: '198.18.7.9' })).status).toBe(200);
  world.repo.git('merge', '--quiet', '--ff-only', branch!);
  await notify(world.repo.head());
  await waitFor('Envoy to block the /24', async () => (await call(world.ports.listener, '/accounts/me', { xff: '198.18.7.9' })).status === 403, 15_000, 100);
  expect((await call(world.ports.listener, '/accounts/me', { xff: '198.18.8.9' })).status).toBe(200);

  // Merged and in force: the same alert proposes nothing more.
  const merged = await deliver(bot, alert());
  expect(merged.body.outcomes).toEqual([expect.objectContaining({ action: 'nothing', detail: expect.stringContaining('merged in #1') })]);
  expect((await local.botPulls([])).find((p) => p.number === 1)).toEqual(expect.objectContaining({ state: 'closed', merged: true }));
});

test('a branch deleted unmerged is a closed proposal: not proposed again during the cool-down', async () => {
  const key = '198.18.9.0/24';
  const opened = await deliver(bot, alert(key));
  expect(opened.body.outcomes).toEqual([expect.objectContaining({ action: 'open' })]);
  const branch = branches().find((b) => b.includes('198-18-9-0-24'))!;
  world.repo.git('branch', '--quiet', '-D', branch);
  const after = await deliver(bot, alert(key));
  expect(after.body.outcomes).toEqual([expect.objectContaining({ action: 'comment', detail: 'cooldown' })]);
  expect(branches().some((b) => b.includes('198-18-9-0-24'))).toBe(false);
  const pull = (await local.botPulls([])).find((p) => p.branch === branch)!;
  expect(pull).toEqual(expect.objectContaining({ state: 'closed', merged: false }));
  expect(await local.commentMarkers(pull.number)).toHaveLength(1);
});

test('a branch appears only with its first commit: never at the base without the lockdown in it', async () => {
  const branch = 'portcullis/lockdown/appears-with-commit';
  const base = world.repo.head();
  await local.ensureBranch(branch, base, false);
  expect(branches()).not.toContain(branch); // a user merging now would merge nothing
  expect(await local.branchHead(branch)).toBe(base);
  const commit = await local.writeFile(branch, 'policies/lockdowns/x.yaml', '# x\n', 'lockdown x');
  expect(branches()).toContain(branch);
  expect(world.repo.git('rev-parse', `${branch}^`)).toBe(base);
  expect(await local.fileOn(branch, 'policies/lockdowns/x.yaml')).toEqual({ text: '# x\n', sha: expect.stringMatching(/^[0-9a-f]{40}$/) });
  // A stale write (the blob it replaces changed) is a conflict, like GitHub's 409.
  await expect(local.writeFile(branch, 'policies/lockdowns/x.yaml', '# y\n', 'again', 'f'.repeat(40))).rejects.toMatchObject({ status: 409 });
  expect(world.repo.head(branch)).toBe(commit);
  world.repo.git('branch', '-D', branch);
});

test('portcullis bot takes --repo or --local-repo, exactly one; a directory that is not a git repository is a usage error', async () => {
  const base = { base: 'main', path: 'policies', host: '127.0.0.1', port: 0, workDir: tempDir('portcullis-local-bot-cli-'), cooldown: '6h', githubUrl: 'https://api.github.com', hookTokenFile: undefined };
  process.env.PORTCULLIS_HOOK_TOKEN = 'local-cli-test-token';
  try {
    for (const [o, message] of [
      [{ repo: 'acme/policies', localRepo: world.repo.dir }, 'give --repo OWNER/NAME (GitHub pull requests) or --local-repo DIR'],
      [{}, 'give --repo OWNER/NAME (GitHub pull requests) or --local-repo DIR'],
      [{ localRepo: tempDir('portcullis-not-git-') }, 'not a git repository'],
    ] as const) {
      const c = captureCli();
      expect(await runBot(c.ctx, { ...base, ...o })).toBe(2);
      expect(c.err()).toContain(message);
    }
  } finally {
    delete process.env.PORTCULLIS_HOOK_TOKEN;
  }
});
