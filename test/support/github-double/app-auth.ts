/** GitHub double: checks a GitHub App's JWT (RS256, iss = app id, not expired) as GitHub does before minting an installation token. */
import { createVerify } from 'node:crypto';

export function verifyAppJwt(token: string, publicKeyPem: string, appId: number): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  const [header, payload, signature] = parts as [string, string, string];
  const verifier = createVerify('RSA-SHA256');
  verifier.update(`${header}.${payload}`);
  if (!verifier.verify(publicKeyPem, Buffer.from(signature, 'base64url'))) return false;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown; exp?: unknown; iat?: unknown };
    const now = Date.now() / 1000;
    // GitHub: exp at most 10 minutes after iat, and the app id as issuer.
    return String(claims.iss) === String(appId) && typeof claims.exp === 'number' && claims.exp > now && typeof claims.iat === 'number' && claims.exp - claims.iat <= 660;
  } catch {
    return false;
  }
}
