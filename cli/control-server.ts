/**
 * The control server's composition root: wires the edges together. git follower (fetch →
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
import { PolicyFollower, type CompileFn, type PublishFn } from '../sources/follower';
import { redactCredentials } from '../sources/git';
import { startHttpEdge, type HttpEdge } from '../xds-server/http/server';
import type { NodeStatus, StatusDocument } from './status-document';
import { createXdsServer, type XdsServer } from '../xds-server/ads-server';
import { DEFAULT_EVIDENCE } from '../monitor/environment-monitor';
import { monitorRoutes } from '../monitor/http-api';
import { createMonitor, type Monitor } from '../monitor/monitor';
import { packageVersion } from './package-version';

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
  /** The monitor's outputs: where keyed-trigger alerts go, and the Prometheus that graph links point at. */
  readonly monitor?: {
    readonly alertmanagerUrl: string | null;
    /** Authorization header value for Alertmanager (behind an authenticating proxy). */
    readonly alertmanagerAuthorization?: string | undefined;
    readonly prometheusUrl: string | null;
    readonly evaluateEveryMs?: number | undefined;
  };
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
  readonly monitor: Monitor;
  status(): StatusDocument;
  /** Stops polling, closes the HTTP edge, shuts the ADS server down (streams closed). */
  stop(): Promise<void>;
}

const VERSION = packageVersion();

/** Starts every part; resolves once the first sync finished (served, refused or fetch failed). */
export async function startControlServer(opts: ServeOptions): Promise<ControlServer> {
  const log = opts.logger;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'portcullis_process_' });
  const startedAt = new Date().toISOString();

  const m = opts.monitor;
  const monitor = createMonitor({
    registry,
    logger: log,
    alertmanager: m?.alertmanagerUrl ? { url: m.alertmanagerUrl, authorization: m.alertmanagerAuthorization } : null,
    prometheusUrl: m?.prometheusUrl ?? null,
    ...(m?.evaluateEveryMs ? { evaluateEveryMs: m.evaluateEveryMs } : {}),
  });
  const xds = createXdsServer({
    logger: log.child({ component: 'ads' }),
    registry,
    // Envoy's access logs arrive on the ADS port, through the cluster every fleet already has.
    services: [monitor.grpcService],
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
    monitor.setPolicy(ir);
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
    routes: [monitorRoutes(monitor, DEFAULT_EVIDENCE.bucketMs * DEFAULT_EVIDENCE.buckets)],
  });
  monitor.start();

  log.info({ repo: redactCredentials(opts.repo), branch: opts.branch, path: opts.path, workDir, xds: `${opts.xdsHost}:${xdsPort}`, http: http.url }, 'control server starting');
  const first = await follower.start();
  if (first.kind !== 'served') log.warn({ outcome: first }, 'no snapshot served yet: Envoys get nothing until a commit compiles');

  let stopping: Promise<void> | null = null;
  return {
    follower,
    xds,
    http,
    xdsPort,
    registry,
    monitor,
    status,
    stop: () =>
      (stopping ??= (async () => {
        log.info('control server stopping');
        monitor.stop();
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
