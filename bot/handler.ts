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
import { decide, type Action, type BotPull, type TriggerTemplate } from './decide';
import { branchFor, commentMarker, fileFor, incidentName, type PrMarker } from './incident';
import { compileWithOverlay, instantiate, lockdownYaml, mergeSpecs, type LockdownSpecData } from './lockdown-file';
import { prBody, prTitle } from './pr-body';
import type { BotRepo } from './repo';
import { statusOf } from './github';
import { KeyedQueue } from './keyed-queue';

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
  /** Trigger templates at the base (interim reader, or the compiled IR once the kind lands). */
  readonly triggers: (files: readonly SourceFile[]) => ReadonlyMap<string, TriggerTemplate>;
  /** The files the compiler accepts (interim: without Trigger-only files). */
  readonly compilable?: (files: readonly SourceFile[]) => SourceFile[];
  /** `portcullis plan` as markdown for base → head (cli/ injects it: the bot does not import cli/). */
  readonly describePlan?: (base: readonly SourceFile[], head: readonly SourceFile[], now: Date) => string;
  readonly alertmanagerUrl?: string;
  readonly runbookUrl?: string;
  readonly labels?: readonly string[];
}

export interface Outcome {
  readonly action: Action['kind'] | 'refused';
  readonly incident: string;
  readonly pull?: number;
  readonly url?: string;
  readonly detail?: string;
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

  constructor(private readonly deps: BotDeps) {}

  /** Handles one alert; throws when GitHub fails (the receiver answers 5xx, Alertmanager retries). */
  handle(alert: IncidentAlert, alertmanagerUrl = ''): Promise<Outcome> {
    return this.queue.run(`${alert.trigger}/${alert.environment}`, () => this.handleNow(alert, alertmanagerUrl));
  }

  private async handleNow(alert: IncidentAlert, alertmanagerUrl: string): Promise<Outcome> {
    const { repo, now: clock } = this.deps;
    const now = clock();
    if (alert.status === 'firing') this.latest.set(alert.incident, alert);
    const baseSha = await repo.branchHead(repo.ref.base);
    if (!baseSha) throw new Error(`base branch ${repo.ref.base} not found`);
    const files = await repo.policyFiles(baseSha);
    const triggers = this.deps.triggers(files);
    const pulls = await repo.botPulls([branchFor(alert.incident)]);
    // Comments matter only for "comment once" decisions: a resolution, or a repeat during a cool-down.
    const needsComments = (p: BotPull) => p.marker.keys.includes(alert.key) && (alert.status === 'resolved' || (p.state === 'closed' && !p.merged));
    const withComments = await Promise.all(pulls.map(async (p) => (needsComments(p) ? { ...p, commented: await repo.commentMarkers(p.number) } : p)));
    const markers = { resolved: commentMarker('resolved', alert.incident), cooldown: commentMarker('cooldown', alert.incident) };
    const action = decide({ alert, triggers, pulls: withComments, now, cooldownMs: this.deps.cooldownMs ?? 6 * 3_600_000, markers });
    this.deps.log.info({ incident: alert.incident, status: alert.status, action: action.kind, ...(action.kind === 'nothing' ? { reason: action.reason } : {}) }, 'alert decided');
    const ctx = { alert, files, baseSha, now, triggers, alertmanagerUrl: alertmanagerUrl || this.deps.alertmanagerUrl || '' };
    switch (action.kind) {
      case 'open': return this.open(ctx, action.branch, action.file, withComments);
      case 'add-key': return this.addKey(ctx, action.pull);
      case 'update-body': return this.refreshBody(ctx, action.pull, action.pull.marker);
      case 'comment': return this.commentOnce(alert, action.pull, action.reason, markers);
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
    // A branch left by an interrupted run (no PR yet) is reused as is; one of a closed PR starts over.
    const stale = pulls.some((p) => p.branch === branch);
    const existing = stale ? null : await repo.fileOn(branch, file);
    const spec = (existing && specOf(existing.text)) || instantiate(trigger, alert, ctx.now);
    const text = existing?.text ?? lockdownYaml(name, spec, `Proposed by portcullis-bot for incident ${alert.incident}.`);
    const compiled = this.check(ctx, file, text);
    if (compiled) return compiled;
    await repo.ensureBranch(branch, ctx.baseSha, stale);
    if (!existing) {
      const current = await repo.fileOn(branch, file);
      if (current?.text !== text) await repo.writeFile(branch, file, text, `Lockdown ${name}: ${spec.reason}`.slice(0, 200), current?.sha);
    }
    const marker: PrMarker = { incident: alert.incident, trigger: alert.trigger, environment: alert.environment, keys: [alert.key] };
    const body = this.body(ctx, name, file, marker, spec, text);
    const pr = await repo.openPull(branch, prTitle(alert, spec, marker.keys), body);
    await repo.addLabels(pr.number, this.deps.labels ?? ['portcullis', 'lockdown', `severity:${alert.severity || 'warning'}`]);
    if (trigger.lockdown.reviewers.length) {
      await repo.requestReviewers(pr.number, trigger.lockdown.reviewers).catch((e) => this.deps.log.warn({ pr: pr.number, status: statusOf(e) }, 'reviewers not requested'));
    }
    if (pr.created) await this.deps.audit?.record('pr.opened', { incident: alert.incident, fingerprint: alert.fingerprint, pr: pr.number, environment: alert.environment });
    return { action: 'open', incident: alert.incident, pull: pr.number, url: pr.url };
  }

  private async addKey(ctx: Ctx, pull: BotPull): Promise<Outcome> {
    const { repo } = this.deps;
    const file = fileFor(pull.marker.incident);
    const name = incidentName(pull.marker.incident);
    const current = await repo.fileOn(pull.branch, file);
    const old = current && specOf(current.text);
    if (!current || !old) throw new Error(`PR #${pull.number}: ${file} missing or unreadable on ${pull.branch}`);
    const spec = mergeSpecs([old, instantiate(ctx.triggers.get(ctx.alert.trigger)!, ctx.alert, ctx.now)]);
    const text = lockdownYaml(name, spec, `Proposed by portcullis-bot for incident ${pull.marker.incident}.`);
    const refused = this.check(ctx, file, text);
    if (refused) return refused;
    await repo.writeFile(pull.branch, file, text, `Lockdown ${name}: add ${ctx.alert.key}`, current.sha);
    const marker = { ...pull.marker, keys: [...pull.marker.keys, ctx.alert.key] };
    await this.deps.audit?.record('pr.updated', { incident: ctx.alert.incident, pr: pull.number, key: ctx.alert.key });
    return this.refreshBody(ctx, pull, marker, text);
  }

  private async refreshBody(ctx: Ctx, pull: BotPull, marker: PrMarker, knownText?: string): Promise<Outcome> {
    const { repo } = this.deps;
    const file = fileFor(marker.incident);
    const text = knownText ?? (await repo.fileOn(pull.branch, file))?.text;
    const spec = text ? specOf(text) : null;
    if (!text || !spec) return { action: 'nothing', incident: ctx.alert.incident, pull: pull.number, detail: `${file} not on ${pull.branch}` };
    const body = this.body(ctx, incidentName(marker.incident), file, marker, spec, text);
    const current = await repo.pullBody(pull.number);
    if (current.body === body) return { action: 'nothing', incident: ctx.alert.incident, pull: pull.number, url: current.url, detail: 'body unchanged' };
    await repo.updatePull(pull.number, { body, title: prTitle(ctx.alert, spec, marker.keys) });
    return { action: marker.keys.length > pull.marker.keys.length ? 'add-key' : 'update-body', incident: ctx.alert.incident, pull: pull.number, url: current.url };
  }

  private async commentOnce(alert: IncidentAlert, pull: BotPull, reason: 'resolved' | 'cooldown', markers: { resolved: string; cooldown: string }): Promise<Outcome> {
    const text =
      reason === 'resolved'
        ? `The alert for \`${alert.key || alert.trigger}\` resolved at ${alert.endsAt || 'now'} (last value ${alert.value || '?'}, threshold ${alert.threshold || '?'}). ${pull.merged ? 'The lockdown stays until it expires; comment `/portcullis lift` to end it now.' : 'Merge only if the attack is still a risk.'}`
        : `The trigger fired again for \`${alert.key || alert.trigger}\` (value ${alert.value || '?'}), but this proposal was closed unmerged recently: not proposing it again during the cool-down.`;
    await this.deps.repo.comment(pull.number, `${markers[reason]}\n${text}`);
    return { action: 'comment', incident: alert.incident, pull: pull.number, detail: reason };
  }

  /** Compiles base + overlay; a refusal is logged and audited, and nothing is proposed. */
  private check(ctx: Ctx, file: string, text: string): Outcome | null {
    const base = (this.deps.compilable ?? ((f) => [...f]))(ctx.files);
    const result = compileWithOverlay(base, file, text, ctx.now);
    if (result.ok) return null;
    const errors = result.errors.map(formatDiagnostic);
    this.deps.log.warn({ incident: ctx.alert.incident, errors }, 'lockdown overlay does not compile; not proposed');
    void this.deps.audit?.record('policy.refused', { incident: ctx.alert.incident, errors });
    return { action: 'refused', incident: ctx.alert.incident, detail: errors.join('\n') };
  }

  private body(ctx: Ctx, name: string, file: string, marker: PrMarker, spec: LockdownSpecData, text: string): string {
    const base = (this.deps.compilable ?? ((f) => [...f]))(ctx.files);
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
    return prBody({ name, file, marker, alerts: alerts.length ? alerts : [ctx.alert], spec, plan, alertmanagerUrl: ctx.alertmanagerUrl, runbookUrl: this.deps.runbookUrl ?? 'docs/incident-response.md' });
  }
}

interface Ctx {
  readonly alert: IncidentAlert;
  readonly files: readonly SourceFile[];
  readonly baseSha: string;
  readonly now: Date;
  readonly triggers: ReadonlyMap<string, TriggerTemplate>;
  readonly alertmanagerUrl: string;
}
