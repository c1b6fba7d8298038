/**
 * Policy text before and just after YAML: bytes → text (refusing invalid UTF-8 with a position, the
 * one decoder both policy readers call), and what a parsed document must not hold whatever its
 * kind (lone UTF-16 surrogates, which no UTF-8 config can carry, and `__proto__` keys).
 */
import type { Diagnostic, Result } from '../result';
import type { Problem } from './issues';
import type { FieldPath } from './types';

/** What a policy reader hands the compiler: the path diagnostics name, and the file's text. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A policy file's bytes as text. Invalid UTF-8 is an error at the first bad byte (line:column in
 * characters), never replaced by U+FFFD: the file would then say something its author did not write.
 * A UTF-8 byte-order mark is dropped.
 */
export function decodePolicyFile(path: string, bytes: Uint8Array): Result<SourceFile> {
  try {
    return { ok: true, value: { path, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) } };
  } catch {
    const bad = firstInvalidUtf8(bytes);
    const before = new TextDecoder('utf-8').decode(bytes.subarray(0, bad));
    const lineStart = before.lastIndexOf('\n') + 1;
    const line = before.split('\n').length;
    const error: Diagnostic = {
      file: path,
      line,
      column: before.length - lineStart + 1,
      subject: '',
      path: '',
      message: `invalid UTF-8 (byte 0x${(bytes[bad] ?? 0).toString(16).padStart(2, '0')} at offset ${bad}): policy files must be UTF-8 text`,
    };
    return { ok: false, errors: [error] };
  }
}

/** Offset of the first byte that does not continue a valid UTF-8 sequence (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    const need = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= need; k++) {
      const n = b[i + k];
      if (n === undefined || n < (k === 1 ? lo : 0x80) || n > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return b.length;
}

/** Offset of the first lone surrogate in `text`, or -1. */
export function loneSurrogateAt(text: string): number {
  const m = LONE_SURROGATE.exec(text);
  return m ? m.index : -1;
}

/** True when YAML escapes in `text` could spell a surrogate or a `__proto__` key that the raw text does not show. */
export function mayHideHostileValues(text: string): boolean {
  return text.includes('__proto__') || /\\[xuU]/.test(text);
}

/**
 * Problems no schema sees: a string (value or key) with a lone surrogate, and a `__proto__` key, which
 * JavaScript objects drop silently (it is not a policy name anywhere). A loop, not recursion.
 */
export function hostileValueProblems(value: unknown): Problem[] {
  const problems: Problem[] = [];
  const stack: { value: unknown; path: FieldPath }[] = [{ value, path: [] }];
  while (stack.length > 0 && problems.length < 100) {
    const { value: v, path } = stack.pop() as { value: unknown; path: FieldPath };
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) problems.push({ path, message: surrogateMessage(v), at: 'value' });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, i] });
    } else if (typeof v === 'object' && v !== null) {
      for (const key of Object.keys(v).reverse()) {
        if (key === '__proto__') problems.push({ path: [...path, key], message: 'key "__proto__" is not allowed (it is not a policy name)', at: 'key' });
        else if (LONE_SURROGATE.test(key)) problems.push({ path: [...path, key], message: surrogateMessage(key), at: 'key' });
        else stack.push({ value: (v as Record<string, unknown>)[key], path: [...path, key] });
      }
    }
  }
  return problems;
}

function surrogateMessage(s: string): string {
  const c = s.charCodeAt(loneSurrogateAt(s));
  return `contains a lone UTF-16 surrogate (\\u${c.toString(16)}): not Unicode text, Envoy's configuration cannot carry it`;
}
