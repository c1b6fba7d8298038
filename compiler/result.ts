/**
 * Results and diagnostics shared by every stage: user mistakes are values, never exceptions.
 * A diagnostic names where the mistake is (file:line:col), which document (Kind/name), which field
 * (a path such as `spec.routes[2].requests`) and what is wrong.
 */

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
export const fail = <T = never>(errors: readonly Diagnostic[]): Result<T> => ({ ok: false, errors });

/** `file:line:col Kind/name path: message`, the one format every command prints. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.column}` : d.file;
  const head = [where, d.subject, d.path].filter(Boolean).join(' ');
  return head ? `${head}: ${d.message}` : d.message;
}

/** Sort order for reporting: by file, then position, then message (stable across runs). */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return (
    a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.message.localeCompare(b.message)
  );
}
