/**
 * Bot: the running service — GitHub connection, journal, handler and receiver put together, and the
 * replay of journal entries accepted but not yet handled (after a restart, or while GitHub failed).
 * `portcullis bot` (cli/commands/bot.ts) starts it; tests start it in-process.
 */
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import type { SourceFile } from '../compiler';
import { parseAlertmanagerPayload, type AlertBatch } from './alerts';
import { connectGitHub, type GitHubAuth } from './github';
import { LockdownBot, type AuditSink, type BotLog, type Outcome, type ShadowedPr } from './handler';
import type { PrMarker } from './incident';
import { ShadowRuns, type ShadowClient } from './shadow';
import { commentTimelines, housekeep, type IncidentTimeline } from './housekeeping';
import { Journal } from './journal';
import { createBotMetrics } from './metrics';
import { CloudWindow } from './cloud-window';
import { monitorEvidence } from './evidence';
import { GitHubEvents } from './events';
import { deliveryLog, githubHookHandler } from './github-hooks';
import { createReceiver, type ReceiverAuth } from './receiver';
import { PolicyRepo, type BotRepo } from './repo';

export interface BotServiceOptions {
  readonly host?: string;
  readonly port?: number;
  readonly workDir: string;
  readonly auth: ReceiverAuth;
  /** Required unless `repo` is given. */
  readonly github?: {
    readonly baseUrl: string;
    readonly owner: string;
    readonly repo: string;
    readonly auth: GitHubAuth;
    readonly retries?: number;
    readonly retryAfterBaseMs?: number;
    readonly maxRetryAfterSeconds?: number;
  };
  /** Instead of `github`: a repository reached another way (bot/local-repo.ts); no housekeeping PRs then. */
  readonly repo?: BotRepo;
  readonly base?: string;
  readonly folder?: string;
  readonly now?: () => Date;
  readonly log: BotLog;
  readonly audit?: AuditSink;
  readonly cooldownMs?: number;
  readonly describePlan?: (base: readonly SourceFile[], head: readonly SourceFile[], now: Date) => string;
  readonly maxBodyBytes?: number;
  /** How often journal entries not yet handled are retried (default 30 s; 0: only at start). */
  readonly replayIntervalMs?: number;
  /** How often expired lockdown files are looked for (default 10 min; 0: never by itself). */
  readonly housekeepingIntervalMs?: number;
  /** The GitHub webhook secret: enables POST /hooks/github (reviews, merges, `/portcullis lift`). */
  readonly githubWebhookSecret?: string;
  /**
   * The proposed lockdown in shadow mode while its PR is open (the control server's shadow API, over
   * HTTP or in process), its live figures refreshed in the PR body every `refreshMs` (default 60 s).
   */
  readonly shadow?: { readonly client: ShadowClient; readonly refreshMs?: number; readonly ttlMs?: number; readonly windowMs?: number };
  /** Where the monitor answers /monitor/blast-radius (the control server): the PR's would-have-refused figures. */
  readonly monitor?: { readonly url: string; readonly authorization?: string; readonly timeoutMs?: number };
  /** The deploy workflow dispatched when a lockdown that changes AWS rules starts or ends (unset: never). */
  readonly deployWorkflow?: string;
  /** The incident's audit timeline (markdown), appended to its PR when the lockdown has ended. */
  readonly timeline?: IncidentTimeline;
  /** How often the cloud window is checked besides its own timer and merges (default 60 s). */
  readonly cloudIntervalMs?: number;
}

export interface BotService {
  readonly url: string;
  readonly bot: LockdownBot;
  readonly journal: Journal;
  readonly registry: Registry;
  /** Handles every pending journal entry once; resolves when done (failures stay pending). */
  replay(): Promise<void>;
  /** Dispatches the deploy for lockdown starts and ends that passed (see cloud-window.ts); null without a workflow. */
  readonly cloud: CloudWindow | null;
  /** Opens or completes the PR removing expired lockdown files (see housekeeping.ts). */
  housekeep(): Promise<{ pull: number | null; url?: string; removed: string[]; expired: string[]; timelines: number[] }>;
  stop(): Promise<void>;
}

async function gitHubRepo(o: BotServiceOptions, metrics: ReturnType<typeof createBotMetrics>): Promise<PolicyRepo> {
  if (!o.github) throw new Error('the bot needs a GitHub repository (github) or a local one (repo)');
  const gh = await connectGitHub({ ...o.github, log: o.log, metrics: { requests: metrics.githubRequests, seconds: metrics.githubSeconds } });
  return new PolicyRepo(gh, { owner: o.github.owner, repo: o.github.repo, base: o.base ?? 'main', folder: o.folder ?? 'policies' });
}

export async function startBotService(o: BotServiceOptions): Promise<BotService> {
  const registry = new Registry();
  const metrics = createBotMetrics(registry);
  const now = o.now ?? (() => new Date());
  const repo = o.repo ?? (await gitHubRepo(o, metrics));
  const evidence = o.monitor ? monitorEvidence({ ...o.monitor, log: o.log }) : undefined;
  const shadow = o.shadow ? new ShadowRuns<ShadowedPr>({ client: o.shadow.client, ttlMs: o.shadow.ttlMs, windowMs: o.shadow.windowMs, log: o.log }) : undefined;
  const bot = new LockdownBot({ repo, now, log: o.log, audit: o.audit, cooldownMs: o.cooldownMs, describePlan: o.describePlan, evidence, shadow });
  const cloud = o.deployWorkflow ? new CloudWindow({ repo, workDir: o.workDir, workflow: o.deployWorkflow, log: o.log }) : null;
  const github = await githubWebhooks(o, repo, now, cloud, (marker) => bot.endShadow(marker.incident));
  const journal = await Journal.open(o.workDir);

  const handle = async (batch: AlertBatch): Promise<Outcome[]> => {
    for (const a of batch.alerts) void o.audit?.record('alert.received', { incident: a.incident, fingerprint: a.fingerprint, environment: a.environment, status: a.status });
    const settled = await Promise.allSettled(batch.alerts.map((a) => bot.handle(a, batch.externalUrl)));
    const outcomes = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    for (const out of outcomes) metrics.actions.inc({ action: out.action });
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return outcomes;
  };

  let replaying: Promise<void> | null = null;
  const replay = (): Promise<void> => {
    replaying ??= (async () => {
      for (const entry of journal.pending()) {
        const batch = parseAlertmanagerPayload(entry.payload);
        try {
          if (batch.ok) await handle(batch.value);
          await journal.done(entry.id);
        } catch (e) {
          o.log.warn({ id: entry.id, error: e instanceof Error ? e.message : String(e) }, 'journal replay failed; kept for the next one');
        }
      }
    })().finally(() => (replaying = null));
    return replaying;
  };

  const server: Server = createReceiver({ auth: o.auth, maxBodyBytes: o.maxBodyBytes, journal, now, metrics, registry, handle, log: o.log, github });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, o.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  // Reading and compiling the base once now keeps it off the first alert's path.
  await bot.base().catch((e: Error) => o.log.warn({ error: e.message }, 'base not read at start; the first alert reads it'));
  const started = replay();
  const interval = o.replayIntervalMs ?? 30_000;
  const timer = interval > 0 ? setInterval(() => void replay(), interval) : null;
  timer?.unref();
  const tidy = async () => {
    const result = await housekeep(repo, now());
    const timelines = o.timeline ? await commentTimelines(repo, result.expired, o.timeline) : [];
    return { ...result, timelines };
  };
  const houseInterval = o.housekeepingIntervalMs ?? 600_000;
  const houseTimer = houseInterval > 0 ? setInterval(() => void tidy().catch((e: Error) => o.log.warn({ error: e.message }, 'housekeeping failed')), houseInterval) : null;
  houseTimer?.unref();
  const stopCloud = cloud ? watchCloudWindow(cloud, now, o.cloudIntervalMs ?? 60_000, o.log) : () => undefined;
  const stopShadow = shadow ? refreshShadows(bot, o.shadow?.refreshMs ?? 60_000, o.log) : async () => undefined;

  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}`,
    bot,
    journal,
    registry,
    replay,
    cloud,
    housekeep: tidy,
    async stop() {
      stopCloud();
      await stopShadow();
      if (timer) clearInterval(timer);
      if (houseTimer) clearInterval(houseTimer);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await started.catch(() => undefined);
      await replaying?.catch(() => undefined);
      await journal.close();
    },
  };
}

/** POST /hooks/github when a webhook secret is configured (deliveries handled are kept in the work dir). */
async function githubWebhooks(o: BotServiceOptions, repo: BotRepo, now: () => Date, cloud: CloudWindow | null, onPullClosed: (marker: PrMarker) => Promise<void>) {
  if (!o.githubWebhookSecret) return undefined;
  const events = new GitHubEvents({ repo, now, log: o.log, audit: o.audit, cloud: cloud ?? undefined, onPullClosed });
  const deliveries = await deliveryLog(path.join(o.workDir, 'github-deliveries.log'));
  return githubHookHandler({ secret: o.githubWebhookSecret, handle: (event, payload) => events.handle(event, payload), log: o.log, known: deliveries.known, onHandled: deliveries.add });
}

/**
 * Rebuilds the shadows from the open incident PRs (bot.resumeShadows) now and, with the refresh of
 * their live figures, every `everyMs`; returns the stop (which waits for a tick under way).
 */
function refreshShadows(bot: LockdownBot, everyMs: number, log: BotLog): () => Promise<void> {
  let running: Promise<void> | null = null;
  const tick = (refresh: boolean) => {
    running ??= (async () => {
      await bot.resumeShadows().catch((e: Error) => log.warn({ error: e.message }, 'shadows not resumed'));
      if (refresh) await bot.refreshShadows().catch((e: Error) => log.warn({ error: e.message }, 'shadow figures not refreshed'));
    })().finally(() => (running = null));
  };
  tick(false);
  const timer = everyMs > 0 ? setInterval(() => tick(true), everyMs) : null;
  timer?.unref();
  return async () => {
    if (timer) clearInterval(timer);
    await running;
  };
}

/** Scans the cloud window every `intervalMs` and at the next start or end it knows of; returns the stop. */
function watchCloudWindow(cloud: CloudWindow, now: () => Date, intervalMs: number, log: BotLog): () => void {
  let exact: NodeJS.Timeout | null = null;
  const scan = () =>
    void cloud.scan(now()).then(
      ({ next }) => {
        if (exact) clearTimeout(exact);
        exact = next === null ? null : setTimeout(scan, Math.min(Math.max(0, next - now().getTime()) + 50, 2 ** 31 - 1));
        exact?.unref();
      },
      (e: Error) => log.warn({ error: e.message }, 'cloud window scan failed; retried at the next interval'),
    );
  const timer = intervalMs > 0 ? setInterval(scan, intervalMs) : null;
  timer?.unref();
  scan();
  return () => {
    if (timer) clearInterval(timer);
    if (exact) clearTimeout(exact);
  };
}
