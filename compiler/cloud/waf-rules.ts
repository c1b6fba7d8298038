/**
 * The web ACL's rules for one environment, in ONE documented order (the table below), with the IP
 * sets they reference. Lockdown network blocks and disabled routes come from the IR's active
 * lockdowns, so an expired lockdown (absent from the IR) simply produces no rule.
 */
import type { EnvironmentIR, NetworkRuleIR, RouteIR } from '../ir/ir';
import { ipMatch, ipSetsFor, splitFamilies } from './ip-sets';
import { WAF_LIMITS } from './quotas';
import { rateRules } from './rate-limits';
import { ANY_REQUEST, routeScope, routesScope } from './route-scope';
import { and, logicalDepth, not } from './statements';
import type {
  CloudTarget,
  CustomResponseBodyPlan,
  EnvoyOnlyEntry,
  IpSetPlan,
  PlanNote,
  RuleAction,
  WafRuleKind,
  WafRulePlan,
  WafStatement,
} from './types';

/**
 * Evaluation order. WAF evaluates rules by ascending priority and stops at the first terminating
 * action (block); each kind gets a band of WAF_LIMITS.rulesPerBand priorities so adding a rule of
 * one kind never renumbers the others.
 */
export const RULE_ORDER: readonly { readonly kind: WafRuleKind; readonly band: number }[] = [
  // 1. An incident's network block wins over everything: the attacker gets 403 whatever it calls.
  { kind: 'lockdown-block-networks', band: 1 },
  // 2. Routes a lockdown disabled answer the lockdown's status and body, as Envoy's direct response does.
  { kind: 'disabled-route', band: 2 },
  // 3. Access deny lists: deny beats allow, so they come before allow-lists.
  { kind: 'denied-networks', band: 3 },
  // 4. Allow-lists: a route restricted to some networks blocks every other client.
  { kind: 'allowed-networks', band: 4 },
  // 5. Rate limits last: a request blocked above never counts against its caller's budget.
  { kind: 'rate-limit', band: 5 },
];

export const FORBIDDEN_BODY: CustomResponseBodyPlan = { key: 'portcullis-forbidden', contentType: 'TEXT_PLAIN', content: 'Forbidden\n' };
export const TOO_MANY_REQUESTS_BODY: CustomResponseBodyPlan = {
  key: 'portcullis-too-many-requests',
  contentType: 'TEXT_PLAIN',
  content: 'Too Many Requests\n',
};

interface RuleSpec {
  readonly kind: WafRuleKind;
  readonly name: string;
  readonly provenance: readonly string[];
  readonly description: string;
  readonly action: RuleAction;
  readonly statement: WafStatement;
  readonly rateLimit?: WafRulePlan['rateLimit'];
}

export interface WafRulesResult {
  readonly rules: readonly WafRulePlan[];
  readonly ipSets: readonly IpSetPlan[];
  readonly customResponseBodies: readonly CustomResponseBodyPlan[];
  readonly envoyOnly: readonly EnvoyOnlyEntry[];
  readonly notes: readonly PlanNote[];
}

const BLOCK_403: RuleAction = { block: { customResponse: { responseCode: 403, customResponseBodyKey: FORBIDDEN_BODY.key } } };
const BLOCK_429: RuleAction = { block: { customResponse: { responseCode: 429, customResponseBodyKey: TOO_MANY_REQUESTS_BODY.key } } };

export function wafRules(env: EnvironmentIR, target: CloudTarget): WafRulesResult {
  const specs: RuleSpec[] = [];
  const ipSets: IpSetPlan[] = [];
  const notes: PlanNote[] = [];
  const bodies: CustomResponseBodyPlan[] = [FORBIDDEN_BODY, TOO_MANY_REQUESTS_BODY];
  const ipSetBase = (rule: string): string => `portcullis-${env.name}-${rule}`;

  // 1 and 3: denied networks, split by where they came from (a lockdown or an Access document);
  // per document, CIDRs denied on the same routes share one rule and one pair of IP sets.
  for (const lockdown of [true, false]) {
    const routesByCidr = new Map<string, Map<string, RouteIR[]>>();
    for (const route of env.routes)
      for (const n of route.access.deniedNetworks) {
        if (n.provenance.startsWith('Lockdown/') !== lockdown) continue;
        const byCidr = routesByCidr.get(n.provenance) ?? new Map<string, RouteIR[]>();
        const routes = byCidr.get(n.cidr) ?? [];
        if (!routes.includes(route)) routes.push(route);
        byCidr.set(n.cidr, routes);
        routesByCidr.set(n.provenance, byCidr);
      }
    for (const prov of [...routesByCidr.keys()].sort()) {
      const cidrsByRoutes = new Map<string, { routes: RouteIR[]; cidrs: string[] }>();
      for (const [cidr, routes] of routesByCidr.get(prov) as Map<string, RouteIR[]>) {
        const key = routes.map((r) => r.name).join(',');
        const g = cidrsByRoutes.get(key) ?? { routes, cidrs: [] };
        g.cidrs.push(cidr);
        cidrsByRoutes.set(key, g);
      }
      // Rules covering more routes first (the every-route rule leads), then by route names.
      const groups = [...cidrsByRoutes.entries()]
        .sort(([ka, a], [kb, b]) => b.routes.length - a.routes.length || compare(ka, kb))
        .map(([, g]) => g);
      groups.forEach(({ routes, cidrs: unsorted }, i) => {
        const cidrs = [...unsorted].sort();
        const name = `${slug(prov)}-${lockdown ? 'block' : 'deny'}-networks${groups.length > 1 ? `-${i + 1}` : ''}`;
        const families = splitFamilies(cidrs, prov, notes);
        const sets = ipSetsFor(ipSetBase(name), families, target, `${lockdown ? 'Blocked' : 'Denied'} by ${prov} (Portcullis)`, [prov]);
        ipSets.push(...sets);
        const matchClient = ipMatch(sets, target);
        specs.push(
          ...scoped(env, routes, prov, notes, (scope, onRoutes) => ({
            kind: lockdown ? 'lockdown-block-networks' : 'denied-networks',
            name: onRoutes ? `${name}-${onRoutes}` : name,
            provenance: [prov],
            description: `${prov}: 403 for ${describeCidrs(cidrs)} on ${onRoutes ? `route ${onRoutes}` : describeRoutes(env, routes)}`,
            action: BLOCK_403,
            statement: scope ? and(matchClient, scope) : matchClient,
          })),
        );
      });
    }
  }

  // 2: routes a lockdown disabled.
  for (const route of env.routes) {
    if (!route.disabled) continue;
    const { status, body, provenance } = route.disabled;
    const key = `portcullis-route-disabled-${route.name}`;
    bodies.push({ key, contentType: 'TEXT_PLAIN', content: body });
    const scope = routeScope(route, provenance);
    notes.push(...scope.notes);
    specs.push({
      kind: 'disabled-route',
      name: `disable-route-${route.name}`,
      provenance: [provenance],
      description: `${provenance}: route ${route.name} answers ${status} "${clipText(body)}"`,
      action: { block: { customResponse: { responseCode: status, customResponseBodyKey: key } } },
      statement: scope.statement ?? ANY_REQUEST,
    });
  }

  // 4: allow-lists, one rule per distinct set of allowed networks.
  const allowGroups = new Map<string, { routes: RouteIR[]; networks: NetworkRuleIR[] }>();
  for (const route of env.routes) {
    if (route.access.allowedNetworks.length === 0) continue;
    const key = [...new Set(route.access.allowedNetworks.map((n) => n.cidr))].sort().join(',');
    const g = allowGroups.get(key) ?? { routes: [], networks: [] };
    g.routes.push(route);
    g.networks.push(...route.access.allowedNetworks);
    allowGroups.set(key, g);
  }
  const allowNames = new Map<string, number>();
  const allowEntries = [...allowGroups].sort(([a], [b]) => compare(a, b));
  const baseOf = (networks: readonly NetworkRuleIR[]): string => `${slug(provenances(networks)[0] ?? 'access')}-allow-networks`;
  const baseCount = new Map<string, number>();
  for (const [, g] of allowEntries) baseCount.set(baseOf(g.networks), (baseCount.get(baseOf(g.networks)) ?? 0) + 1);
  for (const [key, g] of allowEntries) {
    const provs = provenances(g.networks);
    const base = baseOf(g.networks);
    const n = (allowNames.get(base) ?? 0) + 1;
    allowNames.set(base, n);
    const name = (baseCount.get(base) ?? 1) > 1 ? `${base}-${n}` : base;
    const subject = provs[0] ?? `Environment/${env.name}`;
    const cidrs = key.split(',');
    const sets = ipSetsFor(ipSetBase(name), splitFamilies(cidrs, subject, notes), target, `Allowed by ${provs.join(', ')} (Portcullis)`, provs);
    ipSets.push(...sets);
    const outsider = not(ipMatch(sets, target));
    specs.push(
      ...scoped(env, g.routes, subject, notes, (scope, onRoutes) => ({
        kind: 'allowed-networks',
        name: onRoutes ? `${name}-${onRoutes}` : name,
        provenance: provs,
        description: `${provs.join(', ')}: 403 on ${onRoutes ? `route ${onRoutes}` : describeRoutes(env, g.routes)} unless the client is in ${describeCidrs(cidrs)}`,
        action: BLOCK_403,
        statement: scope ? and(outsider, scope) : outsider,
      })),
    );
  }

  // 5: rate limits.
  const rate = rateRules(env.routes, target);
  notes.push(...rate.notes);
  for (const r of rate.rules)
    specs.push({
      kind: 'rate-limit',
      name: r.name,
      provenance: [r.rateLimit.provenance],
      description: r.description,
      rateLimit: { name: r.rateLimit.name, requests: r.rateLimit.requests, per: r.rateLimit.unit },
      action: r.rateLimit.mode === 'enforce' ? BLOCK_429 : { count: {} },
      statement: r.statement,
    });

  return {
    rules: assignPriorities(specs),
    ipSets: [...ipSets].sort((a, b) => compare(a.name, b.name)),
    customResponseBodies: bodies.sort((a, b) => compare(a.key, b.key)),
    envoyOnly: rate.envoyOnly,
    notes,
  };
}

/**
 * Rules limited to some routes: one rule over all of them when its statement fits the provider's
 * nesting limit, else one rule per route (the build callback gets the route's name as suffix).
 * A group covering every route of the environment needs no route condition at all.
 */
function scoped(
  env: EnvironmentIR,
  routes: readonly RouteIR[],
  subject: string,
  notes: PlanNote[],
  build: (scope: WafStatement | null, onRoute: string | null) => RuleSpec,
): RuleSpec[] {
  if (routes.length === env.routes.length) return [build(null, null)];
  const combined = routesScope(routes, subject);
  const rule = build(combined.statement, null);
  if (logicalDepth(rule.statement) <= WAF_LIMITS.maxRuleLogicalDepth) {
    notes.push(...combined.notes);
    return [rule];
  }
  return routes.map((r) => {
    const one = routeScope(r, subject);
    notes.push(...one.notes);
    return build(one.statement, r.name);
  });
}

function assignPriorities(specs: readonly RuleSpec[]): WafRulePlan[] {
  const out: WafRulePlan[] = [];
  for (const { kind, band } of RULE_ORDER) {
    specs
      .filter((s) => s.kind === kind)
      .forEach((s, i) =>
        out.push({
          name: s.name,
          priority: band * WAF_LIMITS.rulesPerBand + i,
          kind: s.kind,
          provenance: s.provenance,
          description: s.description,
          ...(s.rateLimit ? { rateLimit: s.rateLimit } : {}),
          action: s.action,
          statement: s.statement,
          visibilityConfig: { cloudwatchMetricsEnabled: true, metricName: s.name, sampledRequestsEnabled: true },
        }),
      );
  }
  return out;
}

/** `Lockdown/stuffing-2026-11-20` → `lockdown-stuffing-2026-11-20` (valid in WAF names). */
export function slug(provenance: string): string {
  return provenance.toLowerCase().replace(/[^a-z0-9_-]+/g, '-');
}

function provenances(networks: readonly NetworkRuleIR[]): string[] {
  return [...new Set(networks.map((n) => n.provenance))].sort();
}

function describeRoutes(env: EnvironmentIR, routes: readonly RouteIR[]): string {
  if (routes.length === env.routes.length) return 'every route';
  return routes.length <= 4
    ? `route${routes.length > 1 ? 's' : ''} ${routes.map((r) => r.name).join(', ')}`
    : `${routes.length} routes (${routes
        .slice(0, 3)
        .map((r) => r.name)
        .join(', ')}, ...)`;
}

function describeCidrs(cidrs: readonly string[]): string {
  return cidrs.length <= 3 ? cidrs.join(', ') : `${cidrs.slice(0, 3).join(', ')} and ${cidrs.length - 3} more`;
}

function clipText(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > 60 ? `${one.slice(0, 57)}...` : one;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
