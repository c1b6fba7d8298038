/**
 * `portcullis serve`: the runner that wires the control server together. git follower (fetch →
 * compile) → translator (per environment and fleet) → ADS core (snapshots, streams), plus the HTTP
 * edge (webhook, status, metrics), structured logs and graceful shutdown.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import pino, { type Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createIncrementalCompiler } from '../compiler';
import { translateEnvironment } from '../compiler/envoy';
import type { EnvoyResources } from '../compiler/envoy/resources';
import type { PolicyIR } from '../compiler/ir/ir';
import type { Diagnostic, Result } from '../compiler/result';
import type { CliContext } from '../cli/context';
import { PolicyFollower, type CompileFn, type PublishFn } from './git/follower';
import { startHttpEdge, type HttpEdge } from './http/server';
import type { NodeStatus, StatusDocument } from './http/status-document';
import { createXdsServer, type XdsServer } from './ads-server';

export interface ServeOptions {
  /** Policy repository: URL or local path. */
  readonly repo: string;
  readonly branch: string;
  /** Policy folder inside the repository (the root when absent at a commit). */
  readonly path: string;
  readonly pollIntervalMs: number;
  readonly xdsHost: string;
  readonly xdsPort: number;
  readonly httpHost: string;
  readonly httpPort: number;
  /** HMAC secret for the webhook; null disables it (every delivery answers 401). */
  readonly webhookSecret: Buffer | null;
  /** Directory for the bare mirror; a fresh temporary one when absent. */
  readonly workDir?: string;
  /** mTLS for the xDS port: server certificate/key and the CA that signs Envoy client certificates. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly clientCaFile: string };
  readonly logger: Logger;
  /** Tests only: the compiler's clock. */
  readonly clock?: () => Date;
  /**
   * Tests only: rewrites translated resources before they are handed to the ADS core, e.g. to inject a
   * resource Envoy rejects and check that the NACK is reported and the resource is not re-sent.
   */
  readonly transformResources?: (resources: EnvoyResources) => EnvoyResources;
}

export interface ControlServer {
  readonly follower: PolicyFollower;
  readonly xds: XdsServer;
  readonly http: HttpEdge;
  readonly xdsPort: number;
  readonly registry: Registry;
  status(): StatusDocument;
  /** Stops polling, closes the HTTP edge, shuts the ADS server down (streams closed). */
  stop(): Promise<void>;
}

/** The package version, from the sources (`xds-server/`) or the build (`dist/xds-server/`). */
function packageVersion(): string {
  for (const candidate of [path.join(__dirname, '..', 'package.json'), path.join(__dirname, '..', '..', 'package.json')]) {
    try {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'portcullis' && pkg.version) return pkg.version;
    } catch {
      // try the next candidate
    }
  }
  return '0.0.0';
}
const VERSION = packageVersion();

/** Starts every part; resolves once the first sync finished (served, refused or fetch failed). */
export async function startControlServer(opts: ServeOptions): Promise<ControlServer> {
  const log = opts.logger;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'portcullis_process_' });
  const startedAt = new Date().toISOString();

  const xds = createXdsServer({
    logger: log.child({ component: 'ads' }),
    registry,
    ...(opts.tls ? { tls: { cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile), ca: readFileSync(opts.tls.clientCaFile) } } : {}),
  });
  const xdsPort = await xds.listen(opts.xdsHost, opts.xdsPort);

  const compiler = createIncrementalCompiler();
  const compile: CompileFn = (files, now) => compiler.compileFiles(files, now);
  let servedIr: PolicyIR | null = null;
  const publish: PublishFn = (ir, commit) => {
    const translated = translateAll(ir, opts.transformResources);
    if (!translated.ok) return translated;
    const published = xds.setSnapshots(translated.value, { commit, compiledAt: ir.compiledAt });
    if (!published.ok) return published;
    servedIr = ir;
    const fleetVersions = Object.fromEntries(published.value.fleets.map((f) => [f.fleet, f.version]));
    return { ok: true, value: { version: combinedVersion(fleetVersions), fleetVersions } };
  };

  const workDir = opts.workDir ?? path.join(await mkdtemp(path.join(tmpdir(), 'portcullis-serve-')), 'mirror.git');
  const follower = new PolicyFollower({
    repo: opts.repo,
    branch: opts.branch,
    path: opts.path,
    workDir,
    pollIntervalMs: opts.pollIntervalMs,
    compile,
    publish,
    logger: log,
    registry,
    ...(opts.clock ? { clock: opts.clock } : {}),
  });

  const status = (): StatusDocument => ({
    server: { version: VERSION, startedAt, xds: { host: opts.xdsHost, port: xdsPort } },
    policy: follower.status(),
    nodes: nodeStatuses(xds, servedIr),
  });

  const http = await startHttpEdge({
    host: opts.httpHost,
    port: opts.httpPort,
    registry,
    logger: log,
    status,
    ready: () => follower.status().served !== null,
    webhook: {
      secret: opts.webhookSecret,
      branch: opts.branch,
      onPush: () => void follower.requestSync('webhook'),
    },
  });

  log.info({ repo: opts.repo, branch: opts.branch, path: opts.path, workDir, xds: `${opts.xdsHost}:${xdsPort}`, http: http.url }, 'control server starting');
  const first = await follower.start();
  if (first.kind !== 'served') log.warn({ outcome: first }, 'no snapshot served yet: Envoys get nothing until a commit compiles');

  let stopping: Promise<void> | null = null;
  return {
    follower,
    xds,
    http,
    xdsPort,
    registry,
    status,
    stop: () =>
      (stopping ??= (async () => {
        log.info('control server stopping');
        await follower.stop();
        await http.close();
        await xds.shutdown(2000);
        log.info('control server stopped');
      })()),
  };
}

/** Translates the IR for every (environment, fleet); a translator exception refuses the whole commit. */
function translateAll(ir: PolicyIR, transform?: (r: EnvoyResources) => EnvoyResources): Result<Map<string, EnvoyResources>> {
  const out = new Map<string, EnvoyResources>();
  const errors: Diagnostic[] = [];
  for (const env of ir.environments) {
    for (const fleet of env.fleets) {
      try {
        const r = translateEnvironment(env, fleet);
        out.set(fleet, transform ? transform(r) : r);
      } catch (e) {
        errors.push({ file: '', line: 0, column: 0, subject: `Environment/${env.name}`, path: `fleets[${fleet}]`, message: `translation failed: ${e instanceof Error ? e.message : String(e)}` });
      }
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: out };
}

/** One version for the whole publication: a hash of every fleet's snapshot version (same on every replica). */
function combinedVersion(fleetVersions: Readonly<Record<string, string>>): string {
  const h = createHash('sha256');
  for (const fleet of Object.keys(fleetVersions).sort()) h.update(fleet).update('\0').update(fleetVersions[fleet]!).update('\n');
  return h.digest('hex').slice(0, 16);
}

function nodeStatuses(xds: XdsServer, ir: PolicyIR | null): NodeStatus[] {
  const envOfFleet = new Map<string, string>();
  for (const env of ir?.environments ?? []) for (const f of env.fleets) envOfFleet.set(f, env.name);
  return xds.nodes().map((n) => ({ ...n, environment: envOfFleet.get(n.fleet) ?? n.environment ?? null }));
}

// ---------------------------------------------------------------------------------------------
// The command

export interface ServeCommandOptions {
  readonly repo: string;
  readonly branch?: string;
  readonly path?: string;
  readonly pollInterval?: string;
  readonly xdsHost?: string;
  readonly xdsPort?: number;
  readonly httpHost?: string;
  readonly httpPort?: number;
  readonly webhookSecretFile?: string;
  readonly workDir?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsClientCa?: string;
  readonly logLevel?: string;
}

export const SERVE_DEFAULTS = {
  branch: 'main',
  path: 'policies',
  pollInterval: '5s',
  xdsHost: '127.0.0.1',
  xdsPort: 18000,
  httpHost: '127.0.0.1',
  httpPort: 18001,
  logLevel: 'info',
} as const;

/** `250ms`, `5s`, `1m`, `2h`, or `0` (disabled); null when malformed. */
export function parseDuration(text: string): number | null {
  if (text === '0') return 0;
  const m = /^(\d+)(ms|s|m|h)$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

/**
 * Runs the control server until SIGINT/SIGTERM. Exit codes: 0 after a clean shutdown, 2 usage
 * errors (bad flag, unreadable secret file), 1 when start-up fails (port in use, ...).
 */
export async function runServe(ctx: CliContext, o: ServeCommandOptions, signals: NodeJS.EventEmitter = process): Promise<number> {
  const usage = (msg: string): number => {
    ctx.stderr.write(`portcullis serve: ${msg}\n`);
    return 2;
  };
  const pollIntervalMs = parseDuration(o.pollInterval ?? SERVE_DEFAULTS.pollInterval);
  if (pollIntervalMs === null) return usage(`--poll-interval: "${o.pollInterval}" is not a duration (e.g. 5s, 500ms, 1m; 0 = webhook only)`);
  let webhookSecret: Buffer | null = null;
  const secretEnv = process.env.PORTCULLIS_WEBHOOK_SECRET;
  if (o.webhookSecretFile) {
    try {
      webhookSecret = Buffer.from(readFileSync(o.webhookSecretFile, 'utf8').trim());
    } catch (e) {
      return usage(`--webhook-secret-file: ${(e as { message?: string }).message ?? String(e)}`);
    }
    if (webhookSecret.length === 0) return usage('--webhook-secret-file: the file is empty');
  } else if (secretEnv) {
    webhookSecret = Buffer.from(secretEnv.trim());
  }
  const tlsFlags = [o.tlsCert, o.tlsKey, o.tlsClientCa].filter((x) => x !== undefined).length;
  if (tlsFlags !== 0 && tlsFlags !== 3) return usage('--tls-cert, --tls-key and --tls-client-ca go together (mTLS for xDS)');

  const logger = pino({ level: o.logLevel ?? SERVE_DEFAULTS.logLevel, base: { service: 'portcullis' }, timestamp: pino.stdTimeFunctions.isoTime });
  const repo = isUrl(o.repo) ? o.repo : path.resolve(ctx.cwd, o.repo);
  let server: ControlServer;
  try {
    server = await startControlServer({
      repo,
      branch: o.branch ?? SERVE_DEFAULTS.branch,
      path: o.path ?? SERVE_DEFAULTS.path,
      pollIntervalMs,
      xdsHost: o.xdsHost ?? SERVE_DEFAULTS.xdsHost,
      xdsPort: o.xdsPort ?? SERVE_DEFAULTS.xdsPort,
      httpHost: o.httpHost ?? SERVE_DEFAULTS.httpHost,
      httpPort: o.httpPort ?? SERVE_DEFAULTS.httpPort,
      webhookSecret,
      ...(o.workDir ? { workDir: path.resolve(ctx.cwd, o.workDir) } : {}),
      ...(o.tlsCert && o.tlsKey && o.tlsClientCa ? { tls: { certFile: o.tlsCert, keyFile: o.tlsKey, clientCaFile: o.tlsClientCa } } : {}),
      logger,
    });
  } catch (e) {
    logger.fatal({ err: e }, 'control server failed to start');
    ctx.stderr.write(`portcullis serve: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string): void => {
      logger.info({ signal }, 'shutting down');
      signals.off('SIGINT', onSignal);
      signals.off('SIGTERM', onSignal);
      resolve();
    };
    signals.on('SIGINT', onSignal);
    signals.on('SIGTERM', onSignal);
  });
  await server.stop();
  logger.flush();
  return 0;
}

function isUrl(repo: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/\s]+@[^:\s]+:/.test(repo);
}
