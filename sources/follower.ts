/**
 * The git follower: the control server's input edge. It fetches the policy branch (on a timer and on
 * webhook), reads the policy folder at the new commit, compiles it and hands the IR to the publisher
 * (translate + ADS snapshots). A commit that does not compile is rejected and the last good one stays
 * in force; lockdowns that start or expire are applied by recompiling the served commit at
 * `IR.nextChangeAt`, without any commit.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SourceFile } from '../compiler';
import { positionless, type Diagnostic, type Result } from '../compiler/result';
import type { PolicyIR } from '../compiler/ir/ir';
import { PolicyRepoMirror, redactCredentials, type CommitTrailer } from './git';
import { readTreeAt } from './git-tree';
import { loadLastGood, saveLastGood } from './last-good';
import { lockdownChanges } from './lockdown-changes';
import { withTreeProblems, type PolicyTree } from './policy-tree';

/** Compiles the policy files for one instant (the front-end's `compileSources`, or its incremental form). */
export type CompileFn = (files: readonly SourceFile[], now: Date) => Result<PolicyIR> | Promise<Result<PolicyIR>>;

/** What the publisher reports after it translated the IR and handed the snapshots to the ADS core. */
export interface Published {
  /** Version of the whole publication (all fleets). */
  readonly version: string;
  /** Snapshot version per fleet (node.cluster). */
  readonly fleetVersions?: Readonly<Record<string, string>>;
}

/** What the publisher may want to know about the commit besides its IR. */
export interface PublishContext {
  /** The policy files the IR was compiled from (to trace a refusal to a file:line). */
  readonly sources: readonly SourceFile[];
  /** Trailers of the commit message (`Portcullis-Allow-Fleet-Removal: edge-old`). */
  readonly trailers: readonly CommitTrailer[];
  readonly trigger: SyncTrigger;
}

/**
 * Translates the IR for every (environment, fleet) and hands the snapshots to the ADS core. A
 * translation that refuses the IR returns errors; nothing is published then.
 */
export type PublishFn = (ir: PolicyIR, commit: string, context: PublishContext) => Result<Published> | Promise<Result<Published>>;

export interface FollowerOptions {
  /** Repository URL or local path. */
  readonly repo: string;
  readonly branch: string;
  /** Policy folder inside the repository; the repository root is used when that folder is absent. */
  readonly path: string;
  /** Directory for the bare mirror. */
  readonly workDir: string;
  /** Fetch interval; 0 disables polling (webhook only). */
  readonly pollIntervalMs: number;
  readonly compile: CompileFn;
  readonly publish: PublishFn;
  readonly logger: Logger;
  readonly registry?: Registry;
  /** The compiler's `now`; tests move it. */
  readonly clock?: () => Date;
  /** Audit sink (audit/'s AuditSink, declared structurally): policy.seen/refused/compiled, lockdown.started/expired. */
  readonly audit?: { record(kind: string, fields: Record<string, unknown>): Promise<void> };
}

/** The commit in force, as shown by `/status`. */
export interface ServedCommit {
  readonly commit: string;
  readonly subject: string;
  readonly author: string;
  readonly version: string;
  /** Snapshot version per fleet. */
  readonly fleetVersions: Readonly<Record<string, string>>;
  /** The `now` the IR was compiled for. */
  readonly compiledAt: string;
  /** When the server handed this snapshot to the ADS core. */
  readonly servedAt: string;
  /** When the server first saw the commit (fetch finished). */
  readonly seenAt: string;
  /** Why this compilation happened. */
  readonly trigger: SyncTrigger;
  readonly nextChangeAt: string | null;
  readonly environments: readonly {
    readonly name: string;
    readonly fleets: readonly string[];
    readonly activeLockdowns: readonly { readonly name: string; readonly expiresAt: string }[];
  }[];
}

/** The last commit refused, with every error, as shown by `/status` and `portcullis status`. */
export interface RejectedCommit {
  readonly commit: string;
  readonly subject: string;
  readonly author: string;
  readonly at: string;
  /** `compile`: the policies have errors; `publish`: the translator, Envoy's validation or the ADS core refused it; `read`: git could not read the tree. */
  readonly stage: 'read' | 'compile' | 'publish';
  readonly errors: readonly Diagnostic[];
}

export interface FetchStatus {
  readonly at: string;
  readonly ok: boolean;
  readonly commit: string | null;
  readonly error: string | null;
}

export interface FollowerStatus {
  readonly repo: string;
  readonly branch: string;
  readonly path: string;
  readonly served: ServedCommit | null;
  readonly rejected: RejectedCommit | null;
  readonly lastFetch: FetchStatus | null;
  /** When the served commit is recompiled next (a lockdown starts or expires); null when never. */
  readonly nextRecompileAt: string | null;
}

/** `restore`: the last good commit recorded in the work dir, served again at start-up before any fetch. */
/** `shadow`: a shadow overlay started or ended (the served commit compiled again, no fetch). */
export type SyncTrigger = 'startup' | 'restore' | 'poll' | 'webhook' | 'schedule' | 'manual' | 'shadow';

export type SyncOutcome =
  | { readonly kind: 'served'; readonly commit: string; readonly version: string }
  | { readonly kind: 'unchanged'; readonly commit: string }
  | { readonly kind: 'rejected'; readonly commit: string; readonly errors: readonly Diagnostic[] }
  | { readonly kind: 'fetch-failed'; readonly error: string }
  /** The follower was stopped before (or while) the sync was due: nothing was fetched. */
  | { readonly kind: 'stopped' }
  /** A bug (not a user mistake) ended the sync; the last good commit stays served. */
  | { readonly kind: 'failed'; readonly error: string };

// Node's timers hold at most 2^31-1 ms (~24.8 days); a later expiry is reached by re-arming.
const MAX_TIMER_MS = 2_147_483_647;
// Fire just after the instant so the compiler sees `now >= expiresAt`.
const SCHEDULE_SLACK_MS = 5;


interface CommitMeta {
  readonly subject: string;
  readonly author: string;
  readonly trailers: readonly CommitTrailer[];
}
const NO_META: CommitMeta = { subject: '', author: '', trailers: [] };

export class PolicyFollower {
  private readonly mirror: PolicyRepoMirror;
  private readonly clock: () => Date;
  private readonly log: Logger;
  private served: ServedCommit | null = null;
  private rejected: RejectedCommit | null = null;
  private lastFetch: FetchStatus | null = null;
  /** Files of the served commit, kept for scheduled recompiles (no git access needed then). */
  private servedSources: readonly SourceFile[] = [];
  private servedTrailers: readonly CommitTrailer[] = [];
  /** Blob id → text, for the files of the last read commit: unchanged files are not read again. */
  private blobCache = new Map<string, string>();
  private pollTimer: NodeJS.Timeout | null = null;
  private scheduleTimer: NodeJS.Timeout | null = null;
  private nextRecompileAt: Date | null = null;
  private running: Promise<void> | null = null;
  private queued: { triggers: SyncTrigger[]; waiters: ((o: SyncOutcome) => void)[] } | null = null;
  private stopped = false;
  private readonly metrics: FollowerMetrics;

  constructor(private readonly opts: FollowerOptions) {
    this.mirror = new PolicyRepoMirror(opts.repo, opts.branch, opts.workDir);
    this.clock = opts.clock ?? (() => new Date());
    this.log = opts.logger.child({ component: 'git-follower' });
    this.metrics = createMetrics(opts.registry);
  }

  /** Creates the mirror, runs the first sync (its outcome is returned, never thrown) and starts polling. */
  async start(): Promise<SyncOutcome> {
    await this.mirror.init();
    await this.restoreLastGood();
    const outcome = await this.requestSync('startup');
    this.armPoll();
    return outcome;
  }

  /**
   * Fetches and, when the branch moved, compiles and publishes. Calls while a sync runs are
   * coalesced into one follow-up sync; every caller gets that sync's outcome.
   */
  requestSync(trigger: SyncTrigger): Promise<SyncOutcome> {
    if (this.stopped) return Promise.resolve({ kind: 'stopped' });
    return new Promise((resolve) => {
      if (!this.queued) this.queued = { triggers: [], waiters: [] };
      this.queued.triggers.push(trigger);
      this.queued.waiters.push(resolve);
      if (!this.running) this.drain();
    });
  }

  /** Stops polling and scheduled recompiles, and waits for a sync in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.scheduleTimer) clearTimeout(this.scheduleTimer);
    this.pollTimer = this.scheduleTimer = null;
    while (this.running) await this.running;
  }

  /** Files of the served commit (what a shadow overlay is compiled with); null before anything is served. */
  servedFiles(): readonly SourceFile[] | null {
    return this.served ? this.servedSources : null;
  }

  status(): FollowerStatus {
    return {
      repo: redactCredentials(this.opts.repo),
      branch: this.opts.branch,
      path: this.opts.path,
      served: this.served,
      rejected: this.rejected,
      lastFetch: this.lastFetch,
      nextRecompileAt: this.nextRecompileAt?.toISOString() ?? null,
    };
  }

  private drain(): void {
    const batch = this.queued;
    if (!batch) return;
    this.queued = null;
    // A webhook or manual trigger wins over a poll for the log; a schedule forces a recompile.
    const trigger = (['schedule', 'webhook', 'manual', 'startup', 'shadow', 'poll'] as const).find((t) => batch.triggers.includes(t)) ?? 'poll';
    this.running = (async () => {
      let outcome: SyncOutcome;
      try {
        outcome = await this.syncOnce(trigger, batch.triggers.includes('schedule') || batch.triggers.includes('shadow'));
      } catch (e) {
        // Bugs (not user mistakes) end up here; the follower keeps serving the last good commit.
        this.log.error({ err: e }, 'sync failed unexpectedly');
        outcome = { kind: 'failed', error: String(e instanceof Error ? e.message : e) };
      }
      for (const w of batch.waiters) w(outcome);
    })().finally(() => {
      this.running = null;
      if (this.queued && !this.stopped) this.drain();
      else if (this.queued) {
        for (const w of this.queued.waiters) w({ kind: 'stopped' });
        this.queued = null;
      }
    });
  }

  private async syncOnce(trigger: SyncTrigger, recompile: boolean): Promise<SyncOutcome> {
    // Only the overlays changed: the served commit again, without waiting for a fetch.
    if (trigger === 'shadow' && this.served) return this.compileAndPublish(this.served.commit, this.servedSources, 'shadow', new Date(), this.servedMeta());
    let head: string;
    const fetchStart = process.hrtime.bigint();
    try {
      head = await this.mirror.fetch();
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      this.lastFetch = { at: this.clock().toISOString(), ok: false, commit: null, error };
      this.metrics.fetches.inc({ result: 'error' });
      this.log.warn({ trigger, error }, 'git fetch failed; serving the last good commit');
      return { kind: 'fetch-failed', error };
    }
    const seenAt = new Date();
    this.metrics.fetches.inc({ result: 'ok' });
    this.metrics.fetchSeconds.observe(Number(process.hrtime.bigint() - fetchStart) / 1e9);
    this.lastFetch = { at: seenAt.toISOString(), ok: true, commit: head, error: null };

    if (this.served?.commit === head) {
      if (!recompile) return { kind: 'unchanged', commit: head };
      return this.compileAndPublish(head, this.servedSources, 'schedule', seenAt, this.servedMeta());
    }
    if (this.rejected?.commit === head) {
      // Already refused: do not recompile it on every poll; a scheduled recompile applies to the served commit.
      if (recompile && this.served) return this.compileAndPublish(this.served.commit, this.servedSources, 'schedule', seenAt, this.servedMeta());
      return { kind: 'unchanged', commit: head };
    }

    this.log.info({ trigger, commit: head }, 'new policy commit');
    this.audit('policy.seen', { commit: head, trigger });
    // The commit's subject/author are read alongside the files, so the served state is recorded the
    // moment the snapshot is handed over (Envoys may enforce it within milliseconds).
    const meta = this.mirror.describe(head).catch(() => NO_META);
    let tree: PolicyTree;
    try {
      tree = await this.readSources(head);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      return this.reject(head, 'read', [positionless(message, { file: this.opts.path })], await meta);
    }
    return this.compileAndPublish(head, tree.files, trigger, seenAt, await meta, tree.problems);
  }

  private async readSources(commit: string): Promise<PolicyTree> {
    // The policy folder when the commit has it, the root otherwise; the same rule as `validate` on a checkout.
    const folder = this.opts.path.replace(/^\.?\/+/, '').replace(/\/+$/, '');
    let root = folder === '.' ? '' : folder;
    if (root !== '' && !(await this.mirror.hasFolder(commit, root))) {
      this.log.info({ commit, path: folder }, 'policy folder absent at this commit; reading the repository root');
      root = '';
    }
    // Only the blobs of this commit stay cached: unchanged files are not read again next time.
    const tree = await readTreeAt(this.mirror, commit, root, this.blobCache);
    this.blobCache = tree.blobs;
    if (tree.notes.length > 0) this.log.info({ commit, notes: tree.notes }, 'policy files not read');
    return tree;
  }

  private servedMeta(): CommitMeta {
    return { subject: this.served?.subject ?? '', author: this.served?.author ?? '', trailers: this.servedTrailers };
  }

  /**
   * Serves the last good commit recorded in the work dir again (re-read from the mirror and
   * re-compiled for now), before the first fetch: a restart while the branch head is refused, or
   * while the remote is unreachable, keeps the fleet's config.
   */
  private async restoreLastGood(): Promise<void> {
    const record = await loadLastGood(this.opts.workDir, { repo: this.opts.repo, branch: this.opts.branch, path: this.opts.path });
    if (!record) return;
    let tree: PolicyTree;
    let meta: CommitMeta;
    try {
      [tree, meta] = await Promise.all([this.readSources(record.commit), this.mirror.describe(record.commit).catch(() => NO_META)]);
    } catch (e) {
      this.log.warn({ commit: record.commit, error: e instanceof Error ? e.message : String(e) }, 'last good commit recorded in the work dir cannot be read; waiting for the first fetch');
      return;
    }
    const outcome = await this.compileAndPublish(record.commit, tree.files, 'restore', new Date(), meta, tree.problems);
    if (outcome.kind === 'served') this.log.info({ commit: record.commit, lastServedAt: record.servedAt }, 'last good commit restored from the work dir');
  }

  /** `treeProblems`: what the reader refused (links, bad names); refused together with the compile errors. */
  private async compileAndPublish(
    commit: string,
    sources: readonly SourceFile[],
    trigger: SyncTrigger,
    seenAt: Date,
    meta: CommitMeta,
    treeProblems: readonly Diagnostic[] = [],
  ): Promise<SyncOutcome> {
    const now = this.clock();
    const compiled = await this.compile(commit, sources, now, treeProblems);
    if (!compiled.ok) return this.refuse(commit, trigger, 'compile', compiled.errors, meta);
    const ir = compiled.value;
    let published: Result<Published>;
    try {
      published = await this.opts.publish(ir, commit, { sources, trailers: meta.trailers, trigger });
    } catch (e) {
      published = { ok: false, errors: [positionless(`publish failed: ${e instanceof Error ? e.message : String(e)}`)] };
    }
    if (!published.ok) {
      this.metrics.compiles.inc({ result: 'publish-error' });
      return this.refuse(commit, trigger, 'publish', published.errors, meta);
    }
    const servedAt = new Date();
    const previous = this.served;
    const served = this.recordServed(ir, commit, published.value, { sources, trigger, seenAt, servedAt, meta });
    this.armSchedule(ir.nextChangeAt);
    this.audit('policy.compiled', { commit, version: published.value.version, fleetVersions: published.value.fleetVersions ?? {}, trigger, compiledAt: ir.compiledAt, files: sources.length });
    for (const change of lockdownChanges(previous, served, now)) this.audit(change.kind, change.fields);
    // After the served state is complete (Envoys may already enforce it): persisting is slower.
    if (previous?.commit !== commit) await this.recordLastGood(commit, servedAt);
    return { kind: 'served', commit, version: published.value.version };
  }

  /** Compiles the files for `now` (a compiler that throws refuses the commit), with the reader's problems. */
  private async compile(commit: string, sources: readonly SourceFile[], now: Date, treeProblems: readonly Diagnostic[]): Promise<Result<PolicyIR>> {
    const start = process.hrtime.bigint();
    let compiled: Result<PolicyIR>;
    try {
      compiled = await this.opts.compile(sources, now);
    } catch (e) {
      // A compiler bug must not take the server down: the commit is refused like any other error.
      this.log.error({ err: e, commit }, 'compiler threw');
      compiled = { ok: false, errors: [positionless(`compiler error: ${e instanceof Error ? e.message : String(e)}`)] };
    }
    this.metrics.compileSeconds.observe(Number(process.hrtime.bigint() - start) / 1e9);
    compiled = withTreeProblems({ problems: treeProblems }, compiled);
    this.metrics.compiles.inc({ result: compiled.ok ? 'ok' : 'rejected' });
    return compiled;
  }

  /**
   * A commit that did not compile or publish. A scheduled recompile of the served commit keeps
   * serving it (only `now` moved), and the last good commit restored at start-up is no refusal of
   * the branch head (the first fetch decides what is shown as refused): both only log.
   */
  private refuse(commit: string, trigger: SyncTrigger, stage: 'compile' | 'publish', errors: readonly Diagnostic[], meta: CommitMeta): SyncOutcome {
    if (trigger === 'shadow' && this.served?.commit === commit) {
      this.log.error({ commit, stage, errors }, 'the served commit with the shadow overlays was refused; keeping the current snapshot');
      return { kind: 'rejected', commit, errors };
    }
    if (stage === 'compile' && trigger === 'schedule' && this.served?.commit === commit) {
      this.log.error({ commit, errors }, 'scheduled recompile of the served commit failed; keeping the current snapshot');
      return { kind: 'rejected', commit, errors };
    }
    if (trigger === 'restore') {
      const why = stage === 'compile' ? 'no longer compiles' : 'could not be published';
      this.log.error({ commit, errors }, `last good commit from the work dir ${why}; waiting for the first fetch`);
      return { kind: 'rejected', commit, errors };
    }
    return this.reject(commit, stage, errors, meta);
  }

  /** The served state (returned), metrics and log line once the publisher took the snapshot. */
  private recordServed(
    ir: PolicyIR,
    commit: string,
    published: Published,
    at: { readonly sources: readonly SourceFile[]; readonly trigger: SyncTrigger; readonly seenAt: Date; readonly servedAt: Date; readonly meta: CommitMeta },
  ): ServedCommit {
    const { sources, trigger, meta } = at;
    const previous = this.served;
    this.served = {
      commit,
      subject: meta.subject,
      author: meta.author,
      version: published.version,
      fleetVersions: published.fleetVersions ?? {},
      compiledAt: ir.compiledAt,
      servedAt: at.servedAt.toISOString(),
      seenAt: previous?.commit === commit ? previous.seenAt : at.seenAt.toISOString(),
      trigger,
      nextChangeAt: ir.nextChangeAt,
      environments: ir.environments.map((e) => ({
        name: e.name,
        fleets: e.fleets,
        activeLockdowns: e.activeLockdowns.map((l) => ({ name: l.name, expiresAt: l.expiresAt })),
      })),
    };
    this.servedSources = sources;
    this.servedTrailers = meta.trailers;
    if (this.rejected && trigger !== 'schedule' && trigger !== 'restore' && trigger !== 'shadow') {
      // A newer good commit supersedes the refusal: the branch head is what is served.
      this.rejected = null;
      this.metrics.rejectedInfo.reset();
    }
    this.metrics.servedInfo.reset();
    this.metrics.servedInfo.set({ commit, version: published.version }, 1);
    this.metrics.lastServed.set(Date.now() / 1000);
    this.log.info(
      { commit, version: published.version, trigger, compiledAt: ir.compiledAt, nextChangeAt: ir.nextChangeAt, files: sources.length },
      trigger === 'schedule' ? 'recompiled for a lockdown start/expiry; snapshot served' : trigger === 'shadow' ? 'recompiled with the shadow overlays; snapshot served' : 'policy commit served',
    );
    return this.served;
  }

  private async recordLastGood(commit: string, servedAt: Date): Promise<void> {
    try {
      await saveLastGood(this.opts.workDir, { repo: this.opts.repo, branch: this.opts.branch, path: this.opts.path, commit, servedAt: servedAt.toISOString() });
    } catch (e) {
      // Serving goes on; only a restart would fall back to the branch head.
      this.log.warn({ commit, error: e instanceof Error ? e.message : String(e) }, 'could not record the last good commit in the work dir');
    }
  }

  private reject(commit: string, stage: RejectedCommit['stage'], errors: readonly Diagnostic[], meta: CommitMeta): SyncOutcome {
    this.rejected = { commit, subject: meta.subject, author: meta.author, at: this.clock().toISOString(), stage, errors };
    this.metrics.rejectedInfo.reset();
    this.metrics.rejectedInfo.set({ commit }, 1);
    this.log.error(
      { commit, stage, errorCount: errors.length, errors, servedCommit: this.served?.commit ?? null },
      'policy commit rejected; the last good snapshot stays in force',
    );
    // A git error may quote the repository URL: no credentials in the trail.
    const recorded = errors.slice(0, 50).map((d) => ({ ...d, message: redactCredentials(d.message) }));
    this.audit('policy.refused', { commit, stage, errorCount: errors.length, errors: recorded, servedCommit: this.served?.commit ?? null });
    return { kind: 'rejected', commit, errors };
  }

  /** Fire and forget: a failing audit sink is logged and never delays or fails a sync. */
  private audit(kind: string, fields: Record<string, unknown>): void {
    this.opts.audit?.record(kind, fields).catch((e: unknown) => this.log.error({ err: e, kind }, 'audit record failed'));
  }

  private armPoll(): void {
    if (this.stopped || this.opts.pollIntervalMs <= 0) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      void this.requestSync('poll').finally(() => this.armPoll());
    }, this.opts.pollIntervalMs);
    this.pollTimer.unref();
  }

  private armSchedule(nextChangeAt: string | null): void {
    if (this.scheduleTimer) clearTimeout(this.scheduleTimer);
    this.scheduleTimer = null;
    this.nextRecompileAt = nextChangeAt ? new Date(nextChangeAt) : null;
    this.metrics.nextRecompile.set(this.nextRecompileAt ? this.nextRecompileAt.getTime() / 1000 : 0);
    if (!this.nextRecompileAt || this.stopped) return;
    const target = this.nextRecompileAt.getTime();
    const arm = (): void => {
      const delay = target - this.clock().getTime() + SCHEDULE_SLACK_MS;
      this.scheduleTimer = setTimeout(
        () => {
          this.scheduleTimer = null;
          if (target - this.clock().getTime() > 0) return arm(); // clamped wait, or the clock lagged the timer
          void this.requestSync('schedule');
        },
        Math.min(Math.max(delay, 0), MAX_TIMER_MS),
      );
      this.scheduleTimer.unref();
    };
    arm();
  }
}

interface FollowerMetrics {
  fetches: Counter<'result'>;
  fetchSeconds: Histogram;
  compiles: Counter<'result'>;
  compileSeconds: Histogram;
  servedInfo: Gauge<'commit' | 'version'>;
  rejectedInfo: Gauge<'commit'>;
  lastServed: Gauge;
  nextRecompile: Gauge;
}

function createMetrics(registry: Registry | undefined): FollowerMetrics {
  const registers = registry ? [registry] : [];
  const metrics: FollowerMetrics = {
    fetches: new Counter({ name: 'portcullis_git_fetches_total', help: 'Fetches of the policy branch, by result (ok|error).', labelNames: ['result'], registers }),
    fetchSeconds: new Histogram({ name: 'portcullis_git_fetch_seconds', help: 'Duration of a fetch of the policy branch.', buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    compiles: new Counter({ name: 'portcullis_policy_compiles_total', help: 'Compilations of a policy commit, by result (ok|rejected|publish-error).', labelNames: ['result'], registers }),
    compileSeconds: new Histogram({ name: 'portcullis_policy_compile_seconds', help: 'Duration of one policy compilation.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers }),
    servedInfo: new Gauge({ name: 'portcullis_served_commit_info', help: 'The policy commit and snapshot version in force (value 1).', labelNames: ['commit', 'version'], registers }),
    rejectedInfo: new Gauge({ name: 'portcullis_rejected_commit_info', help: 'The last policy commit refused (value 1); absent when the branch head is served.', labelNames: ['commit'], registers }),
    lastServed: new Gauge({ name: 'portcullis_last_served_timestamp_seconds', help: 'Unix time the last snapshot was handed to the ADS server.', registers }),
    nextRecompile: new Gauge({ name: 'portcullis_next_recompile_timestamp_seconds', help: 'Unix time of the next scheduled recompile (lockdown start/expiry); 0 when none.', registers }),
  };
  // Every result exists from the start at 0, so `increase(...) > 0` sees the first failure.
  for (const result of ['ok', 'error']) metrics.fetches.inc({ result }, 0);
  for (const result of ['ok', 'rejected', 'publish-error']) metrics.compiles.inc({ result }, 0);
  return metrics;
}
