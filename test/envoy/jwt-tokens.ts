/** Test helper: RS256 key pairs, their JWKS, and signed tokens (node:crypto only). */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** `{"keys":[...]}` with the public key. */
  readonly jwks: string;
}

export function signingKey(kid: string): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  return { kid, privateKey, jwks: JSON.stringify({ keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] }) };
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export function signToken(key: SigningKey, claims: Record<string, unknown>): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: key.kid }));
  const payload = b64url(JSON.stringify(claims));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), key.privateKey);
  return `${header}.${payload}.${b64url(signature)}`;
}
