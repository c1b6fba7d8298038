/**
 * The control server's composition root: wires the edges together. git follower (fetch →
 * compile) → translator (per environment and fleet) → ADS core (snapshots, streams), plus the HTTP
 * edge (webhook, status, metrics), structured logs and graceful shutdown.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createIncrementalCompiler } from '../compiler';
import type { EnvoyResources } from '../compiler/envoy/resources';
import type { PolicyIR } from '../compiler/ir/ir';
import { PolicyFollower, type CompileFn } from '../sources/follower';
import { redactCredentials } from '../sources/git';
import { startHttpEdge, type HttpEdge } from '../xds-server/http/server';
import { rateLimitServiceWarnings, type NodeStatus, type StatusDocument } from './status-document';
import { createXdsServer, type XdsServer } from '../xds-server/ads-server';
import { createValidationMetrics, EnvoyValidator } from '../xds-server/envoy-validate';
import { lockdownEnforcement } from './lockdown-enforcement';
import { createPublisher } from './publish';
import { DEFAULT_EVIDENCE } from '../monitor/environment-monitor';
import { monitorRoutes } from '../monitor/http-api';
import { createMonitor, type FleetMergeOptions, type Monitor } from '../monitor/monitor';
import { packageVersion } from './package-version';
import type { AuditSink } from '../audit';
import { DEFAULT_SHADOW_LIMITS, ShadowRegistry, type ShadowLimits } from '../xds-server/shadow-overlays';
import { shadowRoutes } from '../xds-server/http/shadow-api';
import type { SyncOutcome } from '../sources/follower';
import { positionless, type Result } from '../compiler/result';

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
  /**
   * Envoy binary that checks every new fleet configuration (`--mode validate`) before it is
   * published; null or absent: no check (docs/operations.md says what that means).
   */
  readonly envoyBinary?: string | null;
  /** Any commit may drop fleets with connected Envoys (otherwise only with the commit trailer). */
  readonly allowFleetRemoval?: boolean;
  /** The monitor's outputs: where keyed-trigger alerts go, and the Prometheus that graph links point at. */
  readonly monitor?: {
    readonly alertmanagerUrl: string | null;
    /** Authorization header value for Alertmanager (behind an authenticating proxy). */
    readonly alertmanagerAuthorization?: string | undefined;
    readonly prometheusUrl: string | null;
    readonly evaluateEveryMs?: number | undefined;
    /** Merge keyed triggers' windows with the other replicas through Redis (null: this replica's view only). */
    readonly fleetMerge?: FleetMergeOptions | null;
  };
  /** Audit sink (audit/'s AuditSink) for the follower's policy.* and lockdown.* and the streams' xds.* records. */
  readonly audit?: AuditSink;
  /** The shadow-overlay API (xds-server/http/shadow-api.ts): its bearer token (null or absent: every call 401) and bounds. */
  readonly shadow?: { readonly token: string | null; readonly limits?: ShadowLimits };
}

export interface ControlServer {
  readonly follower: PolicyFollower;
  readonly xds: XdsServer;
  readonly http: HttpEdge;
  readonly xdsPort: number;
  readonly registry: Registry;
  readonly monitor: Monitor;
  readonly shadow: ShadowRegistry;
  status(): StatusDocument;
  /** Stops polling, closes the HTTP edge, shuts the ADS server down (streams closed). */
  stop(): Promise<void>;
}

const VERSION = packageVersion();

/** Starts every part; resolves once the first sync finished (served, refused or fetch failed). */
export async function startControlServer(opts: ServeOptions): Promise<ControlServer> {
  const log = opts.logger;
  const registry = new Registry();
  // Standard names (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, …): stock dashboards work.
  collectDefaultMetrics({ register: registry });
  const startedAt = new Date().toISOString();
  // Whatever was opened, closed again when a later part fails to start (a port in use, …).
  const opened: (() => Promise<void>)[] = [];
  try {
    const monitor = startMonitor(opts, registry);
    const { xds, xdsPort } = await startXds(opts, registry, monitor, opened);
    const workDir = opts.workDir ?? path.join(await mkdtemp(path.join(tmpdir(), 'portcullis-serve-')), 'mirror.git');
    const { follower, served, shadow } = createFollower(opts, workDir, registry, xds, monitor);
    opened.push(async () => shadow.stop());
    opened.push(() => follower.stop());
    const status = statusOf(opts, startedAt, xdsPort, xds, follower, served);
    const http = await startHttp(opts, registry, monitor, follower, status, shadow);
    opened.push(() => http.close());
    monitor.start();
    opened.push(async () => monitor.stop());

    log.info({ repo: redactCredentials(opts.repo), branch: opts.branch, path: opts.path, workDir, xds: `${opts.xdsHost}:${xdsPort}`, http: http.url, envoyValidation: opts.envoyBinary ?? null }, 'control server starting');
    const first = await follower.start();
    if (first.kind !== 'served' && follower.status().served === null) log.warn({ outcome: first }, 'no snapshot served yet: Envoys get nothing until a commit compiles');

    let stopping: Promise<void> | null = null;
    const stop = () =>
      (stopping ??= (async () => {
        log.info('control server stopping');
        monitor.stop();
        shadow.stop();
        await follower.stop();
        await http.close();
        await xds.shutdown(2000);
        log.info('control server stopped');
      })());
    return { follower, xds, http, xdsPort, registry, monitor, shadow, status, stop };
  } catch (e) {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    throw e;
  }
}

/** The monitor (access logs → windows → keyed-trigger alerts); started once everything listens. */
function startMonitor(opts: ServeOptions, registry: Registry): Monitor {
  const m = opts.monitor;
  return createMonitor({
    registry,
    logger: opts.logger,
    alertmanager: m?.alertmanagerUrl ? { url: m.alertmanagerUrl, authorization: m.alertmanagerAuthorization } : null,
    prometheusUrl: m?.prometheusUrl ?? null,
    ...(m?.evaluateEveryMs ? { evaluateEveryMs: m.evaluateEveryMs } : {}),
    fleetMerge: m?.fleetMerge ?? null,
  });
}

/** The ADS server, listening (its shutdown pushed on `opened`). */
async function startXds(opts: ServeOptions, registry: Registry, monitor: Monitor, opened: (() => Promise<void>)[]): Promise<{ xds: XdsServer; xdsPort: number }> {
  const xds = createXdsServer({
    logger: opts.logger.child({ component: 'ads' }),
    registry,
    // Envoy's access logs arrive on the ADS port, through the cluster every fleet already has.
    services: [monitor.grpcService],
    ...(opts.audit ? { audit: opts.audit } : {}),
    ...(opts.tls ? { tls: { cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile), ca: readFileSync(opts.tls.clientCaFile) } } : {}),
  });
  opened.push(() => xds.shutdown(500));
  return { xds, xdsPort: await xds.listen(opts.xdsHost, opts.xdsPort) };
}

/**
 * git follower → incremental compiler (base + shadow overlays) → publisher (Envoy validation, ADS);
 * `served()` is the IR in force.
 */
function createFollower(opts: ServeOptions, workDir: string, registry: Registry, xds: XdsServer, monitor: Monitor): { follower: PolicyFollower; served: () => PolicyIR | null; shadow: ShadowRegistry } {
  const log = opts.logger;
  const compiler = createIncrementalCompiler();
  // Assigned below: the registry republishes through the follower, which compiles through the registry.
  let follower: PolicyFollower | null = null;
  const shadow = new ShadowRegistry({
    logger: log.child({ component: 'shadow' }),
    limits: opts.shadow?.limits ?? DEFAULT_SHADOW_LIMITS,
    stateFile: path.join(workDir, 'portcullis-shadow-overlays.json'),
    servedFiles: () => follower?.servedFiles() ?? null,
    republish: async () => outcomeResult(await (follower as PolicyFollower).requestSync('shadow')),
    ...(opts.audit ? { audit: (kind, fields) => void opts.audit?.record(kind, fields).catch((err: unknown) => log.warn({ err, kind }, 'audit record failed')) } : {}),
  });
  const compile: CompileFn = (files, now) => shadow.compile(files, now, (f, n, selection) => compiler.compileFiles(f, n, selection));
  let servedIr: PolicyIR | null = null;
  const binary = opts.envoyBinary ?? null;
  if (!binary) log.warn('no Envoy binary for validation (--envoy-bin, $ENVOY_BIN, envoy on PATH): snapshots are served without `envoy --mode validate`; a resource Envoy refuses is NACKed by the fleet instead');
  const publish = createPublisher({
    xds,
    logger: log,
    validator: binary ? new EnvoyValidator({ binary }) : null,
    validationMetrics: createValidationMetrics(registry),
    allowFleetRemoval: opts.allowFleetRemoval ?? false,
    transformResources: opts.transformResources,
    onServed: (ir) => {
      servedIr = ir;
      monitor.setPolicy(ir);
    },
  });
  follower = new PolicyFollower({
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
    ...(opts.audit ? { audit: opts.audit } : {}),
  });
  return { follower, served: () => servedIr, shadow };
}

/** A sync's outcome as the shadow registry reads it: published, or why not. */
function outcomeResult(o: SyncOutcome): Result<unknown> {
  if (o.kind === 'served') return { ok: true, value: o.version };
  if (o.kind === 'rejected') return { ok: false, errors: o.errors };
  return { ok: false, errors: [positionless(`not published: ${o.kind}${'error' in o ? ` (${o.error})` : ''}`)] };
}

/** The /status document: what is served, every node, lockdowns in force, warnings. */
function statusOf(opts: ServeOptions, startedAt: string, xdsPort: number, xds: XdsServer, follower: PolicyFollower, served: () => PolicyIR | null): () => StatusDocument {
  return () => {
    const policy = follower.status();
    const nodes = nodeStatuses(xds, served());
    return {
      server: { version: VERSION, startedAt, xds: { host: opts.xdsHost, port: xdsPort } },
      policy,
      nodes,
      lockdowns: lockdownEnforcement(policy.served, nodes),
      refusedStreams: xds.refusedStreams(),
      warnings: rateLimitServiceWarnings(served(), nodes),
    };
  };
}

/** The HTTP edge: push webhook → sync, /status, /ready, /metrics, the monitor's API. */
function startHttp(opts: ServeOptions, registry: Registry, monitor: Monitor, follower: PolicyFollower, status: () => StatusDocument, shadow: ShadowRegistry): Promise<HttpEdge> {
  return startHttpEdge({
    host: opts.httpHost,
    port: opts.httpPort,
    registry,
    logger: opts.logger,
    status,
    ready: () => follower.status().served !== null,
    webhook: {
      secret: opts.webhookSecret,
      branch: opts.branch,
      onPush: (push) => {
        // A push of the commit the last fetch already got needs no fetch (distinct deliveries of one push).
        const last = follower.status().lastFetch;
        if (push.after !== null && last?.ok && last.commit === push.after) return;
        void follower.requestSync('webhook');
      },
    },
    routes: [monitorRoutes(monitor, DEFAULT_EVIDENCE.bucketMs * DEFAULT_EVIDENCE.buckets), shadowRoutes(shadow, opts.shadow?.token ?? null)],
  });
}

function nodeStatuses(xds: XdsServer, ir: PolicyIR | null): NodeStatus[] {
  const envOfFleet = new Map<string, string>();
  for (const env of ir?.environments ?? []) for (const f of env.fleets) envOfFleet.set(f, env.name);
  return xds.nodes().map((n) => ({ ...n, environment: envOfFleet.get(n.fleet) ?? n.environment ?? null }));
}
