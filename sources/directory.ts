/**
 * The directory reader, one of the two policy sources (the other is a git revision, sources/git.ts):
 * every policy file under a folder, as `SourceFile`s for the compiler. The only reader of the disk.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { isPolicyFileName, type SourceFile } from '../compiler';
import type { Diagnostic, Result } from '../compiler/result';

export interface ReadOptions {
  /** Paths in diagnostics are relative to this folder (default: the process's working directory). */
  readonly relativeTo?: string;
}

/**
 * Every *.yaml / *.yml file under `root`, in any layout, sorted by path. Hidden folders (`.git`) and
 * `node_modules` are skipped; symbolic links to folders are not followed.
 */
export async function readPolicyFiles(root: string, options: ReadOptions = {}): Promise<Result<SourceFile[]>> {
  const base = options.relativeTo ?? process.cwd();
  const display = (abs: string): string => {
    const rel = relative(base, abs);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : abs;
  };
  try {
    const info = await stat(root);
    if (!info.isDirectory()) {
      return { ok: false, errors: [{ file: display(root), line: 0, column: 0, subject: '', path: '', message: 'not a folder' }] };
    }
  } catch {
    return { ok: false, errors: [{ file: display(root), line: 0, column: 0, subject: '', path: '', message: 'policy folder not found' }] };
  }
  const paths: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const abs = join(dir, entry.name);
      if (entry.isDirectory()) await walk(abs);
      else if (isPolicyFileName(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && (await stat(abs).catch(() => null))?.isFile()))) {
        paths.push(abs);
      }
    }
  };
  await walk(root);
  paths.sort();
  const files: SourceFile[] = [];
  const errors: Diagnostic[] = [];
  for (const abs of paths) {
    try {
      files.push({ path: display(abs), text: await readFile(abs, 'utf8') });
    } catch (e) {
      errors.push({ file: display(abs), line: 0, column: 0, subject: '', path: '', message: `cannot be read: ${(e as NodeJS.ErrnoException).code ?? 'error'}` });
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: files };
}
