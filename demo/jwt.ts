/**
 * RS256 JSON Web Tokens for the demo and the end-to-end tests, signed with node:crypto: what an
 * identity provider would issue to callers of the APIs Envoy guards. Also makes JWKS documents, so a
 * test can put its own key inline in an `Access` provider.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';

export interface TokenClaims {
  readonly iss: string;
  readonly aud: string | readonly string[];
  readonly sub: string;
  /** Roles claim value (the provider's `rolesClaim`, `roles` by default). */
  readonly roles?: string | readonly string[];
  /** Default: a random UUID. */
  readonly jti?: string;
  /** Seconds from now until `exp`; default 3600. Negative makes an expired token. */
  readonly expiresInSeconds?: number;
  /** Extra claims (e.g. a different roles claim name). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  /** `{"keys":[...]}` with the public key, for `jwks: { inline: ... }`. */
  readonly jwks: string;
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export function mintToken(key: SigningKey, claims: TokenClaims, now: Date = new Date()): string {
  const iat = Math.floor(now.getTime() / 1000);
  const payload: Record<string, unknown> = {
    iss: claims.iss,
    aud: claims.aud,
    sub: claims.sub,
    iat,
    nbf: iat - 1,
    exp: iat + (claims.expiresInSeconds ?? 3600),
    jti: claims.jti ?? randomUUID(),
    ...(claims.roles !== undefined ? { roles: claims.roles } : {}),
    ...claims.extra,
  };
  const header = { alg: 'RS256', typ: 'JWT', kid: key.kid };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = sign('RSA-SHA256', Buffer.from(signingInput), key.privateKey);
  return `${signingInput}.${b64url(signature)}`;
}

/** A signing key from a PEM private key (e.g. test/fixtures/jwt/); the JWKS is derived from it. */
export function signingKeyFromPem(pem: string, kid: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  return { kid, privateKey, jwks: jwksOf(createPublicKey(privateKey), kid) };
}

/** A fresh 2048-bit RSA key (tests that carry their own provider). */
export function generateSigningKey(kid = 'test-key'): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey, jwks: jwksOf(publicKey, kid) };
}

function jwksOf(publicKey: KeyObject, kid: string): string {
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: string; n: string; e: string };
  return JSON.stringify({ keys: [{ kty: jwk.kty, n: jwk.n, e: jwk.e, alg: 'RS256', use: 'sig', kid }] });
}
