/**
 * Canonical JSON (object keys sorted, no whitespace) and the hash chain:
 * `hash = sha256(prev ‖ canonical(record without prev and hash))`, hex. Writer and verifier share it.
 */
import { createHash } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    // undefined, functions and symbols have no JSON form; they never reach a record.
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function chainHash(prev: string, body: Readonly<Record<string, unknown>>): string {
  const { prev: _p, hash: _h, ...rest } = body;
  return createHash('sha256').update(prev).update(canonicalJson(rest)).digest('hex');
}
