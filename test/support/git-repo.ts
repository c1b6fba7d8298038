/**
 * Test harness: real git repositories in temporary directories, with real commits, for the git
 * follower and the end-to-end tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Policy Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'Policy Author',
  GIT_COMMITTER_EMAIL: 'author@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
};

export class TestRepo {
  private constructor(readonly dir: string) {}

  /** A fresh repository with branch `main` (no commit yet). */
  static create(prefix = 'portcullis-repo-'): TestRepo {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    const repo = new TestRepo(dir);
    repo.git('init', '--quiet', '-b', 'main');
    repo.git('config', 'commit.gpgsign', 'false');
    return repo;
  }

  git(...args: string[]): string {
    return execFileSync('git', args, { cwd: this.dir, env: ENV, encoding: 'utf8' }).trim();
  }

  /** Writes files (path → text; null deletes) and commits them; returns the commit id. */
  commit(files: Record<string, string | Buffer | null>, message: string, branch = 'main'): string {
    const current = this.git('symbolic-ref', '--short', 'HEAD');
    if (current !== branch) {
      const exists = this.git('branch', '--list', branch) !== '';
      this.git('checkout', '--quiet', ...(exists ? [branch] : ['-b', branch]));
    }
    for (const [file, text] of Object.entries(files)) {
      const full = path.join(this.dir, file);
      if (text === null) {
        this.git('rm', '--quiet', '-r', '--', file);
      } else {
        mkdirSync(path.dirname(full), { recursive: true });
        writeFileSync(full, text);
        this.git('add', '--', file);
      }
    }
    this.git('commit', '--quiet', '--allow-empty', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }

  head(branch = 'main'): string {
    return this.git('rev-parse', branch);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function tempDir(prefix = 'portcullis-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}
