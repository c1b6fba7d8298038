/**
 * Test harness: a throw-away CA with a server certificate for 127.0.0.1 and localhost and a client
 * certificate, made with the openssl command line, for mTLS between Envoy (or a test client) and
 * the control server; and a client certificate from a CA nobody trusts.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });

export interface TestPki {
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
}

export function makePki(dir: string): TestPki {
  const f = (name: string): string => path.join(dir, name);
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=portcullis-test-ca', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  for (const [name, cn, ext] of [
    // localhost too: TLS SNI cannot carry an IP address, so gRPC clients name the server localhost.
    ['server', 'portcullis-xds', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'],
    ['client', 'edge-envoy', 'subjectAltName=DNS:edge-envoy\nextendedKeyUsage=clientAuth\n'],
  ] as const) {
    writeFileSync(f(`${name}.ext`), ext);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.crt`));
  }
  return { caCert: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key') };
}

/** A self-signed client certificate (CN rogue): from a CA the control server does not trust. */
export function makeRogueClient(dir: string): { readonly cert: string; readonly key: string } {
  const cert = path.join(dir, 'rogue.crt');
  const key = path.join(dir, 'rogue.key');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=rogue', '-keyout', key, '-out', cert);
  return { cert, key };
}
