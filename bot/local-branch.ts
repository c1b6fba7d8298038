/**
 * Bot, local mode (break-glass `--local`, the demo): a lockdown committed on a new branch of a local
 * checkout with git plumbing — the work tree, the index and the checked-out branch are not touched;
 * the user merges it with git.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function git(dir: string, args: readonly string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<string> {
  const child = run('git', ['-C', dir, ...args], { env: { ...process.env, GIT_TERMINAL_PROMPT: '0', ...opts.env }, maxBuffer: 64 * 1024 * 1024 });
  if (opts.input !== undefined) {
    child.child.stdin?.end(opts.input);
  }
  return (await child).stdout.trim();
}

/** Commits `file` (text, or null to delete) on top of `base` as the new branch `branch`; returns the commit. */
export async function commitOnNewBranch(dir: string, base: string, branch: string, file: string, text: string | null, message: string): Promise<string> {
  const parent = await git(dir, ['rev-parse', '--verify', `${base}^{commit}`]);
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
    const commit = await git(dir, ['commit-tree', tree, '-p', parent], { input: message, env: { GIT_AUTHOR_NAME: process.env.GIT_AUTHOR_NAME ?? 'portcullis', GIT_AUTHOR_EMAIL: process.env.GIT_AUTHOR_EMAIL ?? 'portcullis@localhost', GIT_COMMITTER_NAME: process.env.GIT_COMMITTER_NAME ?? 'portcullis', GIT_COMMITTER_EMAIL: process.env.GIT_COMMITTER_EMAIL ?? 'portcullis@localhost' } });
    // The all-zero old value: fails if the branch already exists (nothing is overwritten).
    await git(dir, ['update-ref', `refs/heads/${branch}`, commit, '0'.repeat(40)]);
    return commit;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
