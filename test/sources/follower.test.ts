import pino from 'pino';
import { Registry } from 'prom-client';
import type { PolicyIR } from '../../compiler/ir/ir';
import type { Result } from '../../compiler/result';
import type { SourceFile } from '../../compiler';
import { PolicyFollower, type CompileFn, type PublishFn } from '../../sources/follower';
import { redactCredentials } from '../../sources/git';
import { TestRepo, tempDir } from '../support/git-repo';

// The follower is tested against real git repositories; the compiler is replaced by a small stand-in
// whose behaviour is driven by file contents, so each test controls what compiles and when it expires.
function fakeIr(now: Date, nextChangeAt: string | null): PolicyIR {
  return { irVersion: 1, compiledAt: now.toISOString(), nextChangeAt, environments: [] };
}

interface Harness {
  repo: TestRepo;
  follower: PolicyFollower;
  compiled: { files: SourceFile[]; now: Date }[];
  published: { commit: string; ir: PolicyIR }[];
  logs: Record<string, unknown>[];
  registry: Registry;
  clock: { now: Date };
}

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    await h.follower.stop();
    h.repo.remove();
  }
});

function setup(opts: { path?: string; publish?: PublishFn; initial?: Record<string, string> } = {}): Harness {
  const repo = TestRepo.create();
  repo.commit(opts.initial ?? { 'policies/a.yaml': 'kind: A\n', 'README.md': 'not policy\n' }, 'initial');
  const compiled: Harness['compiled'] = [];
  const published: Harness['published'] = [];
  const logs: Record<string, unknown>[] = [];
  const clock = { now: new Date('2026-01-01T00:00:00Z') };
  const compile: CompileFn = (files, now): Result<PolicyIR> => {
    compiled.push({ files: [...files], now });
    const bad = files.find((f) => f.text.includes('INVALID'));
    if (bad) return { ok: false, errors: [{ file: bad.path, line: 1, column: 1, subject: 'A/x', path: 'spec', message: 'invalid policy' }] };
    const expiry = files.map((f) => /expires: (\S+)/.exec(f.text)?.[1]).find((e) => e !== undefined && new Date(e) > now) ?? null;
    return { ok: true, value: fakeIr(now, expiry) };
  };
  const publish: PublishFn =
    opts.publish ??
    ((ir, commit) => {
      published.push({ commit, ir });
      return { ok: true, value: { version: `v${published.length}` } };
    });
  const logger = pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line)) });
  const registry = new Registry();
  const follower = new PolicyFollower({
    repo: repo.dir,
    branch: 'main',
    path: opts.path ?? 'policies',
    workDir: `${tempDir()}/mirror.git`,
    pollIntervalMs: 0,
    compile,
    publish,
    logger,
    registry,
    clock: () => clock.now,
  });
  const h = { repo, follower, compiled, published, logs, registry, clock };
  harnesses.push(h);
  return h;
}

test('serves the branch head at start-up, reading only YAML files of the policy folder', async () => {
  const h = setup({ initial: { 'policies/a.yaml': 'kind: A\n', 'policies/sub/b.yml': 'kind: B\n', 'policies/notes.txt': 'x', 'other/c.yaml': 'kind: C\n' } });
  const outcome = await h.follower.start();
  expect(outcome).toEqual({ kind: 'served', commit: h.repo.head(), version: 'v1' });
  expect(h.compiled[0]!.files).toEqual([
    { path: 'policies/a.yaml', text: 'kind: A\n' },
    { path: 'policies/sub/b.yml', text: 'kind: B\n' },
  ]);
  const status = h.follower.status();
  expect(status.served).toMatchObject({ commit: h.repo.head(), version: 'v1', subject: 'initial', author: 'Policy Author <author@example.com>', trigger: 'startup' });
  expect(status.rejected).toBeNull();
  expect(status.lastFetch).toMatchObject({ ok: true, commit: h.repo.head() });
});

test('reads the repository root when the policy folder is absent', async () => {
  const h = setup({ initial: { 'a.yaml': 'kind: A\n', 'deep/b.yaml': 'kind: B\n' } });
  await h.follower.start();
  expect(h.compiled[0]!.files.map((f) => f.path)).toEqual(['a.yaml', 'deep/b.yaml']);
});

test('an unchanged branch is not recompiled; a new commit is compiled and published', async () => {
  const h = setup();
  await h.follower.start();
  expect(await h.follower.requestSync('poll')).toEqual({ kind: 'unchanged', commit: h.repo.head() });
  expect(h.compiled).toHaveLength(1);
  const second = h.repo.commit({ 'policies/a.yaml': 'kind: A2\n' }, 'second');
  expect(await h.follower.requestSync('webhook')).toEqual({ kind: 'served', commit: second, version: 'v2' });
  expect(h.published.map((p) => p.commit)).toEqual([expect.any(String), second]);
  expect(h.follower.status().served).toMatchObject({ commit: second, trigger: 'webhook', subject: 'second' });
});

test('a commit that does not compile is rejected, the last good one stays served, and it is not retried', async () => {
  const h = setup();
  await h.follower.start();
  const good = h.repo.head();
  const bad = h.repo.commit({ 'policies/a.yaml': 'INVALID\n' }, 'break it');
  const outcome = await h.follower.requestSync('poll');
  expect(outcome).toMatchObject({ kind: 'rejected', commit: bad });
  const status = h.follower.status();
  expect(status.served!.commit).toBe(good);
  expect(status.rejected).toMatchObject({ commit: bad, stage: 'compile', subject: 'break it', errors: [{ file: 'policies/a.yaml', message: 'invalid policy' }] });
  expect(h.published).toHaveLength(1);
  const logged = h.logs.find((l) => l.msg === 'policy commit rejected; the last good snapshot stays in force');
  expect(logged).toMatchObject({ level: 50, commit: bad, stage: 'compile', servedCommit: good });
  const metrics = await h.registry.getSingleMetricAsString('portcullis_rejected_commit_info');
  expect(metrics).toContain(`commit="${bad}"`);

  // Polling the same bad head does not compile it again.
  const compilesBefore = h.compiled.length;
  expect(await h.follower.requestSync('poll')).toEqual({ kind: 'unchanged', commit: bad });
  expect(h.compiled).toHaveLength(compilesBefore);

  // A fix supersedes the refusal.
  const fixed = h.repo.commit({ 'policies/a.yaml': 'kind: A3\n' }, 'fix it');
  expect(await h.follower.requestSync('poll')).toMatchObject({ kind: 'served', commit: fixed });
  expect(h.follower.status().rejected).toBeNull();
  expect(await h.registry.getSingleMetricAsString('portcullis_rejected_commit_info')).not.toContain('commit=');
});

test('a translation refusal is a rejection at the publish stage', async () => {
  let refuse = false;
  const h = setup({
    publish: () => (refuse ? { ok: false, errors: [{ file: '', line: 0, column: 0, subject: '', path: '', message: 'translator says no' }] } : { ok: true, value: { version: 'v-good' } }),
  });
  await h.follower.start();
  refuse = true;
  const c = h.repo.commit({ 'policies/b.yaml': 'kind: B\n' }, 'untranslatable');
  expect(await h.follower.requestSync('poll')).toMatchObject({ kind: 'rejected', commit: c });
  expect(h.follower.status().rejected).toMatchObject({ stage: 'publish', errors: [{ message: 'translator says no' }] });
  expect(h.follower.status().served!.version).toBe('v-good');
});

test('a fetch failure keeps the served commit and is reported', async () => {
  const h = setup();
  await h.follower.start();
  h.repo.git('branch', '-m', 'main', 'renamed');
  const outcome = await h.follower.requestSync('poll');
  expect(outcome.kind).toBe('fetch-failed');
  expect(h.follower.status().lastFetch).toMatchObject({ ok: false, commit: null });
  expect(h.follower.status().served).not.toBeNull();
});

test('syncs requested while one runs are coalesced into one follow-up', async () => {
  const h = setup();
  await h.follower.start();
  h.repo.commit({ 'policies/a.yaml': 'kind: A2\n' }, 'second');
  const all = await Promise.all([h.follower.requestSync('webhook'), h.follower.requestSync('poll'), h.follower.requestSync('poll')]);
  expect(all[0]!.kind).toBe('served');
  expect(all[1]).toEqual(all[2]); // the two queued calls share one sync
  expect(h.compiled).toHaveLength(2);
});

test('a lockdown expiry recompiles the served commit with the new now, without a commit', async () => {
  const h = setup();
  const start = new Date();
  h.clock.now = start;
  const expiry = new Date(start.getTime() + 300);
  h.repo.commit({ 'policies/lockdown.yaml': `expires: ${expiry.toISOString()}\n` }, 'lockdown');
  await h.follower.start();
  expect(h.follower.status().nextRecompileAt).toBe(expiry.toISOString());
  // The follower's clock is the test's: move it past the expiry, then wait for the timer.
  h.clock.now = new Date(expiry.getTime() + 10);
  const deadline = Date.now() + 5000;
  while (h.published.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(h.published).toHaveLength(2);
  expect(h.published[1]!.commit).toBe(h.published[0]!.commit);
  expect(h.published[1]!.ir.compiledAt).toBe(h.clock.now.toISOString());
  expect(h.follower.status().served).toMatchObject({ trigger: 'schedule', nextChangeAt: null });
  expect(h.follower.status().nextRecompileAt).toBeNull();
});

describe('repository URLs carrying a token', () => {
  const SECRET = 'ghs_0123456789abcdefSECRET';

  test('redactCredentials removes the userinfo of every URL in a text', () => {
    expect(redactCredentials(`fatal: unable to access 'https://x-access-token:${SECRET}@github.com/acme/p.git/': refused`)).toBe(
      "fatal: unable to access 'https://***@github.com/acme/p.git/': refused",
    );
    expect(redactCredentials(`ssh://${SECRET}@git.example.com/p.git and http://u:p@h/x`)).toBe('ssh://***@git.example.com/p.git and http://***@h/x');
    expect(redactCredentials('https://github.com/acme/p.git')).toBe('https://github.com/acme/p.git');
  });

  test('never reach the status, the fetch error or a log line', async () => {
    const logs: string[] = [];
    const follower = new PolicyFollower({
      // Nothing listens on port 1: the fetch fails, and git's error message names the URL.
      repo: `http://x-access-token:${SECRET}@127.0.0.1:1/acme/policies.git`,
      branch: 'main',
      path: 'policies',
      workDir: `${tempDir()}/mirror.git`,
      pollIntervalMs: 0,
      compile: () => ({ ok: false, errors: [] }),
      publish: () => ({ ok: true, value: { version: 'v' } }),
      logger: pino({ level: 'debug' }, { write: (line: string) => logs.push(line) }),
      registry: new Registry(),
    });
    try {
      const outcome = await follower.start();
      expect(outcome.kind).toBe('fetch-failed');
      const status = JSON.stringify(follower.status());
      expect(status).toContain('***@127.0.0.1:1');
      expect(status).not.toContain(SECRET);
      expect(JSON.stringify(outcome)).not.toContain(SECRET);
      expect(logs.join('\n')).toContain('git fetch failed');
      expect(logs.join('\n')).not.toContain(SECRET);
    } finally {
      await follower.stop();
    }
  });
});

test('outcomes say what happened: a stopped follower is "stopped", a bug is "failed", neither "fetch-failed"', async () => {
  const h = setup();
  await h.follower.start();
  // A bug inside a sync (here: the sync itself throws) is no fetch failure; the served commit stays.
  const served = h.follower.status().served;
  (h.follower as unknown as { syncOnce: () => Promise<never> }).syncOnce = () => Promise.reject(new Error('a bug'));
  expect(await h.follower.requestSync('manual')).toEqual({ kind: 'failed', error: 'a bug' });
  expect(h.follower.status().served).toEqual(served);
  expect(h.follower.status().lastFetch).toMatchObject({ ok: true });
  await h.follower.stop();
  expect(await h.follower.requestSync('manual')).toEqual({ kind: 'stopped' });
});
