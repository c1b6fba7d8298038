/**
 * The web ACL's rules for one environment, in ONE documented order (the table below), with the IP
 * sets they reference. Lockdown network blocks and disabled routes come from the IR's active
 * lockdowns, so an expired lockdown (absent from the IR) simply produces no rule.
 */
import type { EnvironmentIR, NetworkRuleIR, RouteIR } from '../ir/ir';
import { compareText, sortedUnique } from '../text-order';
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

/** What a band's builder reads (the environment) and adds to (IP sets, bodies, notes, Envoy-only entries). */
interface BandContext {
  readonly env: EnvironmentIR;
  readonly target: CloudTarget;
  readonly ipSets: IpSetPlan[];
  readonly bodies: CustomResponseBodyPlan[];
  readonly envoyOnly: EnvoyOnlyEntry[];
  readonly notes: PlanNote[];
}

interface Band {
  readonly kind: WafRuleKind;
  readonly band: number;
  /** The band's rules, in their order within the band. */
  readonly build: (ctx: BandContext) => RuleSpec[];
}

/**
 * Evaluation order, and the builder of each kind's rules. WAF evaluates rules by ascending priority
 * and stops at the first terminating action (block); each kind gets a band of
 * WAF_LIMITS.rulesPerBand priorities so adding a rule of one kind never renumbers the others.
 */
export const RULE_ORDER: readonly Band[] = [
  // 1. An incident's network block wins over everything: the attacker gets 403 whatever it calls.
  { kind: 'lockdown-block-networks', band: 1, build: (ctx) => deniedNetworkRules(ctx, true) },
  // 2. Routes a lockdown disabled answer the lockdown's status and body, as Envoy's direct response does.
  { kind: 'disabled-route', band: 2, build: disabledRouteRules },
  // 3. Access deny lists: deny beats allow, so they come before allow-lists.
  { kind: 'denied-networks', band: 3, build: (ctx) => deniedNetworkRules(ctx, false) },
  // 4. Allow-lists: a route restricted to some networks blocks every other client.
  { kind: 'allowed-networks', band: 4, build: allowedNetworkRules },
  // 5. Rate limits last: a request blocked above never counts against its caller's budget.
  { kind: 'rate-limit', band: 5, build: rateLimitRules },
];

export const FORBIDDEN_BODY: CustomResponseBodyPlan = { key: 'portcullis-forbidden', contentType: 'TEXT_PLAIN', content: 'Forbidden\n' };
export const TOO_MANY_REQUESTS_BODY: CustomResponseBodyPlan = {
  key: 'portcullis-too-many-requests',
  contentType: 'TEXT_PLAIN',
  content: 'Too Many Requests\n',
};

/** A rule before its band (RULE_ORDER) gives it a kind and a priority. */
interface RuleSpec {
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
  const ctx: BandContext = { env, target, ipSets: [], bodies: [FORBIDDEN_BODY, TOO_MANY_REQUESTS_BODY], envoyOnly: [], notes: [] };
  const rules = RULE_ORDER.flatMap(({ kind, band, build }) => build(ctx).map((spec, i) => rulePlan(spec, kind, band * WAF_LIMITS.rulesPerBand + i)));
  return {
    rules,
    ipSets: [...ctx.ipSets].sort((a, b) => compareText(a.name, b.name)),
    customResponseBodies: ctx.bodies.sort((a, b) => compareText(a.key, b.key)),
    envoyOnly: ctx.envoyOnly,
    notes: ctx.notes,
  };
}

function ipSetBase(env: EnvironmentIR, rule: string): string {
  return `portcullis-${env.name}-${rule}`;
}

/**
 * Bands 1 and 3: denied networks from a lockdown (`lockdown`) or from Access documents; per
 * document, CIDRs denied on the same routes share one rule and one pair of IP sets.
 */
function deniedNetworkRules(ctx: BandContext, lockdown: boolean): RuleSpec[] {
  const { env, target, notes } = ctx;
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
  const specs: RuleSpec[] = [];
  for (const prov of [...routesByCidr.keys()].sort(compareText)) {
    const groups = cidrsByRoutes(routesByCidr.get(prov) as Map<string, RouteIR[]>);
    groups.forEach(({ routes, cidrs: unsorted }, i) => {
      const cidrs = [...unsorted].sort(compareText);
      const name = `${slug(prov)}-${lockdown ? 'block' : 'deny'}-networks${groups.length > 1 ? `-${i + 1}` : ''}`;
      const families = splitFamilies(cidrs, prov, notes);
      const sets = ipSetsFor(ipSetBase(env, name), families, target, `${lockdown ? 'Blocked' : 'Denied'} by ${prov} (Portcullis)`, [prov]);
      ctx.ipSets.push(...sets);
      const matchClient = ipMatch(sets, target);
      specs.push(
        ...scoped(env, routes, prov, notes, (scope, onRoutes) => ({
          name: onRoutes ? `${name}-${onRoutes}` : name,
          provenance: [prov],
          description: `${prov}: 403 for ${describeCidrs(cidrs)} on ${onRoutes ? `route ${onRoutes}` : describeRoutes(env, routes)}`,
          action: BLOCK_403,
          statement: scope ? and(matchClient, scope) : matchClient,
        })),
      );
    });
  }
  return specs;
}

/** One document's denied CIDRs grouped by the routes they apply to: more routes first (the every-route group leads), then by route names. */
function cidrsByRoutes(routesByCidr: ReadonlyMap<string, RouteIR[]>): { routes: RouteIR[]; cidrs: string[] }[] {
  const groups = new Map<string, { routes: RouteIR[]; cidrs: string[] }>();
  for (const [cidr, routes] of routesByCidr) {
    const key = routes.map((r) => r.name).join(',');
    const g = groups.get(key) ?? { routes, cidrs: [] };
    g.cidrs.push(cidr);
    groups.set(key, g);
  }
  return [...groups.entries()].sort(([ka, a], [kb, b]) => b.routes.length - a.routes.length || compareText(ka, kb)).map(([, g]) => g);
}

/** Band 2: routes a lockdown disabled answer its status and body. */
function disabledRouteRules(ctx: BandContext): RuleSpec[] {
  const specs: RuleSpec[] = [];
  for (const route of ctx.env.routes) {
    if (!route.disabled) continue;
    const { status, body, provenance } = route.disabled;
    const key = `portcullis-route-disabled-${route.name}`;
    ctx.bodies.push({ key, contentType: 'TEXT_PLAIN', content: body });
    const scope = routeScope(route, provenance);
    ctx.notes.push(...scope.notes);
    specs.push({
      name: `disable-route-${route.name}`,
      provenance: [provenance],
      description: `${provenance}: route ${route.name} answers ${status} "${clipText(body)}"`,
      action: { block: { customResponse: { responseCode: status, customResponseBodyKey: key } } },
      statement: scope.statement ?? ANY_REQUEST,
    });
  }
  return specs;
}

/** Band 4: allow-lists, one rule per distinct set of allowed networks. */
function allowedNetworkRules(ctx: BandContext): RuleSpec[] {
  const { env, target, notes } = ctx;
  const entries = allowGroups(env.routes);
  const baseOf = (networks: readonly NetworkRuleIR[]): string => `${slug(provenances(networks)[0] ?? 'access')}-allow-networks`;
  const baseCount = new Map<string, number>();
  for (const [, g] of entries) baseCount.set(baseOf(g.networks), (baseCount.get(baseOf(g.networks)) ?? 0) + 1);
  const allowNames = new Map<string, number>();
  const specs: RuleSpec[] = [];
  for (const [key, g] of entries) {
    const provs = provenances(g.networks);
    const base = baseOf(g.networks);
    const n = (allowNames.get(base) ?? 0) + 1;
    allowNames.set(base, n);
    const name = (baseCount.get(base) ?? 1) > 1 ? `${base}-${n}` : base;
    const subject = provs[0] ?? `Environment/${env.name}`;
    const cidrs = key.split(',');
    const sets = ipSetsFor(ipSetBase(env, name), splitFamilies(cidrs, subject, notes), target, `Allowed by ${provs.join(', ')} (Portcullis)`, provs);
    ctx.ipSets.push(...sets);
    const outsider = not(ipMatch(sets, target));
    specs.push(
      ...scoped(env, g.routes, subject, notes, (scope, onRoutes) => ({
        name: onRoutes ? `${name}-${onRoutes}` : name,
        provenance: provs,
        description: `${provs.join(', ')}: 403 on ${onRoutes ? `route ${onRoutes}` : describeRoutes(env, g.routes)} unless the client is in ${describeCidrs(cidrs)}`,
        action: BLOCK_403,
        statement: scope ? and(outsider, scope) : outsider,
      })),
    );
  }
  return specs;
}

/** Routes with an allow-list, grouped by their distinct allowed CIDRs (the key, comma-joined), sorted by key. */
function allowGroups(routes: readonly RouteIR[]): [string, { routes: RouteIR[]; networks: NetworkRuleIR[] }][] {
  const groups = new Map<string, { routes: RouteIR[]; networks: NetworkRuleIR[] }>();
  for (const route of routes) {
    if (route.access.allowedNetworks.length === 0) continue;
    const key = sortedUnique(route.access.allowedNetworks.map((n) => n.cidr)).join(',');
    const g = groups.get(key) ?? { routes: [], networks: [] };
    g.routes.push(route);
    g.networks.push(...route.access.allowedNetworks);
    groups.set(key, g);
  }
  return [...groups].sort(([a], [b]) => compareText(a, b));
}

/** Band 5: rate limits (what WAF cannot count goes to the Envoy-only list). */
function rateLimitRules(ctx: BandContext): RuleSpec[] {
  const rate = rateRules(ctx.env.routes, ctx.target);
  ctx.notes.push(...rate.notes);
  ctx.envoyOnly.push(...rate.envoyOnly);
  return rate.rules.map((r) => ({
    name: r.name,
    provenance: [r.rateLimit.provenance],
    description: r.description,
    rateLimit: { name: r.rateLimit.name, requests: r.rateLimit.requests, per: r.rateLimit.unit },
    action: r.rateLimit.mode === 'enforce' ? BLOCK_429 : { count: {} },
    statement: r.statement,
  }));
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

function rulePlan(s: RuleSpec, kind: WafRuleKind, priority: number): WafRulePlan {
  return {
    name: s.name,
    priority,
    kind,
    provenance: s.provenance,
    description: s.description,
    ...(s.rateLimit ? { rateLimit: s.rateLimit } : {}),
    action: s.action,
    statement: s.statement,
    visibilityConfig: { cloudwatchMetricsEnabled: true, metricName: s.name, sampledRequestsEnabled: true },
  };
}

/** `Lockdown/stuffing-2026-11-20` → `lockdown-stuffing-2026-11-20` (valid in WAF names). */
export function slug(provenance: string): string {
  return provenance.toLowerCase().replace(/[^a-z0-9_-]+/g, '-');
}

function provenances(networks: readonly NetworkRuleIR[]): string[] {
  return sortedUnique(networks.map((n) => n.provenance));
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
