import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { makePki, makeRogueClient } from '../support/certs';
import { fleetResources } from './fixtures';
import { CDS, type Harness, names, publish, startHarness } from './harness';

describe('mTLS on the xDS port', () => {
  let dir: string;
  let pki: Record<string, Buffer>;
  let h: Harness;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-pki-'));
    const files = makePki(dir);
    const rogue = makeRogueClient(dir);
    pki = {
      ca: readFileSync(files.caCert),
      serverCert: readFileSync(files.serverCert),
      serverKey: readFileSync(files.serverKey),
      clientCert: readFileSync(files.clientCert),
      clientKey: readFileSync(files.clientKey),
      rogueCert: readFileSync(rogue.cert),
      rogueKey: readFileSync(rogue.key),
    };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => h?.close());

  test('a client with a certificate from the CA gets config; one without a certificate, or a rogue one, gets nothing', async () => {
    h = await startHarness({ tls: { cert: pki['serverCert']!, key: pki['serverKey']!, ca: pki['ca']! } });
    await publish(h, fleetResources());

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
