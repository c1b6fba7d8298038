/**
 * `portcullis bootstrap`: what a fleet member starts with. Every variant passes the real Envoy's
 * `--mode validate`; node ids do not collide by default; several control-server addresses; the ADS
 * reconnect backoff; usage errors. (Reconnect times with a real server: bootstrap-reconnect.test.ts.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { defaultNodeId, parseAddress } from '../../cli/commands/bootstrap';
import { makePki, type TestPki } from '../support/certs';
import { runCli } from '../support/cli';
import { validateAll, type ValidateResult } from '../envoy/envoy-validate';

const REPO_ROOT = join(__dirname, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'portcullis-cli-bootstrap-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const bootstrap = (args: string[]) => runCli(['bootstrap', ...args], { cwd: REPO_ROOT, now: new Date() });

interface Bootstrap {
  node: { id: string; cluster: string };
  admin: { address: { socket_address: { address: string; port_value: number } } };
  dynamic_resources: { ads_config: { api_type: string; grpc_services: { envoy_grpc: { cluster_name: string; retry_policy: unknown } }[] } };
  static_resources: { clusters: { name: string; type: string; load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[] }[] }; transport_socket?: unknown }[] };
}

async function printed(args: string[]): Promise<Bootstrap> {
  const r = await bootstrap(args);
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  return parse(r.out) as Bootstrap;
}

const endpointsOf = (b: Bootstrap): string[] =>
  b.static_resources.clusters[0]!.load_assignment.endpoints.flatMap((e) => e.lb_endpoints.map((l) => `${l.endpoint.address.socket_address.address}:${l.endpoint.address.socket_address.port_value}`));

describe('every variant passes envoy --mode validate', () => {
  let pki: TestPki;
  const variants: [string, (p: TestPki) => string[]][] = [
    ['state of the world, one IP', () => ['--fleet', 'edge-prod', '--xds', '127.0.0.1:18000', '--sotw']],
    ['delta, three replicas (IP, DNS, IPv6), admin port only', () => ['--fleet', 'edge-prod', '--xds', '10.0.0.7:18000,xds-b.internal:18000,[::1]:18002', '--admin', '9902']],
    ['TLS to two DNS replicas', (p) => ['--fleet', 'edge-prod', '--xds', 'xds-a.internal:18000,xds-b.internal:18000', '--tls-ca', p.caCert]],
    ['mutual TLS with a server name, JSON', (p) => ['--fleet', 'edge-prod', '--node-id', 'edge-7', '--xds', '127.0.0.1:18000', '--tls-ca', p.caCert, '--tls-cert', p.clientCert, '--tls-key', p.clientKey, '--tls-server-name', 'localhost', '--format', 'json']],
  ];
  const files: string[] = [];
  let results = new Map<string, ValidateResult>();
  beforeAll(async () => {
    pki = makePki(work);
    for (const [i, [, args]] of variants.entries()) {
      const r = await bootstrap(args(pki));
      expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
      const file = join(work, `bootstrap-${i}.yaml`);
      writeFileSync(file, r.out);
      files.push(file);
    }
    results = await validateAll(files);
  }, 120_000);

  it.each(variants.map(([label], i) => [label, i] as const))('%s', (_label, i) => {
    const r = results.get(files[i]!)!;
    expect(r.output).not.toMatch(/deprecated/i);
    expect({ code: r.code, output: r.code === 0 ? '' : r.output }).toEqual({ code: 0, output: '' });
  });
});

describe('what the bootstrap says', () => {
  it('two Envoys of one fleet get different node ids by default: fleet, host name, random suffix', async () => {
    const [a, b] = await Promise.all([printed(['--fleet', 'edge-prod', '--xds', '127.0.0.1:18000']), printed(['--fleet', 'edge-prod', '--xds', '127.0.0.1:18000'])]);
    expect(a.node.id).not.toBe(b.node.id);
    expect(a.node.id).toMatch(/^edge-prod-[A-Za-z0-9-]+-[0-9a-f]{8}$/);
    expect(a.node.cluster).toBe('edge-prod');
    expect(defaultNodeId('edge-dev', 'ip-10-0-0-7.ec2.internal', '0a1b2c3d')).toBe('edge-dev-ip-10-0-0-7-0a1b2c3d');
    expect((await printed(['--fleet', 'edge-prod', '--node-id', 'edge-7', '--xds', '127.0.0.1:1'])).node.id).toBe('edge-7');
  });

  it('every --xds address is an endpoint of the one xDS cluster; STRICT_DNS as soon as one is a name', async () => {
    const ips = await printed(['--fleet', 'f', '--xds', '10.0.0.1:18000,[2001:db8::1]:18001']);
    expect(endpointsOf(ips)).toEqual(['10.0.0.1:18000', '2001:db8::1:18001']);
    expect(ips.static_resources.clusters[0]!.type).toBe('STATIC');
    const names = await printed(['--fleet', 'f', '--xds', '10.0.0.1:18000, xds.internal:18000']);
    expect(endpointsOf(names)).toEqual(['10.0.0.1:18000', 'xds.internal:18000']);
    expect(names.static_resources.clusters[0]!.type).toBe('STRICT_DNS');
  });

  it('sets the ADS reconnect backoff where Envoy reads it (envoy_grpc.retry_policy), delta by default, admin on loopback', async () => {
    const b = await printed(['--fleet', 'f', '--xds', '127.0.0.1:18000']);
    expect(b.dynamic_resources.ads_config.api_type).toBe('DELTA_GRPC');
    expect(b.dynamic_resources.ads_config.grpc_services[0]!.envoy_grpc.retry_policy).toEqual({ retry_back_off: { base_interval: '0.25s', max_interval: '3s' } });
    expect(b.admin.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 9901 });
    expect((await printed(['--fleet', 'f', '--xds', '127.0.0.1:18000', '--sotw'])).dynamic_resources.ads_config.api_type).toBe('GRPC');
  });

  it('warns when admin leaves loopback', async () => {
    const r = await bootstrap(['--fleet', 'f', '--xds', '127.0.0.1:18000', '--admin', '0.0.0.0:9901']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^warning --admin 0\.0\.0\.0: Envoy's admin interface is unauthenticated/);
  });
});

describe('usage errors (exit 2)', () => {
  it.each([
    [['--fleet', 'f'], "required option '--xds <host:port,...>' not specified"],
    [['--xds', '127.0.0.1:1'], "required option '--fleet <name>' not specified"],
    [['--fleet', 'f', '--xds', 'xds.internal'], '--xds: "xds.internal" is not HOST:PORT (IPv6: [addr]:PORT)'],
    [['--fleet', 'f', '--xds', '127.0.0.1:18000,127.0.0.1:0'], '--xds: "127.0.0.1:0": port must be 1-65535'],
    [['--fleet', 'f', '--xds', '::1:18000'], '--xds: "::1:18000" is not HOST:PORT'],
    [['--fleet', 'f', '--xds', '[10.0.0.1]:18000'], 'only IPv6 addresses go in brackets'],
    [['--fleet', 'f', '--xds', 'bad_name!:18000'], 'is neither an IP address nor a DNS name'],
    [['--fleet', 'f', '--xds', '127.0.0.1:1', '--delta', '--sotw'], '--delta and --sotw: choose one'],
    [['--fleet', 'f', '--xds', '127.0.0.1:1', '--tls-ca', 'ca.pem', '--tls-cert', 'c.pem'], '--tls-cert and --tls-key go together'],
    [['--fleet', 'f', '--xds', '127.0.0.1:1', '--tls-cert', 'c.pem', '--tls-key', 'k.pem'], 'need --tls-ca'],
    [['--fleet', 'f', '--xds', '127.0.0.1:1', '--admin', 'x:y'], '--admin: "x:y" is not HOST:PORT or PORT'],
    [['--fleet', '', '--xds', '127.0.0.1:1'], '--fleet: must not be empty'],
  ])('bootstrap %j', async (args, message) => {
    const r = await bootstrap(args);
    expect(r.err).toContain(message);
    expect(r.out).toBe('');
    expect(r.code).toBe(2);
  });

  it('parseAddress: a bare port takes the default host', () => {
    expect(parseAddress('9902', '127.0.0.1')).toEqual({ host: '127.0.0.1', port: 9902 });
    expect(parseAddress('[::1]:9902')).toEqual({ host: '::1', port: 9902 });
    expect(typeof parseAddress('9902')).toBe('string');
  });
});
