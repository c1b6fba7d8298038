/**
 * `portcullis bootstrap --fleet F --xds HOST:PORT[,…]`: the Envoy bootstrap a fleet member starts
 * with (ADS to the control server, retry backoff, optional mTLS), printed as YAML or JSON. The
 * bootstrap itself comes from the pure builder (compiler/envoy adsBootstrap); this command parses
 * addresses and picks a node id.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { stringify } from 'yaml';
import { adsBootstrap, DEFAULT_ADMIN_PORT, type AdsTls, type XdsAddress } from '../../compiler/envoy';
import { errStyle, type CliContext } from '../context';
import { usageError } from './validate';

export interface BootstrapOptions {
  readonly fleet: string;
  readonly nodeId?: string;
  readonly xds: string;
  readonly delta?: boolean;
  readonly sotw?: boolean;
  readonly tlsCa?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsServerName?: string;
  readonly admin?: string;
  readonly format: 'yaml' | 'json';
}

const DNS_NAME = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;

/** `host:port`, `[v6]:port`; with `defaultHost`, a bare port too. A string is the reason it is not one. */
export function parseAddress(text: string, defaultHost?: string): XdsAddress | string {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:\[\]]+):(\d+)$/.exec(text) ?? (defaultHost !== undefined ? /^()(\d+)$/.exec(text) : null);
  if (!m) return `${JSON.stringify(text)} is not HOST:PORT${defaultHost !== undefined ? ' or PORT' : ''} (IPv6: [addr]:PORT)`;
  const host = m[1] === '' ? defaultHost! : m[1]!;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `${JSON.stringify(text)}: port must be 1-65535`;
  if (isIP(host) === 0 && !DNS_NAME.test(host)) return `${JSON.stringify(text)}: "${host}" is neither an IP address nor a DNS name`;
  if (text.startsWith('[') && isIP(host) !== 6) return `${JSON.stringify(text)}: only IPv6 addresses go in brackets`;
  return { host, port };
}

/**
 * The default node id: fleet, host name and a random suffix. Two Envoys of a fleet must not share a
 * node id (the server tracks ACKs per node); the host name says where it runs, the suffix keeps two
 * Envoys on one host apart. A bootstrap baked once into an image shares its id: start each Envoy
 * with `--service-node` then (docs/operations.md).
 */
export function defaultNodeId(fleet: string, host: string = hostname(), suffix: string = randomBytes(4).toString('hex')): string {
  return `${fleet}-${host.split('.')[0] || 'host'}-${suffix}`;
}

function tlsOption(opts: BootstrapOptions): AdsTls | string | null {
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) return '--tls-cert and --tls-key go together (the Envoy\'s client certificate and its key)';
  if (opts.tlsCa === undefined) {
    return opts.tlsCert !== undefined || opts.tlsServerName !== undefined ? '--tls-cert/--tls-key/--tls-server-name need --tls-ca (the CA that signed the control server\'s certificate)' : null;
  }
  return { caFile: opts.tlsCa, serverName: opts.tlsServerName, certChainFile: opts.tlsCert, privateKeyFile: opts.tlsKey };
}

export async function runBootstrap(ctx: CliContext, opts: BootstrapOptions): Promise<number> {
  if (opts.delta && opts.sotw) return usageError(ctx, '--delta and --sotw: choose one');
  if (opts.fleet.trim() === '') return usageError(ctx, '--fleet: must not be empty');
  if (opts.nodeId !== undefined && opts.nodeId.trim() === '') return usageError(ctx, '--node-id: must not be empty');
  const addresses: XdsAddress[] = [];
  for (const part of opts.xds.split(',')) {
    const a = parseAddress(part.trim());
    if (typeof a === 'string') return usageError(ctx, `--xds: ${a}`);
    addresses.push(a);
  }
  const admin = parseAddress(opts.admin ?? String(DEFAULT_ADMIN_PORT), '127.0.0.1');
  if (typeof admin === 'string') return usageError(ctx, `--admin: ${admin}`);
  const tls = tlsOption(opts);
  if (typeof tls === 'string') return usageError(ctx, tls);
  if (!/^(127\.|::1$|localhost$)/.test(admin.host)) {
    ctx.stderr.write(`${errStyle(ctx).yellow('warning')} --admin ${admin.host}: Envoy's admin interface is unauthenticated and can change runtime and drain listeners; keep it on loopback\n`);
  }
  const [first, ...rest] = addresses as [XdsAddress, ...XdsAddress[]];
  const bootstrap = adsBootstrap({
    nodeId: opts.nodeId ?? defaultNodeId(opts.fleet),
    cluster: opts.fleet,
    xdsHost: first.host,
    xdsPort: first.port,
    extraXds: rest,
    delta: !opts.sotw,
    adminHost: admin.host,
    adminPort: admin.port,
    tls,
  });
  ctx.stdout.write(opts.format === 'json' ? JSON.stringify(bootstrap, null, 2) + '\n' : stringify(bootstrap, { lineWidth: 0 }));
  return 0;
}
