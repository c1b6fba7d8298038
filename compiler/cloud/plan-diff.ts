/**
 * What changes on AWS between two cloud plans of one environment, one line per WAF rule, IP set,
 * association, stage throttling setting or Envoy-only entry, saying what changed (action, limit,
 * addresses), for the plan a reviewer reads. Pure.
 */
import { statementWcu } from './quotas';
import { round } from './summary';
import type { CloudPlan, EnvoyOnlyEntry, IpSetPlan, MethodSettingsPlan, WafRulePlan } from './types';

export type CloudChangeTopic = 'waf-rule' | 'ip-set' | 'association' | 'throttling' | 'envoy-only' | 'web-acl';

export interface CloudChange {
  readonly topic: CloudChangeTopic;
  readonly op: 'add' | 'remove' | 'change';
  /** Identity across instants and environments. */
  readonly key: string;
  readonly text: string;
}

/** Changes from `before` to `after`; a null plan (or one without a web ACL) has nothing on AWS. */
export function diffCloudPlans(before: CloudPlan | null, after: CloudPlan | null): CloudChange[] {
  const out: CloudChange[] = [];
  const oldAcl = before?.webAcl ?? null;
  const newAcl = after?.webAcl ?? null;
  if (!oldAcl && newAcl) out.push({ topic: 'web-acl', op: 'add', key: `web ACL ${newAcl.name} created`, text: `web ACL ${newAcl.name} created in ${newAcl.region} (${newAcl.scope})` });
  if (oldAcl && !newAcl) out.push({ topic: 'web-acl', op: 'remove', key: `web ACL ${oldAcl.name} removed`, text: `web ACL ${oldAcl.name} and its rules removed: the gateways lose this protection` });
  out.push(...keyed(oldAcl?.rules ?? [], newAcl?.rules ?? [], (r) => r.name, ruleChange));
  out.push(...keyed(before?.ipSets ?? [], after?.ipSets ?? [], (s) => s.name, ipSetChange));
  out.push(
    ...keyed(before?.associations ?? [], after?.associations ?? [], (a) => a.resourceArn, (op, a) => {
      const acl = (newAcl ?? oldAcl)?.name ?? 'the web ACL';
      const text = op === 'add' ? `attach ${acl} to ${a.resourceArn}` : `detach ${acl} from ${a.resourceArn}`;
      return { topic: 'association', op, key: text, text };
    }),
  );
  out.push(...keyed(before?.methodSettings ?? [], after?.methodSettings ?? [], (m) => m.name, throttlingChange));
  out.push(
    ...keyed(before?.envoyOnly ?? [], after?.envoyOnly ?? [], envoyOnlyKey, (op, e) => {
      const text = op === 'remove' ? `no longer Envoy-only: ${e.subject} ${e.feature}` : `enforced in Envoy only: ${e.subject} ${e.feature}: ${e.reason}`;
      return { topic: 'envoy-only', op, key: text, text };
    }),
  );
  return out;
}

const envoyOnlyKey = (e: EnvoyOnlyEntry): string => `${e.subject} ${e.feature} ${e.reason}`;

/** add/remove by key; `change` only when both exist and differ (the describer says how). */
function keyed<T>(before: readonly T[], after: readonly T[], key: (t: T) => string, describe: (op: CloudChange['op'], t: T, old?: T) => CloudChange | null): CloudChange[] {
  const old = new Map(before.map((t) => [key(t), t]));
  const cur = new Map(after.map((t) => [key(t), t]));
  const out: CloudChange[] = [];
  for (const [k, t] of cur) {
    const prior = old.get(k);
    const c = prior === undefined ? describe('add', t) : JSON.stringify(prior) === JSON.stringify(t) ? null : describe('change', t, prior);
    if (c) out.push(c);
  }
  for (const [k, t] of old) {
    if (cur.has(k)) continue;
    const c = describe('remove', t);
    if (c) out.push(c);
  }
  return out;
}

/** `block 403`, `count`. */
export function actionText(r: WafRulePlan): string {
  return 'block' in r.action ? `block ${r.action.block.customResponse.responseCode}` : 'count';
}

function ruleChange(op: CloudChange['op'], r: WafRulePlan, old?: WafRulePlan): CloudChange {
  if (op !== 'change' || !old) {
    const text = `WAF rule ${r.name} ${op === 'add' ? 'added' : 'removed'} (${actionText(r)}, priority ${r.priority}, ${statementWcu(r.statement)} WCU): ${r.description}`;
    return { topic: 'waf-rule', op, key: `WAF rule ${r.name} ${op} ${r.description}`, text };
  }
  const parts: string[] = [];
  if (actionText(old) !== actionText(r)) parts.push(`action ${actionText(old)} → ${actionText(r)}`);
  if (old.priority !== r.priority) parts.push(`priority ${old.priority} → ${r.priority}`);
  const oldRate = 'rateBasedStatement' in old.statement ? old.statement.rateBasedStatement : null;
  const newRate = 'rateBasedStatement' in r.statement ? r.statement.rateBasedStatement : null;
  if (oldRate && newRate && (oldRate.limit !== newRate.limit || oldRate.evaluationWindowSec !== newRate.evaluationWindowSec))
    parts.push(`limit ${oldRate.limit} → ${newRate.limit} per ${newRate.evaluationWindowSec} s`);
  if (old.description !== r.description) parts.push(`now: ${r.description}`);
  const rest = JSON.stringify({ ...old.statement, rateBasedStatement: undefined }) !== JSON.stringify({ ...r.statement, rateBasedStatement: undefined });
  const scope = oldRate && newRate && JSON.stringify(oldRate.scopeDownStatement) !== JSON.stringify(newRate.scopeDownStatement);
  if ((rest || scope) && parts.length === 0) parts.push('its match changes (see the folded details)');
  if (parts.length === 0) parts.push('visibility or provenance only');
  const text = `WAF rule ${r.name}: ${parts.join('; ')}`;
  return { topic: 'waf-rule', op, key: text, text };
}

function ipSetChange(op: CloudChange['op'], s: IpSetPlan, old?: IpSetPlan): CloudChange | null {
  if (op !== 'change' || !old) {
    const text = `IP set ${s.name} ${op === 'add' ? 'created' : 'deleted'}: ${addresses(s.addresses)}`;
    return { topic: 'ip-set', op, key: text, text };
  }
  const was = new Set(old.addresses);
  const now = new Set(s.addresses);
  const delta = [...s.addresses.filter((a) => !was.has(a)).map((a) => `+${a}`), ...old.addresses.filter((a) => !now.has(a)).map((a) => `-${a}`)];
  if (delta.length === 0) return null; // description or provenance only: nothing a reviewer decides on
  const text = `IP set ${s.name}: ${delta.slice(0, 8).join(', ')}${delta.length > 8 ? ` and ${delta.length - 8} more` : ''}`;
  return { topic: 'ip-set', op, key: text, text };
}

function addresses(list: readonly string[]): string {
  return list.length <= 4 ? list.join(', ') : `${list.slice(0, 4).join(', ')} and ${list.length - 4} more`;
}

function throttlingChange(op: CloudChange['op'], m: MethodSettingsPlan, old?: MethodSettingsPlan): CloudChange {
  const rate = (x: MethodSettingsPlan): string => `${round(x.throttlingRateLimit)} req/s, burst ${x.throttlingBurstLimit}`;
  const where = `API Gateway throttling ${m.restApiId}/${m.stageName} ${m.methodPath}`;
  const text = op === 'change' && old ? `${where}: ${rate(old)} → ${rate(m)}` : `${where} ${op === 'add' ? 'set' : 'removed'}: ${rate(m)} (route ${m.route})`;
  return { topic: 'throttling', op, key: text, text };
}
