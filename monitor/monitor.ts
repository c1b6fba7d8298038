/**
 * The monitor edge: receives Envoy access logs (gRPC ALS on the control server's gRPC port), counts
 * them per environment in bounded windows, exports bounded series, evaluates keyed Triggers and
 * posts their alerts to Alertmanager. Reads the compiled policy (IR); wired in by cli/.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { PolicyIR } from '../compiler/ir/ir';
import { type GrpcMethod, GrpcStatus } from '../grpc/server';
import { ALS_SERVICE_PATH, decodeMessage } from './als-service';
import { postAlerts, toAlertmanager, type AlertmanagerAlert, type AlertmanagerTarget } from './alertmanager';
import { DEFAULT_EVIDENCE, EnvironmentMonitor, type EvidenceSizing } from './environment-monitor';
import { createMonitorMetrics, type MonitorMetrics } from './metrics';
import type { AccessEntry } from './als-decode';
import { FleetShare } from './fleet-share';
import { parseRedisUrl, RedisConnection } from './redis-connection';
import type { TriggerState } from './trigger-state';

export interface MonitorOptions {
  readonly registry: Registry;
  readonly logger: Logger;
  /** Where keyed-trigger alerts go; null = evaluated and exported, never posted. */
  readonly alertmanager: AlertmanagerTarget | null;
  /** Prometheus base URL for graph links in annotations; null = no link. */
  readonly prometheusUrl?: string | null;
  /** Evaluation period (default 1 s). */
  readonly evaluateEveryMs?: number;
  /** Firing alerts are re-posted this often (default 10 s); endsAt is 4 periods ahead. */
  readonly resendEveryMs?: number;
  /** Entries accepted in one stream message (default 10,000); larger messages are dropped. */
  readonly maxEntriesPerMessage?: number;
  readonly evidence?: EvidenceSizing;
  /** Also post alerts of key-none triggers (normally Prometheus rules raise those). Default false. */
  readonly alertUnkeyed?: boolean;
  /** The clock (tests); default Date.now. */
  readonly now?: () => number;
  /** Several replicas: merge the triggers' windows through this Redis (monitor/fleet-share.ts). */
  readonly fleetMerge?: FleetMergeOptions | null;
}

export interface FleetMergeOptions {
  /** redis://[:password@]host:port[/db] */
  readonly redisUrl: string;
  /** Unique per replica (default hostname:pid:random). */
  readonly replica?: string;
  /** Key prefix (default portcullis:monitor). */
  readonly prefix?: string;
}

export interface Monitor {
  /** Applies a newly compiled policy: environments, fleets, routes and triggers to watch. */
  setPolicy(ir: PolicyIR): void;
  /** Counts entries of one stream message (the gRPC receiver calls it; tests and benchmarks too). */
  ingest(fleet: string, logName: string, entries: readonly AccessEntry[]): void;
  /** The ALS service to register on the control server's gRPC server. */
  readonly grpcService: GrpcMethod;
  environment(name: string): EnvironmentMonitor | undefined;
  /** One evaluation tick now (the timer calls it; tests may too). Resolves once alerts are posted. */
  evaluate(): Promise<void>;
  /** Starts the evaluation timer. */
  start(): void;
  /** Stops the timer and posts nothing more (and closes the fleet merge's connection). */
  stop(): void;
  readonly metrics: MonitorMetrics;
}

export function createMonitor(options: MonitorOptions): Monitor {
  const now = options.now ?? Date.now;
  const metrics = createMonitorMetrics(options.registry);
  const logger = options.logger.child({ component: 'monitor' });
  const maxEntries = options.maxEntriesPerMessage ?? 10_000;
  const evaluateEvery = options.evaluateEveryMs ?? 1000;
  const resendEvery = options.resendEveryMs ?? 10_000;
  const sizing = options.evidence ?? DEFAULT_EVIDENCE;
  let environments = new Map<string, EnvironmentMonitor>();
  let fleetEnv = new Map<string, string>();
  let timer: NodeJS.Timeout | null = null;
  let posting = false;
  /** Per incident: when its firing alert was last posted. */
  const lastPosted = new Map<string, number>();

  const ingest = (fleet: string, logName: string, entries: readonly AccessEntry[]): void => {
    const envName = fleetEnv.get(fleet);
    const env = envName === undefined ? undefined : environments.get(envName);
    // The log name must be the fleet's environment: a node cannot count into another environment.
    if (!env || logName !== `portcullis/${envName}`) {
      metrics.messages.inc({ result: 'unknown_node' });
      metrics.entries.inc({ result: 'unknown_node' }, entries.length);
      return;
    }
    countEntries(metrics, env, fleet, entries, now());
  };

  const share = fleetShare(options.fleetMerge ?? null, metrics, logger);
  const leaseMs = 2 * Math.max(resendEvery, evaluateEvery);
  const alerting: AlertContext = { metrics, logger, lastPosted, resendEvery, evaluateEvery, alertUnkeyed: options.alertUnkeyed ?? false, prometheusUrl: options.prometheusUrl ?? null, share, leaseMs };

  const evaluate = async (): Promise<void> => {
    const t = now();
    const envs = [...environments.values()];
    if (share) await share.sync(envs.flatMap((e) => e.triggers), t);
    const posts = envs.flatMap((env) => env.triggers.flatMap((state) => alertsOf(alerting, env, state, t)));
    metrics.trackedKeys.set(envs.reduce((n, e) => n + e.trackedKeys, 0));
    if (!options.alertmanager || posts.length === 0) return;
    await deliver(alerting, options.alertmanager, posts, t);
  };

  return {
    setPolicy(ir) {
      ({ environments, fleetEnv } = monitorsOf(ir, sizing, now(), environments, share !== null));
      forgetRemovedTriggers(lastPosted, environments);
    },
    ingest,
    grpcService: accessLogService(metrics, logger, maxEntries, ingest),
    environment: (name) => environments.get(name),
    evaluate,
    start() {
      if (timer) return;
      timer = setInterval(() => {
        if (posting) return;
        posting = true;
        evaluate()
          .catch((err: unknown) => logger.error({ err }, 'trigger evaluation failed'))
          .finally(() => {
            posting = false;
          });
      }, evaluateEvery);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
      share?.close();
    },
    metrics,
  };
}

/** Counts a message's entries into its environment's windows, one labelled increment per series. */
function countEntries(metrics: MonitorMetrics, env: EnvironmentMonitor, fleet: string, entries: readonly AccessEntry[], t: number): void {
  const batch = new Map<string, number>();
  let outOfWindow = 0;
  for (const e of entries) {
    const c = env.ingest(e, t);
    if (!c.inWindow) outOfWindow++;
    const k = `${c.route}\u0000${c.codeClass}\u0000${c.cause}`;
    batch.set(k, (batch.get(k) ?? 0) + 1);
  }
  // One labelled increment per distinct series in the message (prom-client label hashing is the cost).
  for (const [k, n] of batch) {
    const [route = '', code_class = '', cause = ''] = k.split('\u0000');
    metrics.responses.inc({ environment: env.env.name, fleet, route, code_class, cause }, n);
  }
  metrics.messages.inc({ result: 'ok' });
  metrics.entries.inc({ result: 'counted' }, entries.length - outOfWindow);
  if (outOfWindow) metrics.entries.inc({ result: 'out_of_window' }, outOfWindow);
}

/** The empty StreamAccessLogsResponse, framed: what a stream gets when Envoy closes it. */
const EMPTY_RESPONSE = Buffer.alloc(5);

/** The ALS gRPC method: decodes each message (a bad one ends the stream) and hands its entries to `ingest`. */
function accessLogService(metrics: MonitorMetrics, logger: Logger, maxEntries: number, ingest: Monitor['ingest']): GrpcMethod {
  return {
    path: ALS_SERVICE_PATH,
    open(call) {
      metrics.streams.inc();
      let node: { fleet: string; logName: string } | null = null;
      let open = true;
      const finish = (): void => {
        if (!open) return;
        open = false;
        metrics.streams.dec();
      };
      return {
        message(buf) {
          if (!open) return;
          const decoded = decodeMessage(buf, maxEntries);
          if (!decoded.ok) {
            metrics.messages.inc({ result: decoded.reason });
            logger.warn({ peer: call.peer, reason: decoded.reason, error: decoded.message }, 'access-log message dropped; closing the stream');
            finish();
            call.end(GrpcStatus.INVALID_ARGUMENT, `access-log message refused: ${decoded.message}`);
            return;
          }
          const m = decoded.value;
          if (m.identifier) node = { fleet: m.identifier.cluster, logName: m.identifier.logName };
          if (!node) {
            metrics.messages.inc({ result: 'unknown_node' });
            metrics.entries.inc({ result: 'unknown_node' }, m.entries.length);
            return;
          }
          ingest(node.fleet, node.logName, m.entries);
        },
        halfClose() {
          finish();
          call.write(EMPTY_RESPONSE);
          call.end(GrpcStatus.OK);
        },
        closed: finish,
      };
    },
  };
}

/** The environments' monitors for a new policy (each keeping its predecessor's windows), and each fleet's environment. */
function monitorsOf(ir: Parameters<Monitor['setPolicy']>[0], sizing: EvidenceSizing, t: number, previous: ReadonlyMap<string, EnvironmentMonitor>, sharing: boolean): { environments: Map<string, EnvironmentMonitor>; fleetEnv: Map<string, string> } {
  const environments = new Map<string, EnvironmentMonitor>();
  const fleetEnv = new Map<string, string>();
  for (const e of ir.environments) {
    environments.set(e.name, new EnvironmentMonitor(e, sizing, t, previous.get(e.name) ?? null));
    for (const f of e.fleets) fleetEnv.set(f, e.name);
  }
  // Counted from the start for publication (a trigger kept across the update keeps its pending counts).
  if (sharing) for (const env of environments.values()) for (const state of env.triggers) state.startSharing();
  return { environments, fleetEnv };
}

/** What a tick's alerting needs from the monitor. */
interface AlertContext {
  readonly metrics: MonitorMetrics;
  readonly logger: Logger;
  /** Per incident: when its firing alert was last posted. */
  readonly lastPosted: Map<string, number>;
  readonly resendEvery: number;
  readonly evaluateEvery: number;
  readonly alertUnkeyed: boolean;
  readonly prometheusUrl: string | null;
  readonly share: FleetShare | null;
  readonly leaseMs: number;
}

/** Incident keys are `trigger/environment/key`; trigger and environment names are DNS labels. */
const incidentPrefix = (trigger: string, environment: string): string => `${trigger}/${environment}/`;

/**
 * Drops the resend times of incidents whose trigger (or environment) the new policy no longer has:
 * otherwise they stay forever, and a trigger added back would wait out the old resend period.
 */
function forgetRemovedTriggers(lastPosted: Map<string, number>, environments: ReadonlyMap<string, EnvironmentMonitor>): void {
  const live = new Set([...environments.values()].flatMap((env) => env.triggers.map((s) => incidentPrefix(s.ir.name, env.env.name))));
  for (const incident of lastPosted.keys()) {
    const [trigger = '', environment = ''] = incident.split('/', 2);
    if (!live.has(incidentPrefix(trigger, environment))) lastPosted.delete(incident);
  }
}

/** One trigger's alerts this tick (its series set on the way). */
function alertsOf(c: AlertContext, env: EnvironmentMonitor, state: TriggerState, t: number): Post[] {
  const r = state.evaluate(t);
  const labels = { environment: env.env.name, trigger: state.ir.name };
  c.metrics.triggerValue.set(labels, r.topValue);
  c.metrics.triggerThreshold.set(labels, r.threshold);
  c.metrics.triggerBaseline.set(labels, r.baseline ?? 0);
  c.metrics.triggerFiring.set(labels, r.firing.length);
  if (state.newMatches > 0) c.metrics.triggerMatches.inc(labels, state.newMatches);
  state.newMatches = 0;
  if (state.ir.key === 'none' && !c.alertUnkeyed) return [];
  const incidentOf = (key: string) => `${incidentPrefix(state.ir.name, env.env.name)}${key || '-'}`;
  const posts: Post[] = [];
  for (const a of r.firing) {
    const incident = incidentOf(a.key);
    const last = c.lastPosted.get(incident);
    if (last !== undefined && t - last < c.resendEvery) continue;
    posts.push({ incident, resolved: false, alert: toAlertmanager(state.ir, env.env.name, a, t + 4 * Math.max(c.resendEvery, c.evaluateEvery), c.prometheusUrl) });
  }
  for (const a of r.resolved) {
    c.lastPosted.delete(incidentOf(a.key));
    posts.push({ incident: incidentOf(a.key), resolved: true, alert: toAlertmanager(state.ir, env.env.name, a, t, c.prometheusUrl) });
  }
  return posts;
}

/** Posts a tick's alerts; a failed post forgets when they were posted, so the next tick posts them again. */
async function deliver(c: AlertContext, alertmanager: NonNullable<MonitorOptions['alertmanager']>, all: readonly Post[], t: number): Promise<void> {
  let posts = all;
  // With replicas, the one holding an incident's lease posts it (all of them while Redis is away).
  if (c.share) {
    const owned = await c.share.claim(posts.map((p) => p.incident), c.leaseMs);
    c.metrics.alertsLeftToPeer.inc(posts.filter((p) => !owned.has(p.incident)).length);
    posts = posts.filter((p) => owned.has(p.incident));
    if (posts.length === 0) return;
  }
  for (const p of posts) if (!p.resolved) c.lastPosted.set(p.incident, t);
  const alerts = posts.map((p) => p.alert);
  const error = await postAlerts(alertmanager, alerts);
  c.metrics.alertPosts.inc({ result: error ? 'error' : 'ok' });
  if (error) {
    c.logger.warn({ error, alerts: alerts.length }, 'could not post alerts; firing alerts are posted again next tick');
    for (const p of posts) c.lastPosted.delete(p.incident);
  } else c.logger.info({ alerts: alerts.map((a) => ({ incident: a.labels.incident, endsAt: a.endsAt })) }, 'alerts posted');
}

/** An alert to post, under its incident key. */
interface Post {
  readonly incident: string;
  readonly resolved: boolean;
  readonly alert: AlertmanagerAlert;
}

function fleetShare(o: FleetMergeOptions | null, metrics: MonitorMetrics, logger: Logger): FleetShare | null {
  if (!o) return null;
  const target = parseRedisUrl(o.redisUrl);
  if (typeof target === 'string') throw new Error(`fleet merge: ${target}`);
  const redis = new RedisConnection(target);
  const replica = o.replica ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  logger.info({ redis: `${target.host}:${target.port}`, replica }, 'fleet merge: triggers evaluate the traffic of every replica through Redis');
  return new FleetShare({ redis, replica, metrics, logger, ...(o.prefix ? { prefix: o.prefix } : {}) });
}
