/**
 * Results and diagnostics shared by every stage: user mistakes are values, never exceptions.
 * A diagnostic names where the mistake is (file:line:col), which document (Kind/name), which field
 * (a path such as `spec.routes[2].requests`) and what is wrong.
 */

import { compareText } from './text-order';

export interface Diagnostic {
  /** Path of the policy file, relative to the policy root's repository when known. */
  readonly file: string;
  /** 1-based line; 0 when the mistake has no position (e.g. a missing file). */
  readonly line: number;
  /** 1-based column; 0 when unknown. */
  readonly column: number;
  /** `Kind/name` of the document, when the document got that far; empty otherwise. */
  readonly subject: string;
  /** Field path inside the document, e.g. `spec.endpoints[1].port`; empty for the whole document. */
  readonly path: string;
  readonly message: string;
}

export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly Diagnostic[] };

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });

/**
 * A diagnostic with no position (a missing folder, a file that cannot be read, a failed
 * translation): line and column 0, and only what is known of file, document and field.
 */
export function positionless(message: string, where: { readonly file?: string; readonly subject?: string; readonly path?: string } = {}): Diagnostic {
  return { file: where.file ?? '', line: 0, column: 0, subject: where.subject ?? '', path: where.path ?? '', message };
}
export const fail = <T = never>(errors: readonly Diagnostic[]): Result<T> => ({ ok: false, errors });

/**
 * Characters that must not reach a terminal or a log line raw: C0/C1 controls and DEL (a newline
 * in a file name would forge another error line), line/paragraph separators, bidirectional
 * overrides and isolates (text that reads differently from what it is), and lone surrogates, which
 * is how the readers carry file-name bytes that are not UTF-8 (U+DC80-U+DCFF = byte 0x80-0xFF).
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  if (code <= 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code >= 0xdc80 && code <= 0xdcff) return `\\x${(code - 0xdc00).toString(16)}`; // a byte that is not UTF-8
  return `\\u{${code.toString(16)}}`;
}

/** `text` with every unprintable character written as an escape (`\n`, `\x1b`, `\u{202e}`): always one line. */
export function escapeUnprintable(text: string): string {
  return text.replace(UNPRINTABLE, escapeChar);
}

/**
 * A file name as diagnostics print it: as is when it is plain, else in double quotes with C-style
 * escapes (like git's quoted paths), so that two different names never print the same.
 */
export function printableFileName(name: string): string {
  UNPRINTABLE.lastIndex = 0;
  if (!UNPRINTABLE.test(name) && !/["\\]/.test(name)) return name;
  return `"${escapeUnprintable(name.replace(/["\\]/g, (c) => `\\${c}`))}"`;
}

/** `file:line:col Kind/name path: message`, the one format every command prints (always one line). */
export function formatDiagnostic(d: Diagnostic): string {
  const file = d.file === '' ? '' : printableFileName(d.file);
  const where = d.line > 0 ? `${file}:${d.line}:${d.column}` : file;
  const head = [where, escapeUnprintable(d.subject), escapeUnprintable(d.path)].filter(Boolean).join(' ');
  const message = escapeUnprintable(d.message);
  return head ? `${head}: ${message}` : message;
}

/**
 * Sort order for reporting: by file, then position, then message, in code-unit order (the order of
 * the file walk and the IR; `localeCompare` would differ between machines).
 */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return compareText(a.file, b.file) || a.line - b.line || a.column - b.column || compareText(a.message, b.message);
}
