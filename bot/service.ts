/**
 * Bot: the running service — GitHub connection, journal, handler and receiver put together, and the
 * replay of journal entries accepted but not yet handled (after a restart, or while GitHub failed).
 * `portcullis bot` (cli/commands/bot.ts) starts it; tests start it in-process.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import type { SourceFile } from '../compiler';
import { parseAlertmanagerPayload, type AlertBatch } from './alerts';
import { connectGitHub, type GitHubAuth } from './github';
import { LockdownBot, type AuditSink, type BotLog, type Outcome } from './handler';
import { housekeep } from './housekeeping';
import { Journal } from './journal';
import { createBotMetrics } from './metrics';
import { createReceiver, type ReceiverAuth } from './receiver';
import { PolicyRepo, type BotRepo } from './repo';
import { compilableFiles, readTriggers } from './trigger-interim';

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
}

export interface BotService {
  readonly url: string;
  readonly bot: LockdownBot;
  readonly journal: Journal;
  readonly registry: Registry;
  /** Handles every pending journal entry once; resolves when done (failures stay pending). */
  replay(): Promise<void>;
  /** Opens or completes the PR removing expired lockdown files (see housekeeping.ts). */
  housekeep(): Promise<{ pull: number | null; url?: string; removed: string[] }>;
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
  const bot = new LockdownBot({ repo, now, log: o.log, audit: o.audit, cooldownMs: o.cooldownMs, triggers: readTriggers, compilable: compilableFiles, describePlan: o.describePlan });
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

  const server: Server = createReceiver({ auth: o.auth, maxBodyBytes: o.maxBodyBytes, journal, now, metrics, registry, handle, log: o.log });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, o.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const started = replay();
  const interval = o.replayIntervalMs ?? 30_000;
  const timer = interval > 0 ? setInterval(() => void replay(), interval) : null;
  timer?.unref();
  const tidy = async () => (repo instanceof PolicyRepo ? housekeep(repo, now()) : { pull: null, removed: [] });
  const houseInterval = repo instanceof PolicyRepo ? (o.housekeepingIntervalMs ?? 600_000) : 0;
  const houseTimer = houseInterval > 0 ? setInterval(() => void tidy().catch((e: Error) => o.log.warn({ error: e.message }, 'housekeeping failed')), houseInterval) : null;
  houseTimer?.unref();

  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}`,
    bot,
    journal,
    registry,
    replay,
    housekeep: tidy,
    async stop() {
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
