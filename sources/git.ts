/**
 * Thin wrapper over the real `git` binary for the control server's git follower: a bare mirror of
 * one branch in a work dir, fetched on demand, and the policy files read straight from its objects.
 * Every call is `execFile` with an argument list (no shell), so repository URLs and paths are never
 * interpreted by a shell.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { decodeName } from './policy-tree';

/** A git command that exited non-zero; `stderr` says why (e.g. unreachable remote, unknown branch). */
export class GitError extends Error {
  /** The arguments and stderr with credentials redacted (they are logged). */
  readonly args: readonly string[];
  readonly stderr: string;
  constructor(
    args: readonly string[],
    readonly exitCode: number | null,
    stderr: string,
  ) {
    super(redactCredentials(`git ${args.join(' ')} failed (${exitCode ?? 'signal'}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    this.name = 'GitError';
    this.args = args.map(redactCredentials);
    this.stderr = redactCredentials(stderr);
  }
}

/**
 * Replaces the credentials in every URL of `text` (`https://x-access-token:TOKEN@host/...` →
 * `https://***@host/...`): a repository URL may carry a token, and it must never reach a log line,
 * `/status` or an error message. The one redaction function for repository URLs.
 */
export function redactCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, '$1***@');
}

/** One `Key: value` trailer of a commit message. */
export interface CommitTrailer {
  readonly key: string;
  readonly value: string;
}

/** A file of the policy folder at one commit: its repository path and its blob id. */
export interface TreeEntry {
  readonly path: string;
  readonly blob: string;
}

// Environment for every git call: no prompts (a follower must never hang on a credential prompt),
// no user/system config surprises in tests beyond what the operator configured.
const GIT_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  GIT_TERMINAL_PROMPT: '0',
  GIT_ASKPASS: '/bin/true',
  LC_ALL: 'C',
};

const MAX_OUTPUT = 256 * 1024 * 1024;

export function git(args: readonly string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...args],
      { cwd: opts.cwd, env: GIT_ENV, maxBuffer: MAX_OUTPUT, timeout: opts.timeoutMs ?? 120_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : null;
          reject(new GitError(args, code, stderr || err.message));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/** Like `git`, for output that must stay bytes (file names that are not UTF-8). */
export function gitBytes(args: readonly string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...args],
      { cwd: opts.cwd, env: GIT_ENV, maxBuffer: MAX_OUTPUT, timeout: opts.timeoutMs ?? 120_000, encoding: 'buffer' },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : null;
          reject(new GitError(args, code, stderr.toString('utf8') || err.message));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/** One entry of a tree listing: its path (names decoded losslessly, see decodeName), git mode and object. */
export interface RawTreeEntry {
  readonly path: string;
  readonly mode: string;
  readonly object: string;
  /** Blob size in bytes (undefined for folders and submodules). */
  readonly size: number | undefined;
}

/**
 * Read access to the objects of one repository (bare or not), by its git dir: commits, trees and
 * blobs are read straight from the object store, never from a work tree. The follower's mirror and
 * `portcullis plan` (two revisions side by side) both read policies through it.
 */
export class GitObjects {
  constructor(
    /** The repository's git directory (a bare repository, or the `.git` of a checkout). */
    readonly gitDir: string,
  ) {}

  /** The git directory of the repository containing `dir` (throws GitError when there is none). */
  static async at(dir: string): Promise<GitObjects> {
    return new GitObjects((await git(['-C', dir, 'rev-parse', '--absolute-git-dir'])).trim());
  }

  async resolve(rev: string): Promise<string> {
    const out = await git(['--git-dir', this.gitDir, 'rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
    return out.trim();
  }

  /**
   * One-line summary of a commit for logs and status: subject, author, commit time, and the trailers
   * of its message (`Key: value` lines of the last paragraph, e.g. Portcullis-Allow-Fleet-Removal).
   */
  async describe(commit: string): Promise<{ subject: string; author: string; committedAt: string; trailers: readonly CommitTrailer[] }> {
    const out = await git(['--git-dir', this.gitDir, 'show', '-s', '--format=%s%x00%an <%ae>%x00%cI%x00%(trailers:only,unfold)', commit]);
    const [subject = '', author = '', committedAt = '', trailerText = ''] = out.trim().split('\0');
    const trailers: CommitTrailer[] = [];
    for (const line of trailerText.split('\n')) {
      const colon = line.indexOf(':');
      if (colon > 0) trailers.push({ key: line.slice(0, colon).trim(), value: line.slice(colon + 1).trim() });
    }
    return { subject, author, committedAt, trailers };
  }

  /** True when `folder` exists as a directory at `commit`. */
  async hasFolder(commit: string, folder: string): Promise<boolean> {
    if (folder === '' || folder === '.') return true;
    const out = await git(['--git-dir', this.gitDir, 'ls-tree', '-z', commit, '--', folder.replace(/\/+$/, '')]);
    return out.split('\0').some((line) => line.startsWith('040000 tree '));
  }

  /** Regular files (blobs) under `folder` at `commit`, recursively, sorted by path. */
  async listFiles(commit: string, folder: string): Promise<TreeEntry[]> {
    const args = ['--git-dir', this.gitDir, 'ls-tree', '-r', '-z', '--full-tree', commit];
    const clean = folder.replace(/^\.?\/+/, '').replace(/\/+$/, '');
    if (clean !== '' && clean !== '.') args.push('--', `${clean}/`);
    const out = await git(args);
    const entries: TreeEntry[] = [];
    for (const record of out.split('\0')) {
      if (!record) continue;
      // "<mode> SP <type> SP <object> TAB <path>"
      const tab = record.indexOf('\t');
      const [mode, type, blob] = record.slice(0, tab).split(' ');
      if (type !== 'blob' || blob === undefined || mode === '120000' || mode === '160000') continue; // skip symlinks, submodules
      entries.push({ path: record.slice(tab + 1), blob });
    }
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return entries;
  }

  /**
   * Every entry under `folder` at `commit` (blobs, links, submodules and the folders themselves:
   * `ls-tree -r -t -l`, with blob sizes), names read as bytes so none is mangled, sorted by path.
   */
  async listTree(commit: string, folder: string): Promise<RawTreeEntry[]> {
    const args = ['--git-dir', this.gitDir, 'ls-tree', '-r', '-t', '-l', '-z', '--full-tree', commit];
    const clean = folder.replace(/^\.?\/+/, '').replace(/\/+$/, '');
    if (clean !== '' && clean !== '.') args.push('--', `${clean}/`);
    const out = await gitBytes(args);
    const entries: RawTreeEntry[] = [];
    let pos = 0;
    while (pos < out.length) {
      const end = out.indexOf(0, pos) < 0 ? out.length : out.indexOf(0, pos);
      const record = out.subarray(pos, end);
      pos = end + 1;
      const tab = record.indexOf(0x09);
      if (tab < 0) continue;
      // "<mode> SP <type> SP <object> SP+ <size or -> TAB <path>"
      const [mode = '', , object = '', sizeText = '-'] = record.subarray(0, tab).toString('latin1').split(/ +/);
      entries.push({ path: decodeName(record.subarray(tab + 1)), mode, object, size: sizeText === '-' ? undefined : Number(sizeText) });
    }
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return entries;
  }

  /** Reads many blobs in one `git cat-file --batch` process (one process per sync, not per file), keyed by blob id. */
  readBlobBytes(blobs: readonly string[]): Promise<Map<string, Buffer>> {
    const unique = [...new Set(blobs)];
    if (unique.length === 0) return Promise.resolve(new Map());
    return new Promise((resolve, reject) => {
      const child = spawn('git', ['--git-dir', this.gitDir, 'cat-file', '--batch'], { env: GIT_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => {
        if (code !== 0) return reject(new GitError(['cat-file', '--batch'], code, stderr));
        try {
          resolve(parseBatch(Buffer.concat(chunks), unique));
        } catch (e) {
          reject(e);
        }
      });
      child.stdin.end(unique.join('\n') + '\n');
    });
  }
}

/**
 * Local bare mirror of one branch of a policy repository. The remote may be a URL or a local path
 * (a local path is fetched through git's own file transport, exactly like a URL).
 */
export class PolicyRepoMirror extends GitObjects {
  /** Ref the fetched branch head is stored under in the mirror. */
  readonly trackingRef: string;

  constructor(
    readonly remote: string,
    readonly branch: string,
    /** Directory of the bare mirror (created when absent). */
    gitDir: string,
  ) {
    super(gitDir);
    this.trackingRef = `refs/portcullis/heads/${branch}`;
  }

  /** Creates the bare mirror when absent; safe to call again on an existing one. */
  async init(): Promise<void> {
    const exists = await stat(path.join(this.gitDir, 'HEAD')).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await mkdir(this.gitDir, { recursive: true });
      await git(['init', '--quiet', '--bare', this.gitDir]);
    }
  }

  /**
   * Fetches the branch and returns the commit it points at. Uses an explicit refspec against the
   * remote itself (no configured remote), so changing `--repo` between runs cannot fetch the wrong one.
   */
  async fetch(): Promise<string> {
    await git(
      ['--git-dir', this.gitDir, 'fetch', '--quiet', '--no-tags', '--force', '--depth=1', '--', this.remote, `+refs/heads/${this.branch}:${this.trackingRef}`],
      { timeoutMs: 120_000 },
    );
    return this.resolve(this.trackingRef);
  }
}

/** Parses `git cat-file --batch` output: "<oid> <type> <size>\n<content>\n" per object. */
function parseBatch(buf: Buffer, expected: readonly string[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  for (const oid of expected) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`git cat-file: truncated output before ${oid}`);
    const header = buf.subarray(pos, nl).toString('utf8');
    const [gotOid, type, sizeText] = header.split(' ');
    if (type === 'missing' || gotOid !== oid || sizeText === undefined) throw new Error(`git cat-file: unexpected header "${header}" for ${oid}`);
    const size = Number(sizeText);
    out.set(oid, buf.subarray(nl + 1, nl + 1 + size));
    pos = nl + 1 + size + 1;
  }
  return out;
}
