/**
 * Resource versions for the Envoy translator (and the xDS server, which reuses them): a content hash
 * of canonical JSON, so equal content gets an equal version on every replica and across restarts.
 */
import { createHash } from 'node:crypto';
import type { EnvoyResource, JsonObject, JsonValue } from './resources';

/** Hex digits kept from the SHA-256: 64 bits, plenty to tell versions of one resource apart. */
const VERSION_HEX_DIGITS = 16;

/** JSON with object keys sorted at every depth (arrays keep their order): one text per value. */
export function canonicalJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v as JsonValue)).join(',')}]`;
  const obj = value as JsonObject;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k] as JsonValue)}`).join(',')}}`;
}

/** SHA-256 of the canonical JSON, hex, truncated to 16 digits. */
export function contentHash(value: JsonValue): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, VERSION_HEX_DIGITS);
}

/** A named resource with its content-hash version. */
export function versioned(name: string, value: JsonObject): EnvoyResource {
  return { name, version: contentHash(value), value };
}
