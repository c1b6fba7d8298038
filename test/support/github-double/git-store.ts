/**
 * GitHub double: the repository's git state, kept in a real bare repository and changed only with
 * git plumbing (hash-object, mktree via a scratch index, commit-tree, update-ref with the old value,
 * merge-tree), so merge commits are real and a control server can follow the same repository.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export interface Person {
  readonly name: string;
  readonly email: string;
  readonly date: string;
}

export interface CommitInfo {
  readonly sha: string;
  readonly tree: string;
  readonly parents: readonly string[];
  readonly message: string;
  readonly author: Person;
  readonly committer: Person;
}

export interface TreeEntry {
  readonly path: string;
  readonly mode: string;
  readonly type: 'blob' | 'tree' | 'commit';
  readonly sha: string;
  readonly size?: number;
}

/** path → new text, or null to delete the file. */
export type FileChanges = Readonly<Record<string, string | null>>;

const BOT: Person = { name: 'GitHub', email: 'noreply@github.com', date: '' };

export class GitStore {
  readonly dir: string;
  /** Object sha → type, and blob sha → bytes: git objects are immutable, so both are safe to keep. */
  private readonly types = new Map<string, string>();
  private readonly blobs = new Map<string, Buffer>();

  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), 'github-double-'));
    this.git(['init', '--quiet', '--bare', '-b', 'main']);
  }

  git(args: readonly string[], opts: { input?: string | Buffer; env?: Record<string, string> } = {}): string {
    return execFileSync('git', args, {
      cwd: this.dir,
      input: opts.input,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0', ...opts.env },
    }).trim();
  }

  private tryGit(args: readonly string[]): string | null {
    try {
      return this.git(args);
    } catch {
      return null;
    }
  }

  /** The commit a ref (`heads/main`, `refs/heads/x`) points at, or null. */
  resolve(ref: string): string | null {
    const full = ref.startsWith('refs/') ? ref : `refs/${ref}`;
    return this.tryGit(['rev-parse', '--verify', '--quiet', `${full}^{commit}`]);
  }

  exists(sha: string, type: 'commit' | 'tree' | 'blob'): boolean {
    if (!/^[0-9a-f]{40}$/.test(sha)) return false;
    // Objects never change: what git said once (or what the double wrote itself) is answered from memory.
    let known: string | null | undefined = this.types.get(sha);
    if (known === undefined) {
      known = this.tryGit(['cat-file', '-t', sha]);
      if (known !== null) this.types.set(sha, known);
    }
    return known === type;
  }

  /** Compare-and-swap: moves `ref` to `sha` only if it still points at `old` (null = must not exist). */
  casRef(ref: string, sha: string, old: string | null): boolean {
    const full = ref.startsWith('refs/') ? ref : `refs/${ref}`;
    return this.tryGit(['update-ref', full, sha, old ?? '0'.repeat(40)]) !== null;
  }

  deleteRef(ref: string): boolean {
    const full = ref.startsWith('refs/') ? ref : `refs/${ref}`;
    return this.tryGit(['update-ref', '-d', full]) !== null;
  }

  refs(prefix = 'refs/heads/'): string[] {
    const out = this.git(['for-each-ref', '--format=%(refname)', prefix]);
    return out ? out.split('\n') : [];
  }

  isAncestor(ancestor: string, descendant: string): boolean {
    return this.tryGit(['merge-base', '--is-ancestor', ancestor, descendant]) !== null;
  }

  writeBlob(content: Buffer): string {
    const sha = this.git(['hash-object', '-w', '--stdin'], { input: content });
    this.blobs.set(sha, content);
    this.types.set(sha, 'blob');
    return sha;
  }

  /** A blob's bytes; from memory when the double wrote or read it before (one git process less per read). */
  readBlob(sha: string): Buffer {
    let content = this.blobs.get(sha);
    if (!content) {
      content = execFileSync('git', ['cat-file', 'blob', sha], { cwd: this.dir, maxBuffer: 64 * 1024 * 1024 });
      this.blobs.set(sha, content);
    }
    return content;
  }

  commit(sha: string): CommitInfo {
    const raw = this.git(['cat-file', 'commit', sha]);
    const [head = '', ...rest] = raw.split('\n\n');
    const lines = head.split('\n');
    const person = (key: string): Person => {
      const line = lines.find((l) => l.startsWith(key + ' ')) ?? '';
      const m = /^\S+ (.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(line);
      return m ? { name: m[1]!, email: m[2]!, date: new Date(Number(m[3]) * 1000).toISOString().replace('.000Z', 'Z') } : BOT;
    };
    return {
      sha,
      tree: lines.find((l) => l.startsWith('tree '))!.slice(5),
      parents: lines.filter((l) => l.startsWith('parent ')).map((l) => l.slice(7)),
      message: rest.join('\n\n'),
      author: person('author'),
      committer: person('committer'),
    };
  }

  /** Entries of a tree (recursive: every blob and subtree, with paths from the root). */
  tree(sha: string, recursive: boolean): TreeEntry[] {
    const out = this.git(['ls-tree', '-l', ...(recursive ? ['-r', '-t'] : []), sha]);
    if (!out) return [];
    return out.split('\n').map((line) => {
      const [meta = '', p = ''] = line.split('\t');
      const [mode = '', type = '', objectSha = '', size = '-'] = meta.split(/\s+/);
      return { path: p, mode, type: type as TreeEntry['type'], sha: objectSha, ...(size === '-' ? {} : { size: Number(size) }) };
    });
  }

  /** The tree at `dir` ('' = root) in a commit, or null. */
  resolveTree(commit: string, dir: string): string | null {
    const sha = this.tryGit(['rev-parse', '--verify', '--quiet', `${commit}:${dir}`]);
    return sha && this.tryGit(['cat-file', '-t', sha]) === 'tree' ? sha : null;
  }

  /** The blob at `file` in a commit, or null. */
  fileAt(commit: string, file: string): { sha: string; content: Buffer } | null {
    const sha = this.tryGit(['rev-parse', '--verify', '--quiet', `${commit}:${file}`]);
    if (!sha || this.tryGit(['cat-file', '-t', sha]) !== 'blob') return null;
    return { sha, content: this.readBlob(sha) };
  }

  /** A tree: `base` (or empty) with entries set (sha) or removed (null), built in a scratch index. */
  buildTree(base: string | null, entries: ReadonlyArray<{ path: string; mode: string; sha: string | null }>): string {
    const scratch = mkdtempSync(path.join(tmpdir(), 'github-double-index-'));
    const env = { GIT_INDEX_FILE: path.join(scratch, 'index') };
    try {
      if (base) this.git(['read-tree', base], { env });
      for (const e of entries) {
        // Mode 0 removes the entry; --force-remove would want a work tree, and this repository is bare.
        if (e.sha === null) this.git(['update-index', '--index-info'], { env, input: `0 ${'0'.repeat(40)}\t${e.path}\n` });
        else this.git(['update-index', '--add', '--cacheinfo', `${e.mode},${e.sha},${e.path}`], { env });
      }
      return this.git(['write-tree'], { env });
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }

  commitTree(tree: string, parents: readonly string[], message: string, author: Person, committer: Person = author): string {
    const env = {
      GIT_AUTHOR_NAME: author.name,
      GIT_AUTHOR_EMAIL: author.email,
      GIT_AUTHOR_DATE: author.date,
      GIT_COMMITTER_NAME: committer.name,
      GIT_COMMITTER_EMAIL: committer.email,
      GIT_COMMITTER_DATE: committer.date,
    };
    return this.git(['commit-tree', tree, ...parents.flatMap((p) => ['-p', p])], { input: message, env });
  }

  /** A commit on top of `parent` with the file changes applied. */
  commitFiles(parent: string | null, changes: FileChanges, message: string, author: Person): string {
    const entries = Object.entries(changes).map(([p, text]) => ({ path: p, mode: '100644', sha: text === null ? null : this.writeBlob(Buffer.from(text)) }));
    const tree = this.buildTree(parent ? this.commit(parent).tree : null, entries);
    return this.commitTree(tree, parent ? [parent] : [], message, author);
  }

  /** A real merge commit of `head` into `base`, or null on conflict. */
  merge(base: string, head: string, message: string, author: Person): string | null {
    const tree = this.tryGit(['merge-tree', '--write-tree', '--no-messages', base, head]);
    if (tree === null) return null;
    return this.commitTree(tree.split('\n')[0]!, [base, head], message, author);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
