/**
 * The ADS bootstrap a fleet member starts with: SotW or delta, plain or (mutual) TLS to the control
 * server, each checked by the real Envoy (`--mode validate`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XDS_CLUSTER, adsBootstrap, type AdsBootstrapOptions } from '../../compiler/envoy';
import type { JsonObject } from '../../compiler/envoy/resources';
import { validateAll, type ValidateResult } from './envoy-validate';

const work = mkdtempSync(join(tmpdir(), 'portcullis-envoy-bootstrap-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A throwaway CA and a client certificate it signed, made with openssl (Envoy reads the files when it validates). */
function makeCertificates(): { ca: string; cert: string; key: string } {
  const ca = join(work, 'ca.pem');
  const caKey = join(work, 'ca.key');
  const key = join(work, 'client.key');
  const csr = join(work, 'client.csr');
  const cert = join(work, 'client.pem');
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'ignore' });
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '1', '-subj', '/CN=portcullis-test-ca']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=edge-1']);
  run(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '1']);
  return { ca, cert, key };
}

const base: AdsBootstrapOptions = { nodeId: 'edge-1', cluster: 'edge-prod', xdsHost: '127.0.0.1', xdsPort: 18000, delta: false };

const certs = makeCertificates();
const variants: { label: string; options: AdsBootstrapOptions }[] = [
  { label: 'state of the world, IP host', options: base },
  { label: 'delta, DNS host, admin port, fetch timeout', options: { ...base, delta: true, xdsHost: 'xds.internal', adminPort: 9902, initialFetchTimeoutMs: 15000 } },
  { label: 'TLS', options: { ...base, xdsHost: 'xds.internal', tls: { caFile: certs.ca } } },
  {
    label: 'mutual TLS with a server name',
    options: { ...base, delta: true, tls: { caFile: certs.ca, serverName: 'portcullis.internal', certChainFile: certs.cert, privateKeyFile: certs.key } },
  },
];

let results = new Map<string, ValidateResult>();
const files = variants.map((v, i) => {
  const file = join(work, `ads-${i}.json`);
  writeFileSync(file, JSON.stringify(adsBootstrap(v.options)));
  return { ...v, file };
});
beforeAll(async () => {
  results = await validateAll(files.map((f) => f.file));
}, 120_000);

test.each(files)('envoy --mode validate: $label', ({ file }) => {
  const r = results.get(file) as ValidateResult;
  expect(r.output).not.toMatch(/deprecated/i);
  expect({ code: r.code, output: r.code === 0 ? '' : r.output }).toEqual({ code: 0, output: '' });
});

test('the node, the ADS flavour and the wait for the first configuration', () => {
  const sotw = adsBootstrap(base) as { node: JsonObject; dynamic_resources: Record<string, JsonObject> };
  expect(sotw.node).toEqual({ id: 'edge-1', cluster: 'edge-prod' });
  expect(sotw.dynamic_resources['ads_config']).toEqual({
    api_type: 'GRPC',
    transport_api_version: 'V3',
    grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER, retry_policy: { retry_back_off: { base_interval: '0.25s', max_interval: '3s' } } } }],
    set_node_on_first_message_only: true,
  });
  expect(sotw.dynamic_resources['cds_config']).toEqual({ ads: {}, resource_api_version: 'V3', initial_fetch_timeout: '0s' });
  expect(sotw.dynamic_resources['lds_config']).toEqual({ ads: {}, resource_api_version: 'V3', initial_fetch_timeout: '0s' });
  const delta = adsBootstrap({ ...base, delta: true, initialFetchTimeoutMs: 2500 }) as { dynamic_resources: Record<string, JsonObject> };
  expect(delta.dynamic_resources['ads_config']?.['api_type']).toBe('DELTA_GRPC');
  expect(delta.dynamic_resources['cds_config']?.['initial_fetch_timeout']).toBe('2.5s');
});

test('TLS verifies the control server by name; a client key without its certificate is a bug', () => {
  const text = JSON.stringify(adsBootstrap({ ...base, xdsHost: 'xds.internal', tls: { caFile: '/ca.pem' } }));
  expect(text).toContain('"sni":"xds.internal"');
  expect(text).toContain('"san_type":"DNS","matcher":{"exact":"xds.internal"}');
  expect(() => adsBootstrap({ ...base, tls: { caFile: '/ca.pem', privateKeyFile: '/k.pem' } })).toThrow(/go together/);
});
