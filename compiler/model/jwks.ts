/**
 * Inline JWKS check (schema stage): the text must be JSON of bounded depth, a `keys` list of public
 * JWKs, and every key must parse as a key, so Envoy's jwt_authn never refuses the provider.
 */
import { createPublicKey, type JsonWebKey } from 'node:crypto';

/** A JWKS is 3 levels deep (`{keys: [{x5c: [...]}]}`); deeper text is not a JWKS and could exhaust the stack. */
export const MAX_JWKS_DEPTH = 16;

/** Shorter RSA moduli are breakable; Envoy would accept them, a policy should not. */
export const MIN_RSA_BITS = 2048;

const PRIVATE_FIELDS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];
/** Base64url members per key type (RFC 7518 §6); Node decodes invalid base64url leniently, so we check the alphabet. */
const BASE64URL_FIELDS: Readonly<Record<string, readonly string[]>> = { RSA: ['n', 'e'], EC: ['x', 'y'], OKP: ['x'] };
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Null when `text` is an acceptable inline JWKS, else what is wrong. */
export function checkInlineJwks(text: string): string | null {
  const deep = nestingBeyond(text, MAX_JWKS_DEPTH);
  if (deep >= 0) return `JSON nesting is deeper than ${MAX_JWKS_DEPTH} levels (at character ${deep + 1} of the JWKS): not a JWKS`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return `is not valid JSON (${(e as Error).message})`;
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { keys?: unknown }).keys)) {
    return 'must be a JWKS: a JSON object with a "keys" list';
  }
  const keys = (parsed as { keys: unknown[] }).keys;
  if (keys.length === 0) return 'the JWKS has no keys';
  for (let i = 0; i < keys.length; i++) {
    const problem = checkKey(keys[i]);
    if (problem) return `keys[${i}]${kidOf(keys[i])} ${problem}`;
  }
  return null;
}

function checkKey(key: unknown): string | null {
  if (typeof key !== 'object' || key === null || Array.isArray(key) || typeof (key as { kty?: unknown }).kty !== 'string') {
    return 'is not a JWK (no "kty")';
  }
  const jwk = key as Record<string, unknown>;
  if (PRIVATE_FIELDS.some((f) => f in jwk)) return 'contains private key material; publish only public keys';
  const kty = jwk.kty as string;
  const fields = BASE64URL_FIELDS[kty];
  if (!fields) return `has kty "${kty.slice(0, 20)}": expected RSA, EC or OKP`;
  for (const f of fields) {
    const v = jwk[f];
    if (typeof v !== 'string' || v === '') return `is not a valid ${kty} public key: "${f}" is required`;
    if (!BASE64URL.test(v)) return `is not a valid ${kty} public key: "${f}" is not base64url`;
  }
  try {
    const parsed = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    const bits = parsed.asymmetricKeyDetails?.modulusLength;
    if (kty === 'RSA' && (bits ?? 0) < MIN_RSA_BITS) return `is a ${bits ?? 0}-bit RSA key: at least ${MIN_RSA_BITS} bits are required`;
  } catch (e) {
    return `is not a valid ${kty} public key (${(e as Error).message})`;
  }
  return null;
}

function kidOf(key: unknown): string {
  const kid = typeof key === 'object' && key !== null ? (key as { kid?: unknown }).kid : undefined;
  return typeof kid === 'string' ? ` (kid ${JSON.stringify(kid.slice(0, 40))})` : '';
}

/** Offset of the first bracket deeper than `max` (strings skipped), or -1; a loop, so any depth is safe. */
function nestingBeyond(text: string, max: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return i;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return -1;
}
