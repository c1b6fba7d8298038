import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { fleetResources } from './fixtures';
import { CDS, type Harness, names, publish, startHarness } from './harness';

/** A CA, a server certificate for 127.0.0.1/localhost and client certificates, made with the openssl CLI. */
function makePki(dir: string): Record<string, Buffer> {
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=portcullis-test-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, ext] of [['server', 'server.ext'], ['client', 'client.ext']] as const) {
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', `${name}.crt`);
  }
  // A client certificate from a CA the server does not trust.
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=rogue', '-keyout', 'rogue.key', '-out', 'rogue.crt');
  const read = (f: string): Buffer => readFileSync(join(dir, f));
  return {
    ca: read('ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    rogueCert: read('rogue.crt'),
    rogueKey: read('rogue.key'),
  };
}

describe('mTLS on the xDS port', () => {
  let dir: string;
  let pki: Record<string, Buffer>;
  let h: Harness;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-pki-'));
    pki = makePki(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => h?.close());

  test('a client with a certificate from the CA gets config; one without a certificate, or a rogue one, gets nothing', async () => {
    h = await startHarness({ tls: { cert: pki['serverCert']!, key: pki['serverKey']!, ca: pki['ca']! } });
    publish(h, fleetResources());

    // The certificate names localhost (TLS SNI may not carry an IP address).
    const channelOptions = { 'grpc.ssl_target_name_override': 'localhost' };
    const good = h.client('sotw', { id: 'tls-ok', cluster: 'edge' }, {
      credentials: grpc.credentials.createSsl(pki['ca']!, pki['clientKey']!, pki['clientCert']!),
      channelOptions,
    });
    good.sotw({ typeUrl: CDS });
    expect(names(await good.next('cluster'))).toEqual(['svc-a', 'svc-b']);

    const anonymous = h.client('sotw', { id: 'tls-none', cluster: 'edge' }, { credentials: grpc.credentials.createSsl(pki['ca']!), channelOptions });
    anonymous.sotw({ typeUrl: CDS });
    const s1 = await anonymous.status;
    expect(s1.code).toBe(grpc.status.UNAVAILABLE);
    expect(anonymous.responses).toEqual([]);

    const rogue = h.client('sotw', { id: 'tls-rogue', cluster: 'edge' }, {
      credentials: grpc.credentials.createSsl(pki['ca']!, pki['rogueKey']!, pki['rogueCert']!),
      channelOptions,
    });
    rogue.sotw({ typeUrl: CDS });
    const s2 = await rogue.status;
    expect(s2.code).toBe(grpc.status.UNAVAILABLE);
    expect(rogue.responses).toEqual([]);

    const plaintext = h.client('sotw', { id: 'plain', cluster: 'edge' });
    plaintext.sotw({ typeUrl: CDS });
    expect((await plaintext.status).code).toBe(grpc.status.UNAVAILABLE);

    expect(h.server.nodes().map((n) => n.id)).toEqual(['tls-ok']);
  });
});
