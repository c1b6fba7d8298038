/**
 * The directory reader, one of the two policy sources (the other is a git revision, sources/git-tree.ts):
 * every policy file under a folder, as `SourceFile`s for the compiler. The only reader of the disk.
 * What is read, refused or noted is decided by the rule both readers share (sources/policy-tree.ts).
 */
import { constants } from 'node:fs';
import { lstat, open, readdir, readlink, stat } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { isPolicyFileName, MAX_FILE_BYTES, type SourceFile } from '../compiler';
import { positionless, type Diagnostic, type Result } from '../compiler/result';
import { decodeName, decodePolicyText, isSkippedName, judgeEntries, type PolicyTree, type TreeEntry } from './policy-tree';

export interface ReadOptions {
  /** Paths in diagnostics are relative to this folder (default: the process's working directory). */
  readonly relativeTo?: string;
}

const SLASH = Buffer.from('/');

/** Every entry below `root` (names as bytes, so no name is mangled), not descending into links or skipped folders. */
async function walk(root: Buffer): Promise<{ abs: Buffer; relative: string; kind: TreeEntry['kind'] }[]> {
  const out: { abs: Buffer; relative: string; kind: TreeEntry['kind'] }[] = [];
  const visit = async (dir: Buffer, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true, encoding: 'buffer' })) {
      const name = decodeName(entry.name);
      // The repository's own store is never part of a tree (git mode cannot see it either).
      if (name === '.git') continue;
      const abs = Buffer.concat([dir, SLASH, entry.name]);
      const relPath = rel === '' ? name : `${rel}/${name}`;
      if (entry.isDirectory()) {
        // A checked-out submodule is a folder with its own .git: git mode sees a gitlink, not files.
        const nested = await stat(Buffer.concat([abs, SLASH, Buffer.from('.git')])).then(() => true, () => false);
        out.push({ abs, relative: relPath, kind: nested ? 'submodule' : 'folder' });
        if (!nested && !isSkippedName(name)) await visit(abs, relPath);
      } else {
        out.push({ abs, relative: relPath, kind: entry.isFile() ? 'file' : entry.isSymbolicLink() ? 'symlink' : 'other' });
      }
    }
  };
  await visit(root, '');
  return out;
}

/** Reads a regular file, refusing to go through a link even if one was swapped in since the walk. */
async function readRegular(abs: Buffer): Promise<Buffer> {
  const handle = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw Object.assign(new Error('not a regular file'), { code: 'ENOTREG' });
    // Grown since the walk measured it: read no more than the limit allows (the compiler then refuses it).
    const buf = Buffer.alloc(Math.min(info.size, MAX_FILE_BYTES + 1));
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buf.subarray(0, filled);
  } finally {
    await handle.close();
  }
}

/**
 * The policy tree under `root`: every regular *.yaml / *.yml file in any layout, sorted by path,
 * with the problems and notes of the shared rule (sources/policy-tree.ts). `root` itself may be a
 * link (the caller chose it); nothing below it is followed.
 */
export async function readPolicyTree(root: string, options: ReadOptions = {}): Promise<Result<PolicyTree>> {
  const base = options.relativeTo ?? process.cwd();
  const display = (abs: string): string => {
    const rel = relative(base, abs);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : abs;
  };
  try {
    const info = await stat(root);
    if (!info.isDirectory()) return { ok: false, errors: [positionless('not a folder', { file: display(root) })] };
  } catch {
    return { ok: false, errors: [positionless('policy folder not found', { file: display(root) })] };
  }
  // Entries are named relative to `relativeTo` when inside it (the root itself may be it: no prefix).
  const prefix = relative(base, root) === '' ? '' : `${display(root)}/`;
  const found = await walk(Buffer.from(root));
  const byPath = new Map<string, Buffer>();
  const entries: TreeEntry[] = [];
  for (const f of found) {
    const path = `${prefix}${f.relative}`;
    byPath.set(path, f.abs);
    const target = f.kind === 'symlink' ? decodeName(await readlink(f.abs, { encoding: 'buffer' }).catch(() => Buffer.from('?'))) : undefined;
    const size = f.kind === 'file' && isPolicyFileName(path) ? (await lstat(f.abs).catch(() => null))?.size : undefined;
    entries.push({ path, relative: f.relative, kind: f.kind, target, size });
  }
  const verdict = judgeEntries(entries);
  const files: SourceFile[] = [];
  const problems: Diagnostic[] = [...verdict.problems];
  for (const e of verdict.read) {
    try {
      const text = decodePolicyText(e.path, await readRegular(byPath.get(e.path)!));
      if (text.ok) files.push({ path: e.path, text: text.value });
      else problems.push(...text.errors);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ELOOP' ? 'became a symbolic link while being read: not read' : `cannot be read: ${code ?? 'error'}`;
      problems.push(positionless(why, { file: e.path }));
    }
  }
  return { ok: true, value: { files, problems, notes: verdict.notes } };
}

/** The files of `readPolicyTree`, or its problems (for callers that want no notes and no partial reads). */
export async function readPolicyFiles(root: string, options: ReadOptions = {}): Promise<Result<SourceFile[]>> {
  const tree = await readPolicyTree(root, options);
  if (!tree.ok) return tree;
  return tree.value.problems.length > 0 ? { ok: false, errors: tree.value.problems } : { ok: true, value: [...tree.value.files] };
}
