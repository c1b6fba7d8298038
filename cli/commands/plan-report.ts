/**
 * The plan's content, whatever prints it (`portcullis plan`, the lockdown bot's PR bodies): per
 * environment, what the change does now and at each later instant where a lockdown starts or
 * ends, in the policy's terms and on AWS, with the IR paths and Envoy resources for the folded
 * details. plan-render.ts prints it as text or markdown.
 */
import { translateEnvironment } from '../../compiler/envoy';
import type { EnvoyResources } from '../../compiler/envoy/resources';
import type { EnvironmentIR, LockdownSummaryIR, PolicyIR } from '../../compiler/ir/ir';
import type { Diagnostic, Result } from '../../compiler/result';
import { diffValue, comparable, type IrChange } from '../../compiler/diff/ir-diff';
import { policyChanges } from '../../compiler/diff/policy-changes';
import { planInstants } from '../../compiler/diff/timeline';
import { diffCloudPlans, planCloud, type CloudPlan, type EnvoyOnlyEntry, type PlanNote, type WafRulePlan } from '../../compiler/cloud';
import type { PreviewSummary } from '../../compiler/cloud/preview';

export interface PlanItem {
  /** Policy topics (route, limit, network, lockdown, service, token, setting) or AWS ones (waf-rule, ip-set, ...). */
  readonly topic: string;
  readonly op: 'add' | 'remove' | 'change';
  readonly key: string;
  readonly text: string;
  readonly lockdown?: LockdownSummaryIR;
}

/** What the change does from `at` on: at now every difference, later only what differs from the step before. */
export interface PlanStep {
  readonly at: string;
  readonly items: readonly PlanItem[];
  /** Differences of the step before that are gone from `at` on (a lockdown ended: back to the base there). */
  readonly ended: readonly PlanItem[];
  /** No difference from the base at all from `at` on. */
  readonly settled: boolean;
}

export interface FleetChange {
  readonly fleet: string;
  readonly changed: readonly string[];
}

/** The head's cloud plan at now, for the folded context (what stays as it is). */
export interface CloudContext {
  readonly headline: string;
  readonly unchangedRules: readonly string[];
  readonly envoyOnly: readonly EnvoyOnlyEntry[];
  readonly notes: readonly PlanNote[];
}

export interface EnvironmentPlan {
  readonly name: string;
  readonly fleets: readonly string[];
  readonly status: 'added' | 'removed' | 'changed' | 'unchanged';
  /** The first step is now (possibly without items); later steps only when something differs. */
  readonly steps: readonly PlanStep[];
  /** The IR paths behind the changes at now. */
  readonly details: readonly IrChange[];
  readonly fleetChanges: readonly FleetChange[];
  readonly cloud: CloudContext | null;
}

export interface PlanReport {
  readonly title: string;
  readonly note: string;
  /** The instant compiled for (ISO-8601). */
  readonly compiledAt: string;
  /** Later instants planned (a lockdown starts or expires then). */
  readonly later: readonly string[];
  /** A change instant past the planned ones, when there are too many (not planned). */
  readonly notPlannedFrom: string | null;
  readonly environments: readonly EnvironmentPlan[];
  /** `pulumi preview --json` summaries merged in (--preview-json), per stack. */
  readonly previews: readonly PreviewSummary[];
}

/** Compiles one revision at an instant; null when it does not compile (a base may not). */
export type CompileAt = (at: Date) => PolicyIR | null;

/**
 * The report for base → head from `now` on. Errors: the head at now cannot be put on the cloud
 * gateways (WAF limits, bad ARNs); `head(now)` must compile.
 */
export function buildPlanReport(base: CompileAt, head: CompileAt, now: Date, title: string, note: string): Result<PlanReport> {
  const memo = (f: CompileAt): CompileAt => {
    const seen = new Map<number, PolicyIR | null>();
    return (at) => (seen.has(at.getTime()) ? seen.get(at.getTime())! : seen.set(at.getTime(), f(at)).get(at.getTime())!);
  };
  const [b, h] = [memo(base), memo(head)];
  const { instants, notPlannedFrom } = planInstants(now, (at) => [b(at)?.nextChangeAt ?? null, h(at)?.nextChangeAt ?? null]);
  const headNow = h(now);
  if (!headNow) throw new Error('bug: buildPlanReport needs a head that compiles at now');
  const errors: Diagnostic[] = [];
  const names = [...new Set([...(b(now)?.environments ?? []), ...headNow.environments].map((e) => e.name))].sort();
  const environments = names.map((name) => {
    const at = instants.map((t) => {
      const r = itemsAt(envOf(b(t), name), envOf(h(t), name));
      if (t === now) errors.push(...r.errors);
      return { at: t.toISOString(), items: r.items };
    });
    return environmentPlan(envOf(b(now), name), envOf(headNow, name), name, at);
  });
  if (errors.length > 0) return { ok: false, errors };
  const later = instants.slice(1).map((t) => t.toISOString());
  return {
    ok: true,
    value: { title, note, compiledAt: now.toISOString(), later, notPlannedFrom: notPlannedFrom?.toISOString() ?? null, environments, previews: [] },
  };
}

const envOf = (ir: PolicyIR | null, name: string): EnvironmentIR | null => ir?.environments.find((e) => e.name === name) ?? null;

function cloudPlanOf(env: EnvironmentIR | null, errors: Diagnostic[] | null): CloudPlan | null {
  if (!env?.cloud) return null;
  const p = planCloud(env);
  if (!p.ok) errors?.push(...p.errors);
  return p.ok ? p.value : null;
}

/** Every difference base → head at one instant: the policy's terms first, then AWS. */
function itemsAt(before: EnvironmentIR | null, after: EnvironmentIR | null): { items: PlanItem[]; errors: Diagnostic[] } {
  const errors: Diagnostic[] = [];
  const policy: PlanItem[] =
    before && after ? policyChanges(before, after) : before || after ? [wholeEnvironment(before ? 'remove' : 'add', (before ?? after)!)] : [];
  const cloud = diffCloudPlans(cloudPlanOf(before, null), cloudPlanOf(after, errors));
  return { items: [...policy, ...cloud], errors };
}

function wholeEnvironment(op: 'add' | 'remove', env: EnvironmentIR): PlanItem {
  const what = `${env.routes.length} route(s), ${env.services.length} service(s), fleets ${env.fleets.join(', ') || 'none'}`;
  const text = `environment ${env.name} ${op === 'add' ? 'added' : 'removed'}: ${what}`;
  return { topic: 'environment', op, key: text, text };
}

function environmentPlan(before: EnvironmentIR | null, after: EnvironmentIR | null, name: string, at: { at: string; items: PlanItem[] }[]): EnvironmentPlan {
  const steps: PlanStep[] = [{ at: at[0]!.at, items: at[0]!.items, ended: [], settled: at[0]!.items.length === 0 }];
  for (let i = 1; i < at.length; i++) {
    const prev = new Set(at[i - 1]!.items.map(itemKey));
    const cur = new Set(at[i]!.items.map(itemKey));
    const items = at[i]!.items.filter((x) => !prev.has(itemKey(x)));
    // A difference replaced by a newer one about the same thing (`lockdown x ends …` → `lockdown x no longer in force`) is not listed as ended.
    const newer = new Set(items.map(subjectOf));
    const ended = at[i - 1]!.items.filter((x) => !cur.has(itemKey(x)) && !newer.has(subjectOf(x)));
    if (items.length + ended.length > 0) steps.push({ at: at[i]!.at, items, ended, settled: at[i]!.items.length === 0 });
  }
  const details: IrChange[] = [];
  if (before && after) diffValue(comparable(before), comparable(after), '', details);
  const changed = steps.some((s) => s.items.length + s.ended.length > 0);
  const status = !before ? 'added' : !after ? 'removed' : changed ? 'changed' : 'unchanged';
  return {
    name,
    fleets: (after ?? before)?.fleets ?? [],
    status,
    steps,
    details,
    fleetChanges: after ? fleetChanges(before, after) : [],
    cloud: cloudContext(cloudPlanOf(before, null), cloudPlanOf(after, null)),
  };
}

const itemKey = (x: PlanItem): string => `${x.topic}\u0000${x.key}`;
/** `lockdown stuffing-now`, `route orders-export`: what an item is about. */
const subjectOf = (x: PlanItem): string => `${x.topic}\u0000${x.text.split(' ').slice(0, 2).join(' ').replace(/:$/, '')}`;

function cloudContext(before: CloudPlan | null, after: CloudPlan | null): CloudContext | null {
  const acl = after?.webAcl;
  if (!after || !acl) return null;
  const old = new Map((before?.webAcl?.rules ?? []).map((r) => [r.name, JSON.stringify(r)]));
  const unchanged = acl.rules.filter((r) => old.get(r.name) === JSON.stringify(r));
  const gateways = after.associations.length === 0 ? 'no associations' : `attached to ${after.associations.length} gateway(s)`;
  return {
    headline: `AWS WAF ${acl.scope} web ACL ${acl.name} in ${acl.region}: ${acl.rules.length} rule(s), about ${acl.capacity.estimatedWcu} of ${acl.capacity.maxWcu} WCU; ${after.ipSets.length} IP set(s); ${gateways}`,
    unchangedRules: unchanged.map(ruleLine),
    envoyOnly: after.envoyOnly,
    notes: after.notes,
  };
}

function ruleLine(r: WafRulePlan): string {
  return `${r.priority} ${r.name}: ${r.description}`;
}

/** Per fleet of the head: which Envoy resources change (by name and type). */
function fleetChanges(before: EnvironmentIR | null, after: EnvironmentIR): FleetChange[] {
  return after.fleets.map((fleet) => ({
    fleet,
    changed: resourceChanges(before?.fleets.includes(fleet) ? translateEnvironment(before, fleet) : null, translateEnvironment(after, fleet)),
  }));
}

function resourceChanges(before: EnvoyResources | null, after: EnvoyResources): string[] {
  const lines: string[] = [];
  // The rate-limit service's configuration travels with the fleet's resources (fleet-scope limits).
  const label = { clusters: 'clusters', endpoints: 'endpoints', listeners: 'listeners', routes: 'routes', scopes: 'route scopes', rateLimitConfigs: 'rate-limit service' } as const;
  for (const kind of ['clusters', 'endpoints', 'listeners', 'scopes', 'routes', 'rateLimitConfigs'] as const) {
    const old = new Map((before?.[kind] ?? []).map((r) => [r.name, r.version]));
    const cur = new Map(after[kind].map((r) => [r.name, r.version]));
    const parts = [
      ...[...cur.keys()].filter((n) => !old.has(n)).map((n) => `+${n}`),
      ...[...cur.keys()].filter((n) => old.has(n) && old.get(n) !== cur.get(n)).map((n) => `~${n}`),
      ...[...old.keys()].filter((n) => !cur.has(n)).map((n) => `-${n}`),
    ];
    if (parts.length) lines.push(`${label[kind]}: ${parts.join(', ')}`);
  }
  return lines;
}
