/**
 * The one rule both policy readers (a folder on disk, sources/directory.ts; a git revision,
 * sources/git-tree.ts) apply to what they find, so that `validate` on a checkout and `serve` on the
 * same commit read the same files and report the same problems:
 *
 * - Only regular files named *.yaml / *.yml are policy files.
 * - Symbolic links are never followed, inside or outside the policy folder (in git a link is a
 *   blob holding its target: it is never dereferenced). A link named like a policy file is an
 *   error (its target is named, never read or quoted); other links are noted.
 * - Names starting with "." and `node_modules` are not read; the reader says which in a note.
 * - A file name that is not printable (control characters, bytes that are not UTF-8) is an error;
 *   the file is still read, so its other errors are reported too.
 * - Submodules (git) are noted, not read.
 * - A file larger than MAX_FILE_BYTES is refused before it is read.
 */
import { decodePolicyFile, isPolicyFileName, MAX_FILE_BYTES, type SourceFile } from '../compiler';
import { compareDiagnostics, escapeUnprintable, positionless, type Diagnostic, type Result } from '../compiler/result';
import { compareText } from '../compiler/text-order';

/** One entry a reader found under the policy root. `path` is the display path ('/'-separated). */
export interface TreeEntry {
  readonly path: string;
  /** Path relative to the policy root, for the hidden-name rule. */
  readonly relative: string;
  readonly kind: 'file' | 'folder' | 'symlink' | 'submodule' | 'other';
  /** For symlinks: the link's target as stored (never followed). */
  readonly target?: string | undefined;
  /** For files: the size in bytes, known before reading (a hostile tree may hold a huge file). */
  readonly size?: number | undefined;
}

/** What the readers hand on: the files to compile, problems that refuse the tree, and notes. */
export interface PolicyTree {
  readonly files: readonly SourceFile[];
  readonly problems: readonly Diagnostic[];
  readonly notes: readonly string[];
}

const problem = (file: string, message: string): Diagnostic => positionless(message, { file });

const tooLarge = (bytes: number): string =>
  `is ${(bytes / 1048576).toFixed(1)} MiB, more than the ${MAX_FILE_BYTES / 1048576} MiB a policy file may hold: not read; split it`;

/** True for a name the readers skip (with a note): hidden names and node_modules. */
export const isSkippedName = (segment: string): boolean => segment.startsWith('.') || segment === 'node_modules';

/** Names with characters a terminal would interpret or that are not UTF-8 (carried as lone surrogates). */
const hasUnprintable = (name: string): boolean => escapeUnprintable(name) !== name;

/**
 * Which entries are read, which are refused and which are only noted. `entries` are every entry
 * below the root, except what is inside a skipped (hidden, node_modules) folder or a symlink.
 */
export function judgeEntries(entries: readonly TreeEntry[]): { read: TreeEntry[]; problems: Diagnostic[]; notes: string[] } {
  const read: TreeEntry[] = [];
  const problems: Diagnostic[] = [];
  const skipped: string[] = [];
  const links: string[] = [];
  const submodules: string[] = [];
  for (const e of [...entries].sort((a, b) => compareText(a.path, b.path))) {
    const segments = e.relative.split('/');
    if (segments.some(isSkippedName)) {
      // Only the outermost skipped entry is named: the readers do not look inside.
      if (isSkippedName(segments[segments.length - 1]!)) skipped.push(e.kind === 'folder' ? `${e.path}/` : e.path);
      continue;
    }
    const policyName = isPolicyFileName(e.path);
    if (e.kind === 'symlink') {
      if (policyName) problems.push(problem(e.path, `is a symbolic link (to ${JSON.stringify(e.target ?? '?')}): not read; policy files must be regular files (links are never followed)`));
      else links.push(e.path);
    } else if (e.kind === 'submodule') {
      submodules.push(e.path);
    } else if (e.kind === 'other') {
      if (policyName) problems.push(problem(e.path, 'is not a regular file (a FIFO, socket or device): not read'));
    } else if (e.kind === 'file' && policyName) {
      if (hasUnprintable(e.relative)) problems.push(problem(e.path, 'file name has control characters or bytes that are not UTF-8: rename the file'));
      // Refused unread: a blob of zeros compresses to almost nothing in git and would fill memory.
      if (e.size !== undefined && e.size > MAX_FILE_BYTES) problems.push(problem(e.path, tooLarge(e.size)));
      else read.push(e);
    }
  }
  const notes: string[] = [];
  const list = (names: string[]): string => names.slice(0, 10).map((n) => escapeUnprintable(n)).join(', ') + (names.length > 10 ? `, and ${names.length - 10} more` : '');
  if (skipped.length > 0) notes.push(`not read (names starting with "." and node_modules are skipped): ${list(skipped)}`);
  if (links.length > 0) notes.push(`symbolic links are not followed: ${list(links)}`);
  if (submodules.length > 0) notes.push(`submodules are not read: ${list(submodules)}`);
  return { read, problems, notes };
}

/** The compile result of a tree: its problems and the compiler's errors together, sorted (all at once). */
export function withTreeProblems<T>(tree: Pick<PolicyTree, 'problems'>, compiled: Result<T>): Result<T> {
  if (tree.problems.length === 0) return compiled;
  const errors = [...tree.problems, ...(compiled.ok ? [] : compiled.errors)].sort(compareDiagnostics);
  return { ok: false, errors };
}

/**
 * A file name's bytes as a string: UTF-8 where they are UTF-8, every other byte as a lone surrogate
 * U+DC80-U+DCFF (lossless, and printed as `\xHH` by formatDiagnostic).
 */
export function decodeName(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      out += String.fromCharCode(b);
      i += 1;
      continue;
    }
    const need = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
    const text = need > 0 && i + need < bytes.length ? strictUtf8(bytes.subarray(i, i + need + 1)) : null;
    if (text !== null) {
      out += text;
      i += need + 1;
      continue;
    }
    out += String.fromCharCode(0xdc00 + b);
    i += 1;
  }
  return out;
}

const strict = new TextDecoder('utf-8', { fatal: true });
function strictUtf8(chunk: Uint8Array): string | null {
  try {
    return strict.decode(chunk);
  } catch {
    return null;
  }
}

/**
 * A policy file's text, decoded strictly (compiler/model/text.ts): an invalid UTF-8 byte is a
 * problem at its line and column, never silently replaced by U+FFFD. Both readers decode here.
 */
export function decodePolicyText(path: string, bytes: Uint8Array): Result<string> {
  const decoded = decodePolicyFile(path, bytes);
  return decoded.ok ? { ok: true, value: decoded.value.text } : decoded;
}
