/**
 * Bot: the pure decision (probot/stale's lib/stale.js): one alert, the triggers at the base branch,
 * the bot's pull requests (open and closed) and `now` → what to do. No I/O; the handler carries the
 * actions out. One PR per trigger and environment: a second offending key joins it as a commit.
 */
import type { TriggerIR } from '../compiler';
import type { IncidentAlert } from './alerts';
import { branchFor, fileFor, type PrMarker } from './incident';

/** What the decision reads of a Trigger at the base (the compiled TriggerIR). */
export type TriggerTemplate = Pick<TriggerIR, 'key' | 'lockdown'>;

/** One of the bot's pull requests, as read back from GitHub. */
export interface BotPull {
  readonly number: number;
  readonly branch: string;
  readonly state: 'open' | 'closed';
  readonly merged: boolean;
  readonly closedAt: string | null;
  readonly mergedAt: string | null;
  readonly marker: PrMarker;
  /** Markers of the bot's comments already on the PR (`commentMarker`). */
  readonly commented: readonly string[];
}

export type Action =
  | { readonly kind: 'open'; readonly alert: IncidentAlert; readonly branch: string; readonly file: string }
  | { readonly kind: 'add-key'; readonly alert: IncidentAlert; readonly pull: BotPull }
  | { readonly kind: 'update-body'; readonly alert: IncidentAlert; readonly pull: BotPull }
  | { readonly kind: 'comment'; readonly alert: IncidentAlert; readonly pull: BotPull; readonly reason: 'resolved' | 'cooldown' }
  | { readonly kind: 'close'; readonly alert: IncidentAlert; readonly pull: BotPull; readonly reason: string }
  | { readonly kind: 'nothing'; readonly alert: IncidentAlert; readonly reason: string };

export interface DecisionInput {
  readonly alert: IncidentAlert;
  readonly triggers: ReadonlyMap<string, TriggerTemplate>;
  readonly pulls: readonly BotPull[];
  readonly now: Date;
  /** How long a PR a human closed unmerged keeps the bot from proposing the same key again. */
  readonly cooldownMs: number;
  /** Comment markers (commentMarker) per reason, for this alert's incident. */
  readonly markers: { readonly resolved: string; readonly cooldown: string };
}

const ms = (t: string | null) => (t ? Date.parse(t) : NaN);

/** Newest first: open before closed, then by closing time. */
function byRecency(a: BotPull, b: BotPull): number {
  if (a.state !== b.state) return a.state === 'open' ? -1 : 1;
  return (ms(b.closedAt) || 0) - (ms(a.closedAt) || 0) || b.number - a.number;
}

export function decide(input: DecisionInput): Action {
  const { alert, triggers, now } = input;
  const own = input.pulls.filter((p) => p.marker.keys.includes(alert.key) && p.marker.trigger === alert.trigger && p.marker.environment === alert.environment).sort(byRecency)[0];
  const trigger = triggers.get(alert.trigger);
  if (alert.status === 'resolved') {
    if (!own || (own.state === 'closed' && !own.merged)) return { kind: 'nothing', alert, reason: 'resolved: no lockdown was proposed or it was declined' };
    if (own.commented.includes(input.markers.resolved)) return { kind: 'nothing', alert, reason: 'resolved: already commented' };
    return { kind: 'comment', alert, pull: own, reason: 'resolved' };
  }
  if (!trigger) {
    if (own?.state === 'open') return { kind: 'close', alert, pull: own, reason: `Trigger ${alert.trigger} is no longer on the base branch` };
    return { kind: 'nothing', alert, reason: `Trigger ${alert.trigger} is not on the base branch` };
  }
  if (own?.state === 'open') return { kind: 'update-body', alert, pull: own };
  if (own?.merged && now.getTime() < (ms(own.mergedAt) || 0) + trigger.lockdown.durationMs) {
    return { kind: 'nothing', alert, reason: `lockdown merged in #${own.number} and still in force` };
  }
  if (own && !own.merged && now.getTime() < (ms(own.closedAt) || 0) + input.cooldownMs) {
    if (own.commented.includes(input.markers.cooldown)) return { kind: 'nothing', alert, reason: `#${own.number} closed unmerged; in cool-down, already commented` };
    return { kind: 'comment', alert, pull: own, reason: 'cooldown' };
  }
  const group = input.pulls.filter((p) => p.state === 'open' && p.marker.trigger === alert.trigger && p.marker.environment === alert.environment).sort(byRecency)[0];
  if (group && trigger.key !== 'none') return { kind: 'add-key', alert, pull: group };
  return { kind: 'open', alert, branch: branchFor(alert.incident), file: fileFor(alert.incident) };
}
