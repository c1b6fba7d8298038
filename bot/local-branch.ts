/**
 * Bot, local mode (break-glass `--local`, the demo's bot): lockdowns committed on branches of a
 * local checkout with git plumbing — the work tree, the index and the checked-out branch are not
 * touched; the user merges with git.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ZERO_SHA = '0'.repeat(40);

/** `git -C dir …`, stdout trimmed (as is with `raw`); rejects with git's stderr on a non-zero exit. */
export async function git(dir: string, args: readonly string[], opts: { input?: string; env?: Record<string, string>; raw?: boolean } = {}): Promise<string> {
  const child = run('git', ['-C', dir, ...args], { env: { ...process.env, GIT_TERMINAL_PROMPT: '0', ...opts.env }, maxBuffer: 64 * 1024 * 1024 });
  if (opts.input !== undefined) {
    child.child.stdin?.end(opts.input);
  }
  const out = (await child).stdout;
  return opts.raw ? out : out.trim();
}

const identity = () => ({
  GIT_AUTHOR_NAME: process.env.GIT_AUTHOR_NAME ?? 'portcullis',
  GIT_AUTHOR_EMAIL: process.env.GIT_AUTHOR_EMAIL ?? 'portcullis@localhost',
  GIT_COMMITTER_NAME: process.env.GIT_COMMITTER_NAME ?? 'portcullis',
  GIT_COMMITTER_EMAIL: process.env.GIT_COMMITTER_EMAIL ?? 'portcullis@localhost',
});

/** A commit of `parent`'s tree with `file` set to `text` (or removed, when null); nothing else changes. */
export async function commitFileOn(dir: string, parent: string, file: string, text: string | null, message: string): Promise<string> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'portcullis-index-'));
  const env = { GIT_INDEX_FILE: path.join(scratch, 'index') };
  try {
    await git(dir, ['read-tree', parent], { env });
    if (text === null) await git(dir, ['update-index', '--force-remove', '--', file], { env });
    else {
      const blob = await git(dir, ['hash-object', '-w', '--stdin'], { input: text });
      await git(dir, ['update-index', '--add', '--cacheinfo', `100644,${blob},${file}`], { env });
    }
    const tree = await git(dir, ['write-tree'], { env });
    return await git(dir, ['commit-tree', tree, '-p', parent], { input: message, env: identity() });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Commits `file` (text, or null to delete) on top of `base` as the new branch `branch`; returns the commit. */
export async function commitOnNewBranch(dir: string, base: string, branch: string, file: string, text: string | null, message: string): Promise<string> {
  const parent = await git(dir, ['rev-parse', '--verify', `${base}^{commit}`]);
  const commit = await commitFileOn(dir, parent, file, text, message);
  // The all-zero old value: fails if the branch already exists (nothing is overwritten).
  await git(dir, ['update-ref', `refs/heads/${branch}`, commit, ZERO_SHA]);
  return commit;
}
