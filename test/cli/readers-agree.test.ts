/**
 * The two policy readers, a folder on disk (`validate`, `render`) and a git revision (`plan`, and
 * `serve`'s follower), read one hostile tree the same way: symbolic links are never followed (out of the root
 * or inside it) and their targets never read or quoted; hidden names and node_modules are noted,
 * not read; file names with control characters or bytes that are not UTF-8 are errors printed
 * escaped, one line each, and the other errors are still reported.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSources } from '../../compiler';
import { formatDiagnostic, type Result } from '../../compiler/result';
import { compileDirectory } from '../../sources';
import { readPolicyFilesAt } from '../../sources/git-revision';
import { withTreeProblems } from '../../sources/policy-tree';
import pino from 'pino';
import { Registry } from 'prom-client';
import { PolicyFollower } from '../../sources/follower';
import { runCli } from '../support/cli';

const REPO_ROOT = join(__dirname, '..', '..');
const NOW = new Date('2026-11-27T12:00:00Z');
const SECRET = 'root:$6$SECRET-HASH-LINE:19000:0:99999:7:::';
const ROUTE = (name: string) => `apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: ${name} }\nspec:\n  path: { prefix: /${name} }\n  service: catalog\n`;

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'portcullis-readers-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const git = (repo: string, ...args: string[]) => execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { encoding: 'utf8' });

/** A repository whose policies/ holds the bundled policies plus `hostile`, committed; returns its path. */
function repoWith(name: string, hostile: (policies: string, outside: string) => void): string {
  const repo = join(work, name);
  const outside = join(work, `${name}-outside`);
  mkdirSync(outside, { recursive: true });
  cpSync(join(REPO_ROOT, 'policies'), join(repo, 'policies'), { recursive: true });
  hostile(join(repo, 'policies'), outside);
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'add', '-A', '--force');
  git(repo, 'commit', '-qm', 'tree');
  return repo;
}

interface Reading {
  readonly ok: boolean;
  readonly lines: string[];
  readonly notes: readonly string[];
  readonly routes: string[];
}

const summarise = (r: Result<{ environments: readonly { routes: readonly { name: string }[] }[] }>, notes: readonly string[]): Reading => ({
  ok: r.ok,
  lines: r.ok ? [] : r.errors.map(formatDiagnostic),
  notes,
  routes: r.ok ? [...new Set(r.value.environments.flatMap((e) => e.routes.map((x) => x.name)))].sort() : [],
});

async function readBoth(repo: string): Promise<{ dir: Reading; git: Reading }> {
  const dir = await compileDirectory(join(repo, 'policies'), NOW, { relativeTo: repo });
  const rev = await readPolicyFilesAt(repo, 'HEAD', 'policies');
  if (!rev.ok) throw new Error(rev.errors[0]!.message);
  const fromGit = withTreeProblems(rev.value, compileSources(rev.value.files, NOW));
  return { dir: summarise(dir, dir.notes ?? []), git: summarise(fromGit, rev.value.notes) };
}

describe('one hostile tree, two readers, one result', () => {
  let repo: string;
  let both: { dir: Reading; git: Reading };
  beforeAll(async () => {
    repo = repoWith('hostile', (policies, outside) => {
      writeFileSync(join(outside, 'secret.yaml'), `${SECRET}\n`);
      writeFileSync(join(outside, 'extra.yaml'), ROUTE('smuggled'));
      symlinkSync('/etc/shadow', join(policies, 'shadow.yaml'));
      symlinkSync(join(outside, 'secret.yaml'), join(policies, 'secret.yaml'));
      symlinkSync(join(outside, 'extra.yaml'), join(policies, 'extra.yaml'));
      symlinkSync('routes.yaml', join(policies, 'alias.yml')); // inside the root: not followed either
      symlinkSync(outside, join(policies, 'shared')); // a folder link: noted
      writeFileSync(join(policies, '.hidden.yaml'), ROUTE('hidden'));
      mkdirSync(join(policies, '.drafts'));
      writeFileSync(join(policies, '.drafts', 'draft.yaml'), ROUTE('draft'));
      mkdirSync(join(policies, 'node_modules'));
      writeFileSync(join(policies, 'node_modules', 'x.yaml'), ROUTE('vendored'));
      writeFileSync(join(policies, 'forged\nerror routes.yaml:1:1: injected.yaml'), 'kind: Nope\n');
      writeFileSync(Buffer.from(join(policies, 'latin1-caf\xe9.yaml'), 'latin1'), 'apiVersion: portcullis.dev/v1\nkind: Bogus\nmetadata: { name: b }\nspec: {}\n');
    });
    both = await readBoth(repo);
  });

  it('the directory and the git revision give the same errors, notes and result', () => {
    expect(both.dir).toEqual(both.git);
    expect(both.dir.ok).toBe(false);
  });

  it('the control server (its git follower, with the real compiler) refuses the commit with the very same errors', async () => {
    const logs: string[] = [];
    const follower = new PolicyFollower({
      repo,
      branch: 'main',
      path: 'policies',
      workDir: join(work, 'follower-mirror.git'),
      pollIntervalMs: 0,
      compile: (files, now) => compileSources(files, now),
      publish: () => ({ ok: true, value: { version: 'v1' } }),
      logger: pino({ level: 'info' }, { write: (line: string) => void logs.push(line) }),
      registry: new Registry(),
      clock: () => NOW,
    });
    try {
      const outcome = await follower.start();
      expect(outcome.kind).toBe('rejected');
      expect(outcome.kind === 'rejected' ? outcome.errors.map(formatDiagnostic) : []).toEqual(both.dir.lines);
      expect(logs.join('')).toContain('policy files not read');
      expect(logs.join('')).not.toContain('SECRET-HASH');
    } finally {
      await follower.stop();
    }
  });

  it('links named like policy files are errors naming the link and its target; nothing behind them is read or quoted', () => {
    const text = both.dir.lines.join('\n');
    expect(both.dir.lines).toEqual(
      expect.arrayContaining([
        'policies/shadow.yaml: is a symbolic link (to "/etc/shadow"): not read; policy files must be regular files (links are never followed)',
        'policies/alias.yml: is a symbolic link (to "routes.yaml"): not read; policy files must be regular files (links are never followed)',
        expect.stringMatching(/^policies\/secret\.yaml: is a symbolic link \(to ".*secret\.yaml"\): not read/),
        expect.stringMatching(/^policies\/extra\.yaml: is a symbolic link \(to ".*extra\.yaml"\): not read/),
      ]),
    );
    expect(text).not.toContain('SECRET-HASH');
    expect(text).not.toContain('smuggled');
    expect(both.dir.notes).toContain('symbolic links are not followed: policies/shared');
  });

  it('hidden names and node_modules are not read, and the reader says so', () => {
    expect(both.dir.notes).toContain('not read (names starting with "." and node_modules are skipped): policies/.drafts/, policies/.hidden.yaml, policies/node_modules/');
    expect(both.dir.lines.join('\n')).not.toMatch(/hidden|draft|vendored/);
  });

  it('odd file names are errors, printed escaped on one line, and their files are still checked', () => {
    const forged = '"policies/forged\\nerror routes.yaml:1:1: injected.yaml"';
    const latin1 = '"policies/latin1-caf\\xe9.yaml"';
    expect(both.dir.lines).toEqual(
      expect.arrayContaining([
        `${forged}: file name has control characters or bytes that are not UTF-8: rename the file`,
        `${latin1}: file name has control characters or bytes that are not UTF-8: rename the file`,
        expect.stringMatching(/^"policies\/latin1-caf\\xe9\.yaml":2:7 .*unknown kind "Bogus"/),
        expect.stringContaining(`${forged}:1:1`),
      ]),
    );
    for (const line of both.dir.lines) expect(line).not.toMatch(/\n/);
  });

  it('portcullis validate prints one line per error or note, nothing forged, exit 1', async () => {
    const r = await runCli(['validate', 'policies'], { cwd: repo, now: NOW });
    expect(r.code).toBe(1);
    const lines = r.err.trimEnd().split('\n');
    for (const line of lines.slice(0, -1)) expect(line).toMatch(/^(error|note) /);
    expect(lines).not.toContain('error routes.yaml:1:1: injected.yaml');
    expect(r.err).not.toContain('SECRET-HASH');
  });
});

describe('a link to a valid policy file', () => {
  it('is refused by both readers instead of being compiled in', async () => {
    const repo = repoWith('valid-link', (policies, outside) => {
      writeFileSync(join(outside, 'extra.yaml'), ROUTE('smuggled'));
      symlinkSync(join(outside, 'extra.yaml'), join(policies, 'extra.yaml'));
    });
    const both = await readBoth(repo);
    expect(both.dir).toEqual(both.git);
    expect(both.dir.ok).toBe(false);
    expect(both.dir.lines).toEqual([expect.stringMatching(/^policies\/extra\.yaml: is a symbolic link/)]);
  });

  it('a file over the size limit is refused by both readers before it is read', async () => {
    const repo = repoWith('huge', (policies) => writeFileSync(join(policies, 'huge.yaml'), '#'.repeat(5 * 1024 * 1024)));
    const both = await readBoth(repo);
    expect(both.dir).toEqual(both.git);
    expect(both.dir.lines).toEqual(['policies/huge.yaml: is 5.0 MiB, more than the 4 MiB a policy file may hold: not read; split it']);
  });

  it('a policies/ that is a link is not followed by `validate` (no argument) either: both read the root', async () => {
    const repo = join(work, 'linked-root');
    const outside = join(work, 'linked-root-outside');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'secret.yaml'), `${SECRET}\n`);
    mkdirSync(repo);
    symlinkSync(outside, join(repo, 'policies'));
    writeFileSync(join(repo, 'route.yaml'), ROUTE('at-root'));
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-qm', 'tree');
    const cli = await runCli(['validate'], { cwd: repo, now: NOW });
    const rev = await readPolicyFilesAt(repo, 'HEAD', 'policies');
    if (!rev.ok) throw new Error(rev.errors[0]!.message);
    const fromGit = withTreeProblems(rev.value, compileSources(rev.value.files, NOW));
    expect(rev.value.root).toBe('');
    expect(cli.err).toContain('note symbolic links are not followed: policies\n');
    expect(rev.value.notes).toEqual(['symbolic links are not followed: policies']);
    // Same verdict from both: route.yaml at the root read, the link's target never.
    const gitLines = fromGit.ok ? [] : fromGit.errors.map(formatDiagnostic);
    for (const line of gitLines) expect(cli.err).toContain(line);
    expect(cli.err).not.toContain('SECRET-HASH');
    expect(cli.code).toBe(fromGit.ok ? 0 : 1);
  });

  it('a clean tree reads the same both ways and compiles', async () => {
    const repo = repoWith('clean', () => undefined);
    const both = await readBoth(repo);
    expect(both.dir).toEqual(both.git);
    expect(both.dir.ok).toBe(true);
    expect(both.dir.notes).toEqual([]);
    expect(both.dir.routes.length).toBeGreaterThan(0);
  });
});
