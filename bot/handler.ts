/**
 * Bot: the thin handler (probot/stale's index.js) — reads the repository, asks `decide`, carries the
 * action out through the GitHub API. Serialized per trigger and environment (one PR each), and
 * idempotent: every step first looks for what a previous, interrupted run may have left.
 */
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import type { SourceFile } from '../compiler';
import { formatDiagnostic } from '../compiler/result';
import type { IncidentAlert } from './alerts';
import { decide, type Action, type BotPull } from './decide';
import { branchFor, commentMarker, fileFor, incidentName, type PrMarker } from './incident';
import { compileWithOverlay, lockdownYaml, mergeSpecs, type LockdownSpecData } from './lockdown-file';
import { cooldownComment, prBody, prTitle, resolvedComment, withLiveSection } from './pr-body';
import type { BotRepo } from './repo';
import { codeOwnersFor, CODEOWNERS_PATHS } from './codeowners';
import { blastRadiusLines, type BlastRadius, type EvidenceSource } from './evidence';
import { messageOf, statusOf } from './github';
import { KeyedQueue } from './keyed-queue';
import { lockdownFor, triggersAt, type TriggerMap } from './triggers';
import type { ShadowRuns } from './shadow';

/** The audit trail (audit/, CONTRACTS.md), declared structurally; the lead wires the real one in cli/. */
export interface AuditSink {
  record(kind: string, fields: Record<string, unknown>): Promise<void>;
}

export interface BotLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface BotDeps {
  readonly repo: BotRepo;
  readonly now: () => Date;
  readonly log: BotLog;
  readonly audit?: AuditSink;
  readonly cooldownMs?: number;
  /** `portcullis plan` as markdown for base → head (cli/ injects it: the bot does not import cli/). */
  readonly describePlan?: (base: readonly SourceFile[], head: readonly SourceFile[], now: Date) => string;
  readonly alertmanagerUrl?: string;
  readonly runbookUrl?: string;
  readonly labels?: readonly string[];
  /** What a lockdown would have refused, from the monitor (the PR body and the resolved comment). */
  readonly evidence?: EvidenceSource;
  /** The proposed lockdown in shadow mode on the fleet while its PR is open, and its live figures. */
  readonly shadow?: ShadowRuns<ShadowedPr>;
}

/** An incident PR whose lockdown runs in shadow: what a refresh of its body needs. */
export interface ShadowedPr {
  readonly pull: BotPull;
  readonly alertmanagerUrl: string;
}

export interface Outcome {
  readonly action: Action['kind'] | 'refused';
  readonly incident: string;
  readonly pull?: number;
  readonly url?: string;
  readonly detail?: string;
  /** For `open`: ms from the start of handling to the PR opened (before labels, reviewers, status). */
  readonly openedInMs?: number;
}

/** The lockdown file's spec, for the second key (read back from the PR's branch). */
function specOf(text: string): LockdownSpecData | null {
  try {
    const doc = parse(text) as { spec?: LockdownSpecData };
    return doc?.spec && Array.isArray(doc.spec.actions) ? doc.spec : null;
  } catch {
    return null;
  }
}

export class LockdownBot {
  private readonly queue = new KeyedQueue();
  /** The last alert seen per incident key: the PR body shows every key's latest figures. */
  private readonly latest = new Map<string, IncidentAlert>();
  private readonly plans = new Map<string, string>();
  /** Runs queued and not started yet, by alert content. */
  private readonly waiting = new Map<string, Promise<Outcome>>();
  /** The base's triggers (a compile), per base commit. */
  private baseTriggers: { sha: string; triggers: ReturnType<typeof triggersAt> } | null = null;

  constructor(private readonly deps: BotDeps) {}

  /** The base branch's head, its policy files and Triggers (cached per commit); also warms the caches at start. */
  async base(now = this.deps.now()): Promise<{ baseSha: string; files: SourceFile[]; triggers: ReturnType<typeof triggersAt> }> {
    const { repo } = this.deps;
    const baseSha = await repo.branchHead(repo.ref.base);
    if (!baseSha) throw new Error(`base branch ${repo.ref.base} not found`);
    const files = await repo.policyFiles(baseSha);
    const triggers = this.baseTriggers?.sha === baseSha ? this.baseTriggers.triggers : triggersAt(files, now);
    this.baseTriggers = { sha: baseSha, triggers };
    return { baseSha, files, triggers };
  }

  /** Handles one alert; throws when GitHub fails (the receiver answers 5xx, Alertmanager retries). */
  handle(alert: IncidentAlert, alertmanagerUrl = ''): Promise<Outcome> {
    // Duplicate deliveries of the same notification that queue up behind each other are one run: a
    // copy joins the identical run that has not started yet (one that started may have read older state).
    const same = `${alert.trigger}/${alert.environment}|${alertmanagerUrl}|${JSON.stringify(alert)}`;
    const queued = this.waiting.get(same);
    if (queued) return queued;
    const run = this.queue.run(`${alert.trigger}/${alert.environment}`, () => {
      this.waiting.delete(same);
      return this.handleNow(alert, alertmanagerUrl);
    });
    this.waiting.set(same, run);
    return run;
  }

  private async handleNow(alert: IncidentAlert, alertmanagerUrl: string): Promise<Outcome> {
    const startedAt = Date.now();
    const { repo, now: clock } = this.deps;
    const now = clock();
    if (alert.status === 'firing') this.latest.set(alert.incident, alert);
    // The base and the bot's PRs are independent reads: in parallel.
    const [{ baseSha, files, triggers: known }, pulls] = await Promise.all([this.base(now), repo.botPulls([branchFor(alert.incident)])]);
    // A base that does not compile says nothing about which triggers exist: act on nothing (never close).
    if (!known.ok) return this.refuse(alert, `the base ${baseSha.slice(0, 12)} does not compile`, known.errors.map(formatDiagnostic));
    const triggers = known.value;
    // Comments matter only for "comment once" decisions: a resolution, or a repeat during a cool-down.
    const needsComments = (p: BotPull) => p.marker.keys.includes(alert.key) && (alert.status === 'resolved' || (p.state === 'closed' && !p.merged));
    const withComments = await Promise.all(pulls.map(async (p) => (needsComments(p) ? { ...p, commented: await repo.commentMarkers(p.number) } : p)));
    const markers = { resolved: commentMarker('resolved', alert.incident), cooldown: commentMarker('cooldown', alert.incident) };
    const action = decide({ alert, triggers, pulls: withComments, now, cooldownMs: this.deps.cooldownMs ?? 6 * 3_600_000, markers });
    this.deps.log.info({ incident: alert.incident, status: alert.status, action: action.kind, ...(action.kind === 'nothing' ? { reason: action.reason } : {}) }, 'alert decided');
    const ctx = { alert, files, baseSha, now, startedAt, triggers, alertmanagerUrl: alertmanagerUrl || this.deps.alertmanagerUrl || '' };
    switch (action.kind) {
      case 'open': return this.open(ctx, action.branch, action.file, withComments);
      case 'add-key': return this.addKey(ctx, action.pull);
      case 'update-body': return this.refreshBody(ctx, action.pull, action.pull.marker);
      case 'comment': return this.commentOnce(ctx, action.pull, action.reason, markers);
      case 'close': {
        await repo.comment(action.pull.number, `${action.reason}: closing this lockdown proposal.`);
        await repo.updatePull(action.pull.number, { state: 'closed' });
        return { action: 'close', incident: alert.incident, pull: action.pull.number };
      }
      case 'nothing': return { action: 'nothing', incident: alert.incident, detail: action.reason };
    }
  }

  private async open(ctx: Ctx, branch: string, file: string, pulls: readonly BotPull[]): Promise<Outcome> {
    const { repo } = this.deps;
    const { alert } = ctx;
    const trigger = ctx.triggers.get(alert.trigger)!;
    const name = incidentName(alert.incident);
    const fresh = lockdownFor(trigger, alert, ctx.now);
    if (typeof fresh === 'string') return this.refuse(alert, 'the alert key does not fit the trigger', [fresh]);
    const freshText = lockdownYaml(name, fresh, `Proposed by portcullis-bot for incident ${alert.incident}.`);
    const refused = this.check(ctx, file, freshText);
    if (refused) return refused;
    // A branch left by an interrupted run (no PR yet) is reused as is; one of a closed PR starts over.
    const stale = pulls.some((p) => p.branch === branch);
    const created = await repo.ensureBranch(branch, ctx.baseSha, stale);
    const existing = created || stale ? null : await repo.fileOn(branch, file);
    const leftover = existing ? specOf(existing.text) : null;
    const spec = leftover ?? fresh;
    const text = leftover ? existing!.text : freshText;
    if (leftover && text !== freshText) {
      const stillCompiles = this.check(ctx, file, text);
      if (stillCompiles) return stillCompiles;
    }
    // Otherwise the branch is the base's or has no such file: only a file already on the base needs its sha.
    const current = !existing && ctx.files.some((f) => f.path === file) ? await repo.fileOn(branch, file) : existing;
    const written = current?.text !== text;
    const commit = written ? await repo.writeFile(branch, file, text, `Lockdown ${name}: ${spec.reason}`.slice(0, 200), current?.sha) : await repo.branchHead(branch);
    const marker: PrMarker = { incident: alert.incident, trigger: alert.trigger, environment: alert.environment, keys: [alert.key], ...(alert.fingerprint ? { fingerprint: alert.fingerprint } : {}) };
    await this.deps.shadow?.start(alert.incident, name, alert.environment, text);
    const body = await this.body(ctx, name, file, marker, spec, text);
    const pr = await repo.openPull(branch, prTitle(alert, spec, marker.keys), body);
    const openedInMs = Date.now() - ctx.startedAt;
    this.deps.shadow?.track(alert.incident, { pull: { number: pr.number, branch, state: 'open', merged: false, closedAt: null, mergedAt: null, marker, commented: [] }, alertmanagerUrl: ctx.alertmanagerUrl });
    const ids = { incident: alert.incident, fingerprint: alert.fingerprint, pr: pr.number, commit: commit ?? undefined, environment: alert.environment };
    if (pr.created) {
      await this.deps.audit?.record('incident.opened', { incident: alert.incident, fingerprint: alert.fingerprint, environment: alert.environment, trigger: alert.trigger, key: alert.key || undefined });
      await this.deps.audit?.record('pr.opened', { ...ids, lockdown: name, url: pr.url, title: prTitle(alert, spec, marker.keys) });
    }
    await repo.addLabels(pr.number, this.deps.labels ?? ['portcullis', 'lockdown', `severity:${alert.severity || 'warning'}`]);
    await this.requestReviews(ctx, trigger.lockdown.reviewers, file, ids);
    if (commit) await this.compiledStatus(ctx, commit, spec);
    return { action: 'open', incident: alert.incident, pull: pr.number, url: pr.url, openedInMs };
  }

  /** The Trigger's reviewers, else the CODEOWNERS of the lockdown file; GitHub may refuse some (logged). */
  private async requestReviews(ctx: Ctx, fromTrigger: readonly string[], file: string, ids: { pr: number } & Record<string, unknown>): Promise<void> {
    let reviewers = fromTrigger;
    if (!reviewers.length) {
      for (const p of CODEOWNERS_PATHS) {
        const owners = await this.deps.repo.fileOn(ctx.baseSha, p);
        if (owners) {
          reviewers = codeOwnersFor(owners.text, file);
          break;
        }
      }
    }
    if (!reviewers.length) return;
    const asked = await this.deps.repo.requestReviewers(ids.pr, reviewers).then(
      () => true,
      (e) => (this.deps.log.warn({ pr: ids.pr, status: statusOf(e), error: messageOf(e) }, 'reviewers not requested'), false),
    );
    if (asked) await this.deps.audit?.record('review.requested', { ...ids, reviewers: reviewers.map((r) => r.replace(/^@/, '')), source: fromTrigger.length ? 'trigger' : 'CODEOWNERS' });
  }

  /** The `portcullis` commit status on the PR head: base + this lockdown compile (checked before the push). */
  private async compiledStatus(ctx: Ctx, sha: string, spec: LockdownSpecData): Promise<void> {
    const description = `compiles with ${this.deps.repo.ref.base}@${ctx.baseSha.slice(0, 7)}; ${spec.actions.length} action${spec.actions.length === 1 ? '' : 's'} in ${spec.environments.join(', ')} until ${spec.expiresAt}`;
    await this.deps.repo.setStatus(sha, { state: 'success', context: 'portcullis', description }).catch((e) => this.deps.log.warn({ sha, status: statusOf(e), error: messageOf(e) }, 'portcullis status not set'));
  }

  private async addKey(ctx: Ctx, pull: BotPull): Promise<Outcome> {
    const { repo } = this.deps;
    const file = fileFor(pull.marker.incident);
    const name = incidentName(pull.marker.incident);
    const current = await repo.fileOn(pull.branch, file);
    const old = current && specOf(current.text);
    if (!current || !old) throw new Error(`PR #${pull.number}: ${file} missing or unreadable on ${pull.branch}`);
    const added = lockdownFor(ctx.triggers.get(ctx.alert.trigger)!, ctx.alert, ctx.now);
    if (typeof added === 'string') return this.refuse(ctx.alert, 'the alert key does not fit the trigger', [added]);
    const spec = mergeSpecs([old, added]);
    const text = lockdownYaml(name, spec, `Proposed by portcullis-bot for incident ${pull.marker.incident}.`);
    const refused = this.check(ctx, file, text);
    if (refused) return refused;
    const commit = await repo.writeFile(pull.branch, file, text, `Lockdown ${name}: add ${ctx.alert.key}`, current.sha);
    const marker = { ...pull.marker, keys: [...pull.marker.keys, ctx.alert.key] };
    if (this.deps.shadow) {
      await this.deps.shadow.start(marker.incident, name, marker.environment, text);
      this.deps.shadow.track(marker.incident, { pull: { ...pull, marker }, alertmanagerUrl: ctx.alertmanagerUrl });
    }
    await this.deps.audit?.record('pr.updated', { incident: ctx.alert.incident, fingerprint: ctx.alert.fingerprint, pr: pull.number, commit, environment: ctx.alert.environment, key: ctx.alert.key });
    await this.compiledStatus(ctx, commit, spec);
    return this.refreshBody(ctx, pull, marker, text);
  }

  private async refreshBody(ctx: Ctx, pull: BotPull, marker: PrMarker, knownText?: string): Promise<Outcome> {
    const { repo } = this.deps;
    const file = fileFor(marker.incident);
    const text = knownText ?? (await repo.fileOn(pull.branch, file))?.text;
    const spec = text ? specOf(text) : null;
    if (!text || !spec) return { action: 'nothing', incident: ctx.alert.incident, pull: pull.number, detail: `${file} not on ${pull.branch}` };
    const shadow = this.deps.shadow;
    // After a restart (or a TTL more than half spent) the overlay is put again: idempotent.
    if (shadow && pull.state === 'open' && (!shadow.has(marker.incident) || shadow.renewalDue(marker.incident, ctx.now.getTime()))) {
      await shadow.start(marker.incident, incidentName(marker.incident), marker.environment, text);
    }
    shadow?.track(marker.incident, { pull: { ...pull, marker }, alertmanagerUrl: ctx.alertmanagerUrl });
    const body = await this.body(ctx, incidentName(marker.incident), file, marker, spec, text);
    const current = await repo.pullBody(pull.number);
    if (current.body === body) return { action: 'nothing', incident: ctx.alert.incident, pull: pull.number, url: current.url, detail: 'body unchanged' };
    await repo.updatePull(pull.number, { body, title: prTitle(ctx.alert, spec, marker.keys) });
    return { action: marker.keys.length > pull.marker.keys.length ? 'add-key' : 'update-body', incident: ctx.alert.incident, pull: pull.number, url: current.url };
  }

  private async commentOnce(ctx: Ctx, pull: BotPull, reason: 'resolved' | 'cooldown', markers: { resolved: string; cooldown: string }): Promise<Outcome> {
    const { alert } = ctx;
    const text = reason === 'resolved' ? resolvedComment(alert, pull.merged, await this.enforcedFigures(ctx, pull)) : cooldownComment(alert);
    await this.deps.repo.comment(pull.number, `${markers[reason]}\n${text}`);
    return { action: 'comment', incident: alert.incident, pull: pull.number, detail: reason };
  }

  /** What the merged lockdown refused from the key since its merge (from the monitor), or null. */
  private async enforcedFigures(ctx: Ctx, pull: BotPull): Promise<BlastRadius | null> {
    const trigger = ctx.triggers.get(ctx.alert.trigger);
    if (!pull.merged || !pull.mergedAt || !trigger || !this.deps.evidence) return null;
    const since = Math.max(1000, ctx.now.getTime() - Date.parse(pull.mergedAt));
    return this.deps.evidence.blastRadius(ctx.alert.environment, trigger, ctx.alert.key, since);
  }

  /**
   * Refreshes the body of every open incident PR whose lockdown runs in shadow (the live figures),
   * in place; a PR found merged or closed ends its shadow. Serialized with the incident's alerts.
   */
  async refreshShadows(): Promise<number> {
    const shadow = this.deps.shadow;
    if (!shadow) return 0;
    let updated = 0;
    for (const [incident, run] of shadow.tracked()) {
      const { pull, alertmanagerUrl } = run.pull;
      const alert = this.latest.get(incident);
      const outcome = await this.queue.run(`${pull.marker.trigger}/${pull.marker.environment}`, async () => {
        const now = this.deps.now();
        const [{ baseSha, files, triggers }, pulls] = await Promise.all([this.base(now), this.deps.repo.botPulls([pull.branch])]);
        const current = pulls.find((p) => p.number === pull.number);
        if (!current || current.state !== 'open') return void (await shadow.end(incident, run.name));
        if (!alert) return this.refreshLive(incident, current, now);
        if (!triggers.ok) return;
        return this.refreshBody({ alert, files, baseSha, now, startedAt: Date.now(), triggers: triggers.value, alertmanagerUrl }, current, current.marker);
      });
      if (outcome && outcome.action !== 'nothing') updated++;
    }
    return updated;
  }

  /**
   * The live section alone, in place, when no alert of the incident was seen since the bot started
   * (the rest of the body is built from the alerts); the overlay is renewed when due.
   */
  private async refreshLive(incident: string, pull: BotPull, now: Date): Promise<Outcome> {
    const { repo, shadow } = this.deps;
    if (shadow!.renewalDue(incident, now.getTime())) {
      const file = await repo.fileOn(pull.branch, fileFor(incident));
      if (file) await shadow!.start(incident, incidentName(incident), pull.marker.environment, file.text);
    }
    const current = await repo.pullBody(pull.number);
    const body = withLiveSection(current.body, await shadow!.lines(incident));
    if (body === current.body) return { action: 'nothing', incident, pull: pull.number, url: current.url, detail: 'body unchanged' };
    await repo.updatePull(pull.number, { body });
    return { action: 'update-body', incident, pull: pull.number, url: current.url };
  }

  /**
   * Rebuilds the shadows from durable state (at start and on every refresh tick, so a restart loses
   * nothing): each open incident PR (GitHub) not tracked has its lockdown put in shadow again
   * (idempotent; it renews the TTL) and is tracked; an overlay still running for an incident whose
   * PRs are all merged or closed (the webhook missed while the bot was down) is deleted. Bounded by
   * the PRs `botPulls` lists. Returns the PRs resumed.
   */
  async resumeShadows(): Promise<number> {
    const shadow = this.deps.shadow;
    if (!shadow) return 0;
    const [pulls, running] = await Promise.all([this.deps.repo.botPulls([]), shadow.running()]);
    const open = new Set(pulls.filter((p) => p.state === 'open').map((p) => p.marker.incident));
    let resumed = 0;
    for (const p of pulls) {
      const incident = p.marker.incident;
      const name = incidentName(incident);
      const orphan = p.state !== 'open' && !open.has(incident) && running?.has(name) === true;
      if (shadow.has(incident) || (p.state !== 'open' && !orphan)) continue;
      // Serialized with the incident's alerts: an alert handled meanwhile tracks it first.
      await this.queue.run(`${p.marker.trigger}/${p.marker.environment}`, async () => {
        if (shadow.has(incident)) return;
        if (orphan) {
          running?.delete(name);
          await shadow.end(incident, name);
          return;
        }
        const file = await this.deps.repo.fileOn(p.branch, fileFor(incident));
        if (!file) return;
        await shadow.start(incident, name, p.marker.environment, file.text);
        shadow.track(incident, { pull: p, alertmanagerUrl: this.deps.alertmanagerUrl ?? '' });
        resumed++;
      });
    }
    return resumed;
  }

  /** The incident's PR was merged or closed: its shadow ends (the pull_request webhook). */
  endShadow(incident: string): Promise<void> {
    return this.deps.shadow?.end(incident, incidentName(incident)) ?? Promise.resolve();
  }

  /** Compiles base + overlay; a refusal is logged and audited, and nothing is proposed. */
  private check(ctx: Ctx, file: string, text: string): Outcome | null {
    const result = compileWithOverlay(ctx.files, file, text, ctx.now);
    return result.ok ? null : this.refuse(ctx.alert, 'lockdown overlay does not compile', result.errors.map(formatDiagnostic));
  }

  /** Nothing is proposed: logged and audited (`policy.refused`), and answered 2xx (a retry would not help). */
  private refuse(alert: IncidentAlert, why: string, errors: readonly string[]): Outcome {
    this.deps.log.warn({ incident: alert.incident, errors }, `${why}; not proposed`);
    void this.deps.audit?.record('policy.refused', { incident: alert.incident, fingerprint: alert.fingerprint, environment: alert.environment, errors });
    return { action: 'refused', incident: alert.incident, detail: errors.join('\n') };
  }

  private async body(ctx: Ctx, name: string, file: string, marker: PrMarker, spec: LockdownSpecData, text: string): Promise<string> {
    const base = ctx.files;
    const head = [...base.filter((f) => f.path !== file), { path: file, text }];
    // The plan of one overlay on one base does not change between repeats: computed once (two compiles).
    const key = `${ctx.baseSha}:${createHash('sha256').update(text).digest('hex')}`;
    let plan = this.plans.get(key);
    if (plan === undefined) {
      plan = this.deps.describePlan ? this.deps.describePlan(base, head, ctx.now) : '';
      if (this.plans.size >= 64) this.plans.clear();
      this.plans.set(key, plan);
    }
    const alerts = marker.keys.map((k) => this.latest.get(`${marker.trigger}/${marker.environment}/${k || '-'}`)).filter((a): a is IncidentAlert => a !== undefined);
    const trigger = ctx.triggers.get(marker.trigger);
    const evidence = this.deps.evidence;
    const blast = evidence && trigger && trigger.key !== 'none'
      ? (await Promise.all(marker.keys.map(async (k) => blastRadiusLines(k, await evidence.blastRadius(marker.environment, trigger, k, trigger.condition.windowMs))))).flatMap((l) => [...l, ''])
      : [];
    const live = (await this.deps.shadow?.lines(marker.incident)) ?? [];
    return prBody({ name, file, marker, alerts: alerts.length ? alerts : [ctx.alert], spec, plan, blastRadius: blast, liveShadow: live, alertmanagerUrl: ctx.alertmanagerUrl, runbookUrl: this.deps.runbookUrl ?? 'docs/incident-response.md' });
  }
}

interface Ctx {
  readonly alert: IncidentAlert;
  readonly files: readonly SourceFile[];
  readonly baseSha: string;
  readonly now: Date;
  /** Date.now() when handling began (latency figures). */
  readonly startedAt: number;
  readonly triggers: TriggerMap;
  readonly alertmanagerUrl: string;
}
