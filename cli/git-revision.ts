/**
 * Reads the policy files of one git revision without touching the work tree (`git ls-tree` +
 * `git cat-file`), so `portcullis plan` can compile two revisions side by side.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Result } from '../compiler/result';

const exec = promisify(execFile);
const MAX_BUFFER = 512 * 1024 * 1024;

export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

async function git(repo: string, args: readonly string[]): Promise<string> {
  return (await exec('git', ['-C', repo, ...args], { maxBuffer: MAX_BUFFER, encoding: 'utf8' })).stdout;
}

/** The policy folder of a revision: `folder` when the revision has it, else the repository root. */
export async function readPolicyFilesAt(
  repo: string,
  revision: string,
  folder: string,
): Promise<Result<{ commit: string; root: string; files: SourceFile[] }>> {
  let commit: string;
  try {
    commit = (await git(repo, ['rev-parse', '--verify', '--quiet', `${revision}^{commit}`])).trim();
  } catch {
    return {
      ok: false,
      errors: [{ file: repo, line: 0, column: 0, subject: '', path: '', message: `unknown git revision "${revision}"` }],
    };
  }
  const clean = folder.replace(/^\.\/+|\/+$/g, '');
  const hasFolder =
    clean !== '' && (await git(repo, ['ls-tree', '-d', '--name-only', commit, '--', clean])).trim() === clean;
  const root = hasFolder ? clean : '';
  const listing = await git(repo, ['ls-tree', '-r', '-z', '--full-tree', commit, ...(root ? ['--', root] : [])]);
  const blobs = listing
    .split('\0')
    .filter(Boolean)
    .map((line) => {
      const [meta, path] = line.split('\t') as [string, string];
      const [, type, object] = meta.split(' ') as [string, string, string];
      return { type, object, path };
    })
    .filter((e) => e.type === 'blob' && /\.ya?ml$/i.test(e.path));
  if (blobs.length === 0) return { ok: true, value: { commit, root, files: [] } };
  // One `git cat-file --batch` for every blob instead of a process per file.
  const batch = await new Promise<Buffer>((resolve, reject) => {
    const child = execFile('git', ['-C', repo, 'cat-file', '--batch'], { maxBuffer: MAX_BUFFER, encoding: 'buffer' }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    );
    child.stdin?.end(blobs.map((b) => b.object).join('\n') + '\n');
  });
  const files: SourceFile[] = [];
  let offset = 0;
  for (const blob of blobs) {
    const headerEnd = batch.indexOf(0x0a, offset);
    const size = Number(batch.subarray(offset, headerEnd).toString('utf8').split(' ')[2]);
    const start = headerEnd + 1;
    files.push({ path: blob.path, text: batch.subarray(start, start + size).toString('utf8') });
    offset = start + size + 1;
  }
  return { ok: true, value: { commit, root, files } };
}
