/**
 * Canonical JSON (object keys sorted by UTF-16 code units, no whitespace) and the hash chain:
 * `hash = sha256(prev ‖ canonical(record without prev and hash))`, hex. Writer and verifier share it.
 */
import { createHash } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

/** Keys JavaScript enumerates before all others, in numeric order ("9" before "10"): not code-unit order. */
const INDEX_KEY = /^(0|[1-9]\d{0,9})$/;
const SLOW = Symbol('integer-like key');

/**
 * Fast path: a copy with keys inserted in sorted order, serialized by the native JSON.stringify.
 * Objects with integer-like keys (e.g. status-code maps) take the slow path, which sorts them as strings.
 */
export function canonicalJson(value: unknown, skip?: ReadonlySet<string>): string {
  try {
    return JSON.stringify(sortedCopy(value, skip)) ?? 'null';
  } catch (e) {
    if (e !== SLOW) throw e;
    return slowCanonical(value, skip);
  }
}

function sortedCopy(value: unknown, skip?: ReadonlySet<string>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortedCopy(v)));
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) {
    if (skip?.has(k) || obj[k] === undefined) continue;
    const c = k.charCodeAt(0);
    if (c >= 48 && c <= 57 && INDEX_KEY.test(k)) throw SLOW;
    out[k] = sortedCopy(obj[k]);
  }
  return out;
}

function slowCanonical(value: unknown, skip?: ReadonlySet<string>): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => slowCanonical(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined && !skip?.has(k)).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${slowCanonical(obj[k])}`).join(',')}}`;
}

const LINKS = new Set(['prev', 'hash']);

export function chainHash(prev: string, record: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(prev).update(canonicalJson(record, LINKS)).digest('hex');
}
