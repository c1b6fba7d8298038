/**
 * A short human summary of a cloud plan for `portcullis plan` and PR comments: the web ACL's rules
 * in priority order (with what changed against a base plan, when given), IP sets, associations,
 * API Gateway throttling, and the "enforced in Envoy only" list.
 */
import { statementWcu } from './quotas';
import type { CloudPlan, WafRulePlan } from './types';

export interface SummaryOptions {
  readonly format?: 'text' | 'markdown';
  /** The plan before the change: rules are then marked added (+), removed (-) or changed (~). */
  readonly before?: CloudPlan | null;
}

type Mark = '+' | '-' | '~' | ' ';

export function renderCloudPlanSummary(plan: CloudPlan, options: SummaryOptions = {}): string {
  const md = options.format === 'markdown';
  const lines: string[] = [];
  const h = (s: string): void => void lines.push(md ? `**${s}**` : s);
  const item = (s: string, indent = 1): void => void lines.push(md ? `${'  '.repeat(indent - 1)}- ${s}` : `${'  '.repeat(indent)}${s}`);
  const code = (s: string): string => (md ? `\`${s}\`` : s);

  const acl = plan.webAcl;
  const target = plan.target;
  if (!acl || !target) {
    h(`Cloud — ${plan.environment}: no cloud gateways; every policy is enforced in Envoy only`);
    return `${lines.join('\n')}\n`;
  }
  const gatewaysText = plan.associations.length === 0 ? 'no associations' : `associated with ${plan.associations.length} gateway(s)`;
  h(`Cloud — ${plan.environment}: AWS WAF ${target.scope} web ACL ${code(acl.name)} in ${target.region}`);
  item(
    `${acl.rules.length} rule(s), about ${acl.capacity.estimatedWcu} of ${acl.capacity.maxWcu} WCU; ${plan.ipSets.length} IP set(s); ${gatewaysText}`,
  );

  const before = options.before?.webAcl?.rules ?? null;
  const marked = markRules(acl.rules, before);
  if (marked.length > 0) {
    item('rules, in evaluation order:');
    for (const { mark, rule } of marked) {
      const prefix = before ? `${mark} ` : '';
      const action = 'block' in rule.action ? `block ${rule.action.block.customResponse.responseCode}` : 'count';
      item(`${prefix}${rule.priority} ${code(rule.name)} (${action}, ${statementWcu(rule.statement)} WCU): ${rule.description}`, 2);
    }
  }
  for (const a of plan.associations) item(`attach to ${a.kind === 'api-gateway-stage' ? 'API Gateway stage' : 'load balancer'} ${code(a.resourceArn)}`);
  if (plan.methodSettings.length > 0) {
    item('API Gateway stage throttling:');
    for (const m of plan.methodSettings)
      item(
        `${m.restApiId}/${m.stageName} ${code(m.methodPath)}: ${round(m.throttlingRateLimit)} req/s, burst ${m.throttlingBurstLimit} (${m.provenance}, route ${m.route})`,
        2,
      );
  }
  if (plan.envoyOnly.length > 0) {
    item(`enforced in Envoy only (${plan.envoyOnly.length}):`);
    for (const e of plan.envoyOnly) item(`${e.subject} ${e.feature}: ${e.reason}`, 2);
  }
  if (plan.notes.length > 0) {
    item(`notes (${plan.notes.length}):`);
    for (const n of plan.notes) item(`${n.subject}: ${n.message}`, 2);
  }
  return `${lines.join('\n')}\n`;
}

function markRules(after: readonly WafRulePlan[], before: readonly WafRulePlan[] | null): { mark: Mark; rule: WafRulePlan }[] {
  if (!before) return after.map((rule) => ({ mark: ' ', rule }));
  const old = new Map(before.map((r) => [r.name, r]));
  const now = new Set(after.map((r) => r.name));
  const out: { mark: Mark; rule: WafRulePlan }[] = after.map((rule) => {
    const prior = old.get(rule.name);
    const mark: Mark = !prior ? '+' : JSON.stringify(prior) === JSON.stringify(rule) ? ' ' : '~';
    return { mark, rule };
  });
  for (const rule of before) if (!now.has(rule.name)) out.push({ mark: '-', rule });
  return out.sort((a, b) => a.rule.priority - b.rule.priority || (a.mark === '-' ? -1 : 1));
}

/** A rate as API Gateway takes it: integers as is, else up to 4 decimals. */
export function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(4).replace(/0+$/, '');
}
