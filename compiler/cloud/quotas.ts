/**
 * AWS WAF limits, checked on a finished plan before anything is created: a breach is a diagnostic
 * naming the policy (`Kind/name`) and field, never a failed `pulumi up` halfway through.
 *
 * Sources (AWS WAF Developer Guide, checked 2026): "AWS WAF quotas" (fixed per-account quotas),
 * "Rate-based rule high-level settings", the match statement pages (WCU costs), the WAFv2 API
 * reference (name and body lengths), and the Terraform/Pulumi AWS provider's web ACL schema (it
 * accepts at most 3 levels of nested AND/OR/NOT in a rule, 2 in a rate-based scope-down; deeper
 * needs `ruleJson`, which loses drift detection, so we split rules instead).
 */
import { positionless, type Diagnostic } from '../result';
import { logicalDepth, walk } from './statements';
import type { CloudPlan, CustomResponseBodyPlan, FieldToMatch, IpSetPlan, TextTransformation, WafRulePlan, WafStatement } from './types';

export const WAF_LIMITS = {
  /** Web ACL capacity units: fixed maximum per web ACL (since April 2023; it was 1,500). */
  maxWebAclWcu: 5000,
  /** WCUs included in the web ACL's base price; above it AWS bills extra per request. */
  includedWebAclWcu: 1500,
  /** Lowest limit a rate-based rule accepts. */
  rateLimitMin: 10,
  /** Highest limit a rate-based rule accepts (API: 10..2,000,000,000). */
  rateLimitMax: 2_000_000_000,
  /** The only evaluation windows, in seconds (300 is AWS's default; we always set it). */
  evaluationWindows: [60, 120, 300, 600] as readonly number[],
  maxRateBasedRulesPerWebAcl: 10,
  /** Addresses or ranges (CIDR) per IP set. */
  maxAddressesPerIpSet: 10_000,
  /** Statements referencing an IP set, regex pattern set or rule group, per web ACL. */
  maxReferenceStatementsPerWebAcl: 50,
  maxCustomResponseBodiesPerWebAcl: 50,
  maxCustomResponseBodyChars: 10_240,
  /** Byte match search string length. */
  maxSearchStringChars: 200,
  /** Regex match statement pattern length (API RegexString). */
  maxRegexChars: 512,
  /** Web ACL, rule, IP set and custom response body key names: 1..128 of [A-Za-z0-9_-]. */
  maxNameChars: 128,
  /** Metric names: 1..128 of [A-Za-z0-9_-] (the provider's check; AWS reserves `All` and `Default_Action`). */
  maxMetricNameChars: 128,
  /** Header names in single-header matches and custom keys: lower case, at most 40 / 64 characters. */
  maxSingleHeaderNameChars: 40,
  maxRuleLogicalDepth: 3,
  maxScopeDownLogicalDepth: 2,
  /** Custom response status codes AWS accepts. */
  responseCodeMin: 200,
  responseCodeMax: 600,
  /** Rules per priority band (see the ordering table in waf-rules.ts). */
  rulesPerBand: 1000,
} as const;

/**
 * WCU per statement, from AWS's "Using match rule statements" and "rate-based rule statement" pages:
 * - IP set reference: 1 (4 more with a forwarded-IP position of ANY; we use LAST)
 * - string (byte) match EXACTLY / STARTS_WITH / ENDS_WITH: 2
 * - regex match: 3
 * - each text transformation other than NONE: +10
 * - AND / OR / NOT: the sum of their statements, nothing of their own
 * - rate-based: 2, +30 per custom aggregation key, + its scope-down statement
 * AWS may charge less when rules share transformations; this is an upper bound.
 */
export const WCU_COSTS = {
  ipSetReference: 1,
  ipSetForwardedAny: 4,
  byteMatch: 2,
  regexMatch: 3,
  textTransformation: 10,
  rateBased: 2,
  rateBasedCustomKey: 30,
} as const;

const NAME = /^[A-Za-z0-9_-]+$/;
const HEADER_NAME = /^[0-9a-z_-]+$/;
const FORWARDED_HEADER = /^[0-9A-Za-z-]+$/;

function transformsCost(ts: readonly TextTransformation[]): number {
  return ts.filter((t) => t.type !== 'NONE').length * WCU_COSTS.textTransformation;
}

/** Estimated WCUs of one statement (see WCU_COSTS). */
export function statementWcu(s: WafStatement): number {
  if ('andStatement' in s) return s.andStatement.statements.reduce((n, c) => n + statementWcu(c), 0);
  if ('orStatement' in s) return s.orStatement.statements.reduce((n, c) => n + statementWcu(c), 0);
  if ('notStatement' in s) return statementWcu(s.notStatement.statement);
  if ('byteMatchStatement' in s) return WCU_COSTS.byteMatch + transformsCost(s.byteMatchStatement.textTransformations);
  if ('regexMatchStatement' in s) return WCU_COSTS.regexMatch + transformsCost(s.regexMatchStatement.textTransformations);
  if ('ipSetReferenceStatement' in s)
    return WCU_COSTS.ipSetReference + (s.ipSetReferenceStatement.ipSetForwardedIpConfig?.position === 'ANY' ? WCU_COSTS.ipSetForwardedAny : 0);
  const r = s.rateBasedStatement;
  return (
    WCU_COSTS.rateBased +
    (r.customKeys?.length ?? 0) * WCU_COSTS.rateBasedCustomKey +
    (r.scopeDownStatement ? statementWcu(r.scopeDownStatement) : 0)
  );
}

export function webAclWcu(rules: readonly WafRulePlan[]): number {
  return rules.reduce((n, r) => n + statementWcu(r.statement), 0);
}

/** A diagnostic about a policy whose source position the IR does not carry. */
export function planDiagnostic(subject: string, path: string, message: string): Diagnostic {
  return positionless(message, { subject, path });
}

/** Every AWS WAF / API Gateway limit the plan would breach; empty when AWS will accept it. */
export function checkWafLimits(plan: CloudPlan): Diagnostic[] {
  const out: Diagnostic[] = [];
  const env = `Environment/${plan.environment}`;
  const acl = plan.webAcl;
  if (!acl) return out;
  checkName(out, env, 'metadata.name', 'web ACL name', acl.name);
  checkMetricName(out, env, 'metadata.name', acl.visibilityConfig.metricName);
  checkRules(out, env, acl.rules);
  checkAclTotals(out, env, acl);
  checkBodies(out, env, acl.customResponseBodies);
  checkIpSets(out, env, plan.ipSets);
  checkMethodSettings(out, plan.methodSettings);
  return out;
}

/** The policy a rule came from, else the environment. */
function ruleSubject(env: string, rule: WafRulePlan): string {
  return rule.provenance[0] ?? env;
}

/** Each rule on its own; priorities and names must be unique; each band has room for WAF_LIMITS.rulesPerBand rules. */
function checkRules(out: Diagnostic[], env: string, rules: readonly WafRulePlan[]): void {
  const priorities = new Map<number, string>();
  const names = new Set<string>();
  for (const rule of rules) {
    const subject = ruleSubject(env, rule);
    const clash = priorities.get(rule.priority);
    if (clash !== undefined)
      out.push(planDiagnostic(subject, '', `WAF rule ${rule.name} has priority ${rule.priority}, already used by rule ${clash}; priorities must be unique`));
    priorities.set(rule.priority, rule.name);
    if (names.has(rule.name)) out.push(planDiagnostic(subject, '', `WAF rule name ${rule.name} is used twice; rule names must be unique`));
    names.add(rule.name);
    checkName(out, subject, '', 'WAF rule name', rule.name);
    checkMetricName(out, subject, '', rule.visibilityConfig.metricName);
    checkRule(out, subject, rule);
  }
  const bandCounts = new Map<number, number>();
  for (const rule of rules) {
    const band = Math.floor(rule.priority / WAF_LIMITS.rulesPerBand);
    bandCounts.set(band, (bandCounts.get(band) ?? 0) + 1);
  }
  for (const [band, count] of bandCounts)
    if (count > WAF_LIMITS.rulesPerBand - 1)
      out.push(planDiagnostic(env, '', `${count} WAF rules of one kind (priority band ${band}); at most ${WAF_LIMITS.rulesPerBand - 1} fit`));
}

/** Web-ACL-wide quotas: rate-based rules, IP set references, capacity units. */
function checkAclTotals(out: Diagnostic[], env: string, acl: NonNullable<CloudPlan['webAcl']>): void {
  const rateRules = acl.rules.filter((r) => 'rateBasedStatement' in r.statement);
  if (rateRules.length > WAF_LIMITS.maxRateBasedRulesPerWebAcl)
    out.push(
      planDiagnostic(
        ruleSubject(env, rateRules[WAF_LIMITS.maxRateBasedRulesPerWebAcl] as WafRulePlan),
        '',
        `${rateRules.length} rate-based rules (${rateRules.map((r) => r.name).join(', ')}); an AWS WAF web ACL holds at most ${WAF_LIMITS.maxRateBasedRulesPerWebAcl}`,
      ),
    );

  const references = acl.rules.reduce((n, r) => n + [...walk(r.statement)].filter((s) => 'ipSetReferenceStatement' in s).length, 0);
  if (references > WAF_LIMITS.maxReferenceStatementsPerWebAcl)
    out.push(planDiagnostic(env, '', `${references} IP set reference statements; an AWS WAF web ACL holds at most ${WAF_LIMITS.maxReferenceStatementsPerWebAcl}`));

  const wcu = webAclWcu(acl.rules);
  if (wcu > WAF_LIMITS.maxWebAclWcu) {
    const top = [...acl.rules]
      .sort((a, b) => statementWcu(b.statement) - statementWcu(a.statement) || a.priority - b.priority)
      .slice(0, 3)
      .map((r) => `${r.name} ${statementWcu(r.statement)}`)
      .join(', ');
    out.push(planDiagnostic(env, '', `the web ACL needs about ${wcu} WCU, above AWS WAF's maximum of ${WAF_LIMITS.maxWebAclWcu} (largest rules: ${top})`));
  }
}

function checkBodies(out: Diagnostic[], env: string, bodies: readonly CustomResponseBodyPlan[]): void {
  if (bodies.length > WAF_LIMITS.maxCustomResponseBodiesPerWebAcl)
    out.push(planDiagnostic(env, '', `${bodies.length} custom response bodies; an AWS WAF web ACL holds at most ${WAF_LIMITS.maxCustomResponseBodiesPerWebAcl}`));
  for (const body of bodies) {
    checkName(out, env, '', 'custom response body key', body.key);
    if (body.content.length < 1 || body.content.length > WAF_LIMITS.maxCustomResponseBodyChars)
      out.push(planDiagnostic(env, '', `custom response body ${body.key} has ${body.content.length} characters; AWS WAF accepts 1 to ${WAF_LIMITS.maxCustomResponseBodyChars}`));
  }
}

function checkIpSets(out: Diagnostic[], env: string, ipSets: readonly IpSetPlan[]): void {
  for (const set of ipSets) {
    const subject = set.provenance[0] ?? env;
    checkName(out, subject, '', 'IP set name', set.name);
    if (set.addresses.length > WAF_LIMITS.maxAddressesPerIpSet)
      out.push(
        planDiagnostic(subject, '', `IP set ${set.name} would hold ${set.addresses.length} ${set.ipAddressVersion} ranges; an AWS WAF IP set holds at most ${WAF_LIMITS.maxAddressesPerIpSet}`),
      );
    for (const a of set.addresses)
      if (a.endsWith('/0')) out.push(planDiagnostic(subject, '', `IP set ${set.name}: AWS WAF does not accept the /0 range ${a}`));
  }
}

function checkMethodSettings(out: Diagnostic[], settings: CloudPlan['methodSettings']): void {
  for (const m of settings) {
    if (!(m.throttlingRateLimit > 0) || !Number.isFinite(m.throttlingRateLimit))
      out.push(planDiagnostic(m.provenance, 'spec.requests', `API Gateway throttling rate for ${m.methodPath} must be a positive number, got ${m.throttlingRateLimit}`));
    if (!Number.isInteger(m.throttlingBurstLimit) || m.throttlingBurstLimit < 0 || m.throttlingBurstLimit > 2 ** 31 - 1)
      out.push(planDiagnostic(m.provenance, 'spec.requests', `API Gateway burst limit for ${m.methodPath} must be an integer from 0 to ${2 ** 31 - 1}, got ${m.throttlingBurstLimit}`));
  }
}

function checkRule(out: Diagnostic[], subject: string, rule: WafRulePlan): void {
  if ('block' in rule.action) {
    const code = rule.action.block.customResponse.responseCode;
    if (code < WAF_LIMITS.responseCodeMin || code > WAF_LIMITS.responseCodeMax)
      out.push(
        planDiagnostic(subject, rule.kind === 'disabled-route' ? 'spec.actions (disableRoute).status' : '', `WAF rule ${rule.name}: response status ${code} is outside the ${WAF_LIMITS.responseCodeMin}-${WAF_LIMITS.responseCodeMax} AWS WAF accepts`),
      );
  }
  const s = rule.statement;
  if ('rateBasedStatement' in s) {
    const r = s.rateBasedStatement;
    const field = subject.startsWith('RateLimit/') ? 'spec.requests' : 'spec.actions (tightenRateLimit)';
    const source = rule.rateLimit ? `${rule.rateLimit.requests} per ${rule.rateLimit.per} (${r.limit} per ${r.evaluationWindowSec} s)` : `${r.limit} per ${r.evaluationWindowSec} s`;
    if (r.limit < WAF_LIMITS.rateLimitMin)
      out.push(planDiagnostic(subject, field, `${source} is below AWS WAF's minimum of ${WAF_LIMITS.rateLimitMin} requests per evaluation window`));
    if (r.limit > WAF_LIMITS.rateLimitMax)
      out.push(planDiagnostic(subject, field, `${source} is above AWS WAF's maximum of ${WAF_LIMITS.rateLimitMax} requests per evaluation window`));
    if (!Number.isInteger(r.limit)) out.push(planDiagnostic(subject, field, `${source}: AWS WAF limits are whole numbers`));
    if (!WAF_LIMITS.evaluationWindows.includes(r.evaluationWindowSec))
      out.push(planDiagnostic(subject, 'spec.per', `evaluation window ${r.evaluationWindowSec} s is not one AWS WAF offers (${WAF_LIMITS.evaluationWindows.join(', ')} s)`));
    if (r.aggregateKeyType === 'CONSTANT' && !r.scopeDownStatement)
      out.push(planDiagnostic(subject, 'spec.key', `WAF rule ${rule.name}: a rate-based rule keyed on CONSTANT needs a scope-down statement`));
    if (r.forwardedIpConfig && !FORWARDED_HEADER.test(r.forwardedIpConfig.headerName))
      out.push(planDiagnostic(subject, '', `forwarded IP header "${r.forwardedIpConfig.headerName}" must be letters, digits and hyphens`));
    for (const k of r.customKeys ?? []) checkHeaderName(out, subject, 'spec.key.name', k.header.name, 64);
    if (r.scopeDownStatement && logicalDepth(r.scopeDownStatement) > WAF_LIMITS.maxScopeDownLogicalDepth)
      out.push(planDiagnostic(subject, '', `WAF rule ${rule.name}: its scope-down nests ${logicalDepth(r.scopeDownStatement)} AND/OR/NOT levels; the provider accepts ${WAF_LIMITS.maxScopeDownLogicalDepth}`));
  } else if (logicalDepth(s) > WAF_LIMITS.maxRuleLogicalDepth) {
    out.push(planDiagnostic(subject, '', `WAF rule ${rule.name} nests ${logicalDepth(s)} AND/OR/NOT levels; the provider accepts ${WAF_LIMITS.maxRuleLogicalDepth}`));
  }
  for (const st of walk(s)) {
    if ('byteMatchStatement' in st) {
      const b = st.byteMatchStatement;
      if (b.searchString.length < 1 || b.searchString.length > WAF_LIMITS.maxSearchStringChars)
        out.push(planDiagnostic(subject, '', `WAF rule ${rule.name}: match string "${clip(b.searchString)}" has ${b.searchString.length} characters; AWS WAF accepts 1 to ${WAF_LIMITS.maxSearchStringChars}`));
      checkField(out, subject, b.fieldToMatch);
    } else if ('regexMatchStatement' in st) {
      const x = st.regexMatchStatement;
      if (x.regexString.length > WAF_LIMITS.maxRegexChars)
        out.push(planDiagnostic(subject, '', `WAF rule ${rule.name}: regex "${clip(x.regexString)}" has ${x.regexString.length} characters; AWS WAF accepts at most ${WAF_LIMITS.maxRegexChars}`));
      checkField(out, subject, x.fieldToMatch);
    } else if ('ipSetReferenceStatement' in st) {
      const f = st.ipSetReferenceStatement.ipSetForwardedIpConfig;
      if (f && !FORWARDED_HEADER.test(f.headerName))
        out.push(planDiagnostic(subject, '', `forwarded IP header "${f.headerName}" must be letters, digits and hyphens`));
    }
  }
}

function checkField(out: Diagnostic[], subject: string, field: FieldToMatch): void {
  if ('singleHeader' in field) checkHeaderName(out, subject, '', field.singleHeader.name, WAF_LIMITS.maxSingleHeaderNameChars);
}

function checkHeaderName(out: Diagnostic[], subject: string, path: string, name: string, max: number): void {
  if (name.length < 1 || name.length > max || !HEADER_NAME.test(name))
    out.push(planDiagnostic(subject, path, `header name "${name}" cannot be matched by AWS WAF: 1 to ${max} lower-case letters, digits, "_" or "-"`));
}

function checkName(out: Diagnostic[], subject: string, path: string, what: string, name: string): void {
  if (name.length < 1 || name.length > WAF_LIMITS.maxNameChars)
    out.push(planDiagnostic(subject, path, `${what} "${clip(name)}" has ${name.length} characters; AWS WAF accepts 1 to ${WAF_LIMITS.maxNameChars}`));
  else if (!NAME.test(name)) out.push(planDiagnostic(subject, path, `${what} "${name}" may only hold letters, digits, "_" and "-"`));
}

function checkMetricName(out: Diagnostic[], subject: string, path: string, name: string): void {
  if (name === 'All' || name === 'Default_Action') out.push(planDiagnostic(subject, path, `metric name "${name}" is reserved by AWS WAF`));
  else if (name.length < 1 || name.length > WAF_LIMITS.maxMetricNameChars || !NAME.test(name))
    out.push(planDiagnostic(subject, path, `metric name "${clip(name)}" must be 1 to ${WAF_LIMITS.maxMetricNameChars} letters, digits, "_" or "-"`));
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
