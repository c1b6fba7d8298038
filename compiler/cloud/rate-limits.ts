/**
 * IR rate limits → WAF rate-based rules. WAF counts requests per evaluation window (60, 120, 300 or
 * 600 s) with a limit of at least 10; what cannot be said exactly stays enforced in Envoy only.
 *
 * Translation (documented in docs/cloud.md):
 * - N per second → N×60 per 60 s window (same average; WAF admits a burst Envoy would not).
 * - N per minute, N >= 10 → N per 60 s window (exact).
 * - N per minute, N < 10 → Envoy only; AWS WAF keeps a backstop at its floor, 10 per 60 s, which
 *   no client within the policy can reach (a longer window would not help: 5/min as 50 per 600 s
 *   admits 50 in one minute).
 * - N per hour → Envoy only (the longest window is 600 s); AWS WAF keeps a backstop of
 *   max(N, 10) per 600 s, again unreachable for a client within the policy.
 * Keys: client IP → IP (or FORWARDED_IP); header → a custom key; route → CONSTANT (one counter for
 * every caller); client network and JWT claim → Envoy only, no backstop (WAF aggregates on single
 * addresses and cannot read JWT claims; counting a /24 per address would give it 256× the budget).
 */
import type { RateLimitIR, RouteIR } from '../ir/ir';
import { compareText } from '../text-order';
import { WAF_LIMITS } from './quotas';
import { ANY_REQUEST, routeScope, routesScope } from './route-scope';
import { logicalDepth } from './statements';
import type { CloudTarget, EnvoyOnlyEntry, PlanNote, WafStatement } from './types';

export type WafRate =
  /** The policy's limit, as WAF counts it (`note`: how counting differs, when it does). */
  | { readonly kind: 'exact'; readonly limit: number; readonly window: 60 | 600; readonly note: string | null }
  /** Not expressible: Envoy enforces it; WAF enforces a looser limit no client within the policy reaches. */
  | { readonly kind: 'backstop'; readonly limit: number; readonly window: 60 | 600; readonly reason: string }
  | { readonly kind: 'none'; readonly reason: string };

/** N per unit → WAF limit per evaluation window, or why it cannot be expressed. */
export function toWafRate(requests: number, unit: RateLimitIR['unit']): WafRate {
  const what = `${requests} per ${unit}`;
  const { rateLimitMin: min, rateLimitMax: max } = WAF_LIMITS;
  switch (unit) {
    case 'second': {
      const limit = requests * 60;
      if (limit > max) return { kind: 'none', reason: `${what} is ${limit} per 60 s, above AWS WAF's maximum of ${max}` };
      return {
        kind: 'exact',
        limit,
        window: 60,
        note: `${what} is counted on AWS as ${limit} per 60 s window: same average, but a burst of up to ${limit} in one second passes the WAF`,
      };
    }
    case 'minute':
      if (requests > max) return { kind: 'none', reason: `${what} is above AWS WAF's maximum of ${max} per window` };
      if (requests < min)
        return {
          kind: 'backstop',
          limit: min,
          window: 60,
          reason: `${what} is below AWS WAF's minimum of ${min} requests per evaluation window (the shortest window is 60 s)`,
        };
      return { kind: 'exact', limit: requests, window: 60, note: null };
    case 'hour': {
      const limit = Math.max(requests, min);
      if (limit > max) return { kind: 'none', reason: `${what} is above AWS WAF's maximum of ${max} per window` };
      return {
        kind: 'backstop',
        limit,
        window: 600,
        reason: `${what} cannot be expressed: AWS WAF's longest evaluation window is 600 s`,
      };
    }
  }
}

export interface RateRuleSpec {
  /** Rule name without priority. */
  readonly name: string;
  readonly rateLimit: RateLimitIR;
  readonly routes: readonly string[];
  readonly statement: WafStatement;
  readonly description: string;
  /** A looser stand-in for a limit WAF cannot express (the exact limit is Envoy-only). */
  readonly backstop: boolean;
}

export interface RateLimitGroup {
  readonly rateLimit: RateLimitIR;
  /** Routes carrying this limit, in match order. */
  readonly routes: readonly RouteIR[];
}

/** Routes grouped by identical rate limit (same name, numbers, key, mode and provenance), sorted by name. */
export function groupRateLimits(routes: readonly RouteIR[]): RateLimitGroup[] {
  const groups = new Map<string, { rateLimit: RateLimitIR; routes: RouteIR[] }>();
  for (const route of routes)
    for (const rl of route.rateLimits) {
      const key = JSON.stringify([rl.name, rl.requests, rl.unit, rl.key, rl.mode, rl.provenance]);
      const g = groups.get(key) ?? { rateLimit: rl, routes: [] };
      g.routes.push(route);
      groups.set(key, g);
    }
  return [...groups.entries()].sort(([a], [b]) => compareText(a, b)).map(([, g]) => g);
}

export interface RateRulesResult {
  readonly rules: RateRuleSpec[];
  readonly envoyOnly: EnvoyOnlyEntry[];
  readonly notes: PlanNote[];
}

/** A limit WAF counts only loosely: its Envoy-only entry is written once we know whether the backstop fit. */
interface Backstop {
  readonly name: string;
  readonly subject: string;
  readonly feature: string;
  readonly reason: string;
  readonly backstop: string;
}

/** Rate-based rule specs for every expressible group; the rest go to the Envoy-only list. */
export function rateRules(routes: readonly RouteIR[], target: CloudTarget): RateRulesResult {
  const out: RateRulesResult = { rules: [], envoyOnly: [], notes: [] };
  const groups = groupRateLimits(routes);
  const nameOf = ruleNamer(groups);
  const backstops: Backstop[] = [];
  for (const group of groups) {
    const backstop = groupRules(group, target, nameOf, out);
    if (backstop) backstops.push(backstop);
  }
  const dropped = dropBackstops(out.rules);
  for (const b of backstops)
    out.envoyOnly.push({
      subject: b.subject,
      feature: b.feature,
      reason: `${b.reason}; ${dropped.has(b.name) ? `no backstop on AWS, which holds at most ${WAF_LIMITS.maxRateBasedRulesPerWebAcl} rate-based rules per web ACL` : b.backstop}`,
    });
  return out;
}

/**
 * Rule names: `rate-limit-<name>`, numbered `-1`, `-2`, ... in group order when several groups share
 * the limit's name. Call it once per group that gets rules, in group order.
 */
function ruleNamer(groups: readonly RateLimitGroup[]): (limit: string) => string {
  const perName = new Map<string, number>();
  for (const g of groups) perName.set(g.rateLimit.name, (perName.get(g.rateLimit.name) ?? 0) + 1);
  const seen = new Map<string, number>();
  return (limit) => {
    const index = (seen.get(limit) ?? 0) + 1;
    seen.set(limit, index);
    return (perName.get(limit) ?? 1) > 1 ? `rate-limit-${limit}-${index}` : `rate-limit-${limit}`;
  };
}

/** One group's rules into `out` (or its Envoy-only entry); the backstop to report, if it is one. */
function groupRules(group: RateLimitGroup, target: CloudTarget, nameOf: (limit: string) => string, out: RateRulesResult): Backstop | null {
  const { rateLimit: rl, routes: rs } = group;
  const subject = rl.provenance;
  const routeNames = rs.map((r) => r.name);
  const feature = `RateLimit ${rl.name} on ${routeNames.join(', ')}`;
  const field = rl.provenance.startsWith('RateLimit/') ? 'spec.requests' : `spec.actions (tightenRateLimit ${rl.name})`;
  const keyed = aggregation(rl, target);
  if ('reason' in keyed) {
    out.envoyOnly.push({ subject, feature, reason: `spec.key: ${keyed.reason}` });
    return null;
  }
  const rate = toWafRate(rl.requests, rl.unit);
  if (rate.kind === 'none') {
    out.envoyOnly.push({ subject, feature, reason: `${field}: ${rate.reason}` });
    return null;
  }
  if (rate.kind === 'exact' && rate.note) out.notes.push({ subject, message: `${rl.name}: ${rate.note}` });
  if (keyed.note) out.notes.push({ subject, message: `${rl.name}: ${keyed.note}` });
  const name = nameOf(rl.name);
  const scopes = rateScopes(group, out.notes);
  for (const scope of scopes) {
    const onRoutes = scope.routes.map((r) => r.name);
    out.rules.push({
      name: scopes.length > 1 ? `${name}-${onRoutes[0]}` : name,
      rateLimit: rl,
      routes: onRoutes,
      statement: rateStatement(rate, keyed, scope.statement),
      backstop: rate.kind === 'backstop',
      description: `${rl.name}: ${rl.requests} per ${rl.unit} per ${keyed.label} on ${onRoutes.join(', ')} → ${rate.limit} per ${rate.window} s window${rate.kind === 'backstop' ? ' (backstop; the exact limit is enforced in Envoy)' : ''} (${rl.mode === 'enforce' ? 'block with 429' : 'count only'})`,
    });
  }
  if (rate.kind !== 'backstop') return null;
  return { name: rl.name, subject, feature, reason: `${field}: ${rate.reason}`, backstop: `AWS WAF enforces ${rate.limit} per ${rate.window} s as a looser backstop` };
}

/**
 * One counter for all the limit's routes when the scope-down fits the provider's nesting limit;
 * otherwise one rule (and counter) per route.
 */
function rateScopes({ rateLimit: rl, routes: rs }: RateLimitGroup, notes: PlanNote[]): { routes: readonly RouteIR[]; statement: WafStatement | null }[] {
  const subject = rl.provenance;
  const combined = routesScope(rs, subject);
  notes.push(...combined.notes);
  const scopes =
    combined.statement === null || logicalDepth(combined.statement) <= WAF_LIMITS.maxScopeDownLogicalDepth
      ? [{ routes: rs, statement: combined.statement }]
      : rs.map((r) => ({ routes: [r], statement: routeScope(r, subject).statement }));
  if (scopes.length > 1)
    notes.push({ subject, message: `${rl.name}: the routes' conditions nest too deep for one WAF rule; AWS counts each route separately` });
  else if (rs.length > 1)
    notes.push({ subject, message: `${rl.name}: AWS WAF counts requests to ${rs.map((r) => r.name).join(', ')} together (one counter per key)` });
  return scopes;
}

function rateStatement(rate: { readonly limit: number; readonly window: 60 | 600 }, keyed: Exclude<Aggregation, { readonly reason: string }>, scope: WafStatement | null): WafStatement {
  const scopeDown = scope ?? (keyed.aggregateKeyType === 'CONSTANT' ? ANY_REQUEST : null);
  return {
    rateBasedStatement: {
      limit: rate.limit,
      evaluationWindowSec: rate.window,
      aggregateKeyType: keyed.aggregateKeyType,
      ...(keyed.forwardedIpConfig ? { forwardedIpConfig: keyed.forwardedIpConfig } : {}),
      ...(keyed.customKeys ? { customKeys: keyed.customKeys } : {}),
      ...(scopeDown ? { scopeDownStatement: scopeDown } : {}),
    },
  };
}

/**
 * AWS holds at most WAF_LIMITS.maxRateBasedRulesPerWebAcl rate-based rules: backstops give way
 * first, last rule first (the limits they stand in for are enforced in Envoy anyway); beyond that
 * quotas.ts fails. Removes them from `rules`; returns the names of the limits that lost one.
 */
function dropBackstops(rules: RateRuleSpec[]): Set<string> {
  let excess = rules.length - WAF_LIMITS.maxRateBasedRulesPerWebAcl;
  const dropped = new Set<string>();
  for (let i = rules.length - 1; i >= 0 && excess > 0; i--) {
    const r = rules[i] as RateRuleSpec;
    if (!r.backstop) continue;
    rules.splice(i, 1);
    excess--;
    dropped.add(r.rateLimit.name);
  }
  return dropped;
}

type Aggregation =
  | {
      readonly aggregateKeyType: 'IP' | 'FORWARDED_IP' | 'CUSTOM_KEYS' | 'CONSTANT';
      readonly forwardedIpConfig?: { readonly headerName: string; readonly fallbackBehavior: 'MATCH' | 'NO_MATCH' };
      readonly customKeys?: readonly { readonly header: { readonly name: string; readonly textTransformations: readonly { readonly priority: number; readonly type: 'NONE' }[] } }[];
      readonly label: string;
      readonly note: string | null;
    }
  | { readonly reason: string };

function aggregation(rl: RateLimitIR, target: CloudTarget): Aggregation {
  switch (rl.key.kind) {
    case 'client-ip':
      if (target.clientIp.kind === 'forwarded-header')
        return {
          aggregateKeyType: 'FORWARDED_IP',
          // Requests without the header are counted as one aggregate rather than escaping the limit.
          forwardedIpConfig: { headerName: target.clientIp.header, fallbackBehavior: 'MATCH' },
          label: `client IP (${target.clientIp.header})`,
          note: `AWS WAF aggregates on the FIRST address in ${target.clientIp.header}, which a client can forge unless the proxy in front of the gateway overwrites the header`,
        };
      return { aggregateKeyType: 'IP', label: 'client IP', note: null };
    case 'header':
      return {
        aggregateKeyType: 'CUSTOM_KEYS',
        customKeys: [{ header: { name: rl.key.name.toLowerCase(), textTransformations: [{ priority: 0, type: 'NONE' }] } }],
        label: `header ${rl.key.name}`,
        note: `requests without header ${rl.key.name} are not counted by AWS WAF`,
      };
    case 'route':
      return { aggregateKeyType: 'CONSTANT', label: 'route (all callers)', note: null };
    case 'client-network':
      return {
        reason: `AWS WAF aggregates on single addresses, not on /${rl.key.ipv4PrefixLength} (IPv4) or /${rl.key.ipv6PrefixLength} (IPv6) networks; counting per address would multiply the network's budget`,
      };
    case 'jwt-claim':
      return { reason: `AWS WAF cannot read JWT claims (here "${rl.key.claim}"): it does not validate or decode tokens` };
  }
}
