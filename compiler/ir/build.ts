/**
 * Model → IR, the third stage: resolves one validated policy model for an instant `now` into the IR
 * every enforcement layer reads. Pure: no clock, no I/O. Per environment it applies overrides and
 * the lockdowns active at `now`; everything else is computed once and shared between environments
 * (IR objects are immutable, so a route no overlay touches is the same object in every environment).
 */
import type { LockdownAction, RateUnit } from '../model/schema';
import { parseCidr } from '../model/cidr';
import { UNIT_SECONDS } from '../model/schema';
import {
  subjectOf,
  type AccessDocument,
  type EnvironmentDocument,
  type LockdownDocument,
  type PolicyModel,
  type RateLimitDocument,
  type RouteDocument,
  type ServiceDocument,
} from '../model/types';
import type {
  AccessRuleIR,
  CloudIR,
  EndpointIR,
  EnvironmentIR,
  HeaderMatchIR,
  JwtProviderIR,
  ListenerIR,
  LockdownSummaryIR,
  NetworkRuleIR,
  PolicyIR,
  QuarantinedEndpointIR,
  RateLimitIR,
  RateLimitKeyIR,
  RateLimitServiceIR,
  RevokedTokensIR,
  RouteAccessIR,
  RouteIR,
  ServiceIR,
  TriggerIR,
} from './ir';
import { triggersFor } from './trigger';
import { compareText, routeSortKey } from './route-order';

/**
 * Compiles a validated model for the instant `now`. `memo` (from `createIrMemo`) lets repeated builds
 * of a slowly changing model reuse the IR of unchanged documents: the result is identical with or
 * without it; the incremental compiler passes one.
 */
export function buildIR(model: PolicyModel, now: Date, memo: IrMemo = createIrMemo()): PolicyIR {
  const nowMs = now.getTime();
  const base = buildBase(model, memo);
  for (const name of memo.environments.keys()) if (!model.environments.some((e) => e.name === name)) memo.environments.delete(name);
  return {
    irVersion: 1,
    compiledAt: now.toISOString(),
    nextChangeAt: nextChange(model.lockdowns, nowMs),
    environments: model.environments.map((env) => {
      let envMemo = memo.environments.get(env.name);
      if (!envMemo) memo.environments.set(env.name, (envMemo = createEnvironmentMemo()));
      return buildEnvironment(base, env, activeLockdowns(model.lockdowns, env.name, nowMs), envMemo, triggersFor(model.triggers, env.name));
    }),
  };
}

/**
 * IR pieces of earlier builds, keyed by document identity (documents are immutable; the incremental
 * compiler hands the same objects for unchanged files). Opaque to callers.
 */
export interface IrMemo {
  readonly services: WeakMap<ServiceDocument, ServiceIR>;
  readonly rateLimits: WeakMap<RateLimitDocument, RateLimitIR>;
  readonly routes: WeakMap<RouteDocument, MemoRoute>;
  access: { readonly accesses: readonly AccessDocument[]; readonly index: AccessIndex } | null;
  limits: { readonly rateLimits: readonly RateLimitDocument[]; readonly index: LimitIndex } | null;
  order: { readonly keys: ReadonlyMap<string, string>; readonly names: readonly string[]; readonly position: ReadonlyMap<string, number> } | null;
  /** The base routes array of the last build, reused while it holds the same route objects. */
  routeIRs: readonly RouteIR[] | null;
  /** Per environment name: what overrides and lockdowns made of base objects in the last build. */
  readonly environments: Map<string, EnvironmentMemo>;
}

/**
 * What overrides and active lockdowns made of each base object in one environment's last build,
 * with a key spelling the overlay that applied: the same base object under the same overlay gets
 * the same object back, so the translator's identity memos keep hitting while a lockdown is active.
 * One entry per base object (the latest), so lockdowns that come and go do not accumulate entries.
 */
interface EnvironmentMemo {
  readonly routes: WeakMap<RouteIR, Keyed<RouteIR>>;
  readonly services: WeakMap<ServiceDocument, Keyed<ServiceIR>>;
  readonly rateLimits: WeakMap<RateLimitDocument, Keyed<RateLimitIR>>;
  /** Overlaid accesses (see `overlaidAccessOf`). */
  accesses: AccessTables;
  /** The last build's base routes, the environment's routes made from them, and the overlay that made them. */
  last: { readonly overlay: string; readonly base: readonly RouteIR[]; readonly routes: readonly RouteIR[] } | null;
}

interface Keyed<V> {
  readonly key: string;
  readonly value: V;
}

/**
 * Overlaid accesses by (base access, overlay key); several keys per base access, since routes share
 * accesses. Kept while the environment's overlay stays the same; when it changes, a new table
 * starts and takes from the old one what the new overlay still makes (e.g. the every-route blocks
 * when a lockdown adds a disabled route), so lockdowns that come and go do not accumulate entries.
 */
interface AccessTables {
  readonly overlay: string;
  readonly previous: WeakMap<RouteAccessIR, Map<string, RouteAccessIR>>;
  readonly current: WeakMap<RouteAccessIR, Map<string, RouteAccessIR>>;
}

function createEnvironmentMemo(): EnvironmentMemo {
  return { routes: new WeakMap(), services: new WeakMap(), rateLimits: new WeakMap(), accesses: { overlay: '', previous: new WeakMap(), current: new WeakMap() }, last: null };
}

/** The object made last time from `base` when it was made under the same `key`, else a new one. */
function keyed<K extends object, V>(table: WeakMap<K, Keyed<V>>, base: K, key: string, make: () => V): V {
  const known = table.get(base);
  if (known !== undefined && known.key === key) return known.value;
  const value = make();
  table.set(base, { key, value });
  return value;
}

/** `next`, or `last` when it holds the very same objects (so identity memos downstream hit). */
function sameArray<T>(last: readonly T[] | null, next: readonly T[]): readonly T[] {
  return last !== null && sameItems(last, next) ? last : next;
}

/** Rate limits indexed by route, and routes by rate limit. */
interface LimitIndex {
  readonly rateLimitIR: ReadonlyMap<string, RateLimitIR>;
  /** The base RateLimitIR of each route, in document (name) order. */
  readonly irOfRoute: ReadonlyMap<string, readonly RateLimitIR[]>;
  readonly routesOfLimit: ReadonlyMap<string, readonly string[]>;
  /** RateLimitIR by content, so an unchanged limit keeps its object when its file is edited. */
  readonly interned: ReadonlyMap<string, RateLimitIR>;
}

interface MemoRoute {
  readonly service: ServiceDocument | undefined;
  readonly access: RouteAccessIR;
  readonly limits: readonly RateLimitIR[];
  readonly ir: RouteIR;
  readonly key: string;
}

export function createIrMemo(): IrMemo {
  return {
    services: new WeakMap(),
    rateLimits: new WeakMap(),
    routes: new WeakMap(),
    access: null,
    limits: null,
    order: null,
    routeIRs: null,
    environments: new Map(),
  };
}

/** True while `createdAt <= now < expiresAt`. */
export function isLockdownActive(l: LockdownDocument, nowMs: number): boolean {
  return Date.parse(l.spec.createdAt) <= nowMs && nowMs < Date.parse(l.spec.expiresAt);
}

function activeLockdowns(lockdowns: readonly LockdownDocument[], env: string, nowMs: number): LockdownDocument[] {
  return lockdowns.filter((l) => l.spec.environments.includes(env) && isLockdownActive(l, nowMs));
}

/** Earliest start or expiry of any lockdown strictly after `now`. */
function nextChange(lockdowns: readonly LockdownDocument[], nowMs: number): string | null {
  let next = Infinity;
  for (const l of lockdowns) {
    for (const t of [Date.parse(l.spec.createdAt), Date.parse(l.spec.expiresAt)]) if (t > nowMs && t < next) next = t;
  }
  return Number.isFinite(next) ? new Date(next).toISOString() : null;
}

// ---------------------------------------------------------------------------------------------
// Environment-independent part, computed once per build

interface Base {
  readonly services: readonly ServiceDocument[];
  readonly serviceIR: ReadonlyMap<string, ServiceIR>;
  readonly rateLimits: ReadonlyMap<string, RateLimitDocument>;
  readonly limits: LimitIndex;
  /**
   * The base IR of the routes (no overrides, no lockdowns) in match order: the array environments
   * without overlays share, the same array as the last build's while no route changed.
   */
  readonly routeIRs: readonly RouteIR[];
  /** Index of each route (by name) in `routeIRs`. */
  readonly position: ReadonlyMap<string, number>;
  readonly providers: readonly JwtProviderIR[];
  readonly providerNames: readonly string[];
  readonly revoked: RevokedTokensIR;
}

function buildBase(model: PolicyModel, memo: IrMemo): Base {
  const serviceIR = new Map(model.services.map((s) => [s.name, cached(memo.services, s, () => serviceToIR(s, s.spec.endpoints, [], null))]));
  const rateLimits = new Map(model.rateLimits.map((l) => [l.name, l]));
  if (!memo.limits || !sameItems(memo.limits.rateLimits, model.rateLimits)) {
    memo.limits = { rateLimits: model.rateLimits, index: indexLimits(model.rateLimits, memo, memo.limits?.index.interned) };
  }
  const limits = memo.limits.index;
  if (!memo.access || !sameItems(memo.access.accesses, model.accesses)) {
    memo.access = { accesses: model.accesses, index: indexAccess(model.accesses, memo.access?.index.interned) };
  }
  const access = memo.access.index;
  const services = new Map(model.services.map((s) => [s.name, s]));
  const routes = model.routes.map((doc) => {
    const service = services.get(doc.spec.service);
    const routeAccess = accessOf(access, doc.name);
    const routeLimits = limits.irOfRoute.get(doc.name) ?? NO_LIMITS;
    const before = memo.routes.get(doc);
    if (before && before.service === service && before.access === routeAccess && sameItems(before.limits, routeLimits)) return { doc, ir: before.ir, key: before.key };
    const ir = routeToIR(doc, service, routeAccess, routeLimits);
    const key = routeSortKey(ir);
    memo.routes.set(doc, { service, access: routeAccess, limits: routeLimits, ir, key });
    return { doc, ir, key };
  });
  const ordered = matchOrder(routes, memo);
  return {
    services: model.services,
    serviceIR,
    rateLimits,
    limits,
    routeIRs: (memo.routeIRs = sameArray(memo.routeIRs, ordered.map((r) => r.ir))),
    position: memo.order?.position ?? new Map(),
    providers: access.providers,
    providerNames: access.providerNames,
    revoked: {
      jtis: sortedUnique(model.accesses.flatMap((a) => a.spec.revoked.jtis)),
      subjects: sortedUnique(model.accesses.flatMap((a) => a.spec.revoked.subjects)),
    },
  };
}

const NO_LIMITS: readonly RateLimitIR[] = [];

function indexLimits(rateLimits: readonly RateLimitDocument[], memo: IrMemo, previous: ReadonlyMap<string, RateLimitIR> = new Map()): LimitIndex {
  const interned = new Map<string, RateLimitIR>();
  const rateLimitIR = new Map(
    rateLimits.map((l) => {
      const content = JSON.stringify([l.name, l.spec.requests, l.spec.per, l.spec.mode, l.spec.key]);
      const ir = previous.get(content) ?? cached(memo.rateLimits, l, () => rateLimitToIR(l, l.spec.requests, l.spec.per, l.spec.mode, subjectOf(l)));
      interned.set(content, ir);
      return [l.name, ir];
    }),
  );
  const irOfRoute = new Map<string, RateLimitIR[]>();
  const routesOfLimit = new Map<string, string[]>();
  for (const l of rateLimits) {
    const ir = rateLimitIR.get(l.name);
    const routes = [...new Set(l.spec.routes)];
    routesOfLimit.set(l.name, routes);
    for (const route of routes) {
      const irs = irOfRoute.get(route);
      if (ir && irs) irs.push(ir);
      else if (ir) irOfRoute.set(route, [ir]);
    }
  }
  return { rateLimitIR, irOfRoute, routesOfLimit, interned };
}

/**
 * Routes in `compareRoutes` order, sorted through one precomputed string key per route. When no
 * route was added, removed or re-keyed since the last build, the last order is reused.
 */
function matchOrder<T extends { readonly doc: RouteDocument; readonly key: string }>(routes: readonly T[], memo: IrMemo): T[] {
  const last = memo.order;
  if (last && last.names.length === routes.length && routes.every((r) => last.keys.get(r.doc.name) === r.key)) {
    const out = new Array<T>(routes.length);
    for (const r of routes) out[last.position.get(r.doc.name) ?? 0] = r;
    return out;
  }
  const sorted = [...routes].sort((a, b) => compareText(a.key, b.key));
  memo.order = {
    keys: new Map(sorted.map((r) => [r.doc.name, r.key])),
    names: sorted.map((r) => r.doc.name),
    position: new Map(sorted.map((r, i) => [r.doc.name, i])),
  };
  return sorted;
}

function cached<K extends object, V>(map: WeakMap<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Access rules and networks of all Access documents, indexed by route. */
interface AccessIndex {
  readonly providers: readonly JwtProviderIR[];
  readonly providerNames: readonly string[];
  readonly rules: readonly AccessRuleIR[];
  readonly networks: readonly { readonly allow: boolean; readonly rule: NetworkRuleIR }[];
  /** Per route: ids of its rules, and of its route-specific networks. */
  readonly ruleIds: ReadonlyMap<string, readonly number[]>;
  readonly networkIds: ReadonlyMap<string, readonly number[]>;
  readonly everyRouteNetworks: readonly number[];
  readonly needsToken: ReadonlySet<string>;
  /** One RouteAccessIR per distinct combination, shared by every route with it. */
  readonly shared: Map<string, RouteAccessIR>;
  /** The access of each route, once computed. */
  readonly byRoute: Map<string, RouteAccessIR>;
  /** RouteAccessIR by content: this index's, and the previous index's (reused when equal). */
  readonly interned: Map<string, RouteAccessIR>;
  readonly previous: ReadonlyMap<string, RouteAccessIR>;
}

/**
 * Documents are sorted by name and rules kept in document order, so a route's rules come out sorted
 * by provenance then index.
 */
function indexAccess(accesses: readonly AccessDocument[], previous: ReadonlyMap<string, RouteAccessIR> = new Map()): AccessIndex {
  const providers = accesses.flatMap((a) => a.spec.providers.map(providerToIR)).sort((a, b) => compareText(a.name, b.name));
  const rules: AccessRuleIR[] = [];
  const networks: { readonly allow: boolean; readonly rule: NetworkRuleIR }[] = [];
  const ruleIds = new Map<string, number[]>();
  const networkIds = new Map<string, number[]>();
  const everyRouteNetworks: number[] = [];
  const needsToken = new Set<string>();
  const push = (map: Map<string, number[]>, key: string, id: number) => {
    const list = map.get(key);
    if (list) list.push(id);
    else map.set(key, [id]);
  };
  for (const a of accesses) {
    const provenance = subjectOf(a);
    for (const rule of a.spec.rules) {
      const id = rules.push({ methods: sortedUnique(rule.methods ?? []), roles: sortedUnique(rule.roles ?? []), provenance }) - 1;
      for (const route of new Set(rule.routes)) {
        push(ruleIds, route, id);
        if (rule.public !== true) needsToken.add(route);
      }
    }
    for (const side of ['allow', 'deny'] as const) {
      for (const n of a.spec.networks[side]) {
        const id = networks.push({ allow: side === 'allow', rule: { cidr: n.cidr, provenance } }) - 1;
        if (!n.routes) everyRouteNetworks.push(id);
        else for (const route of new Set(n.routes)) push(networkIds, route, id);
      }
    }
  }
  return { providers, providerNames: providers.map((p) => p.name), rules, networks, ruleIds, networkIds, everyRouteNetworks, needsToken, shared: new Map(), byRoute: new Map(), interned: new Map(), previous };
}

/** The access of one route; routes with the same rules and networks get the same object. */
function accessOf(index: AccessIndex, route: string): RouteAccessIR {
  const known = index.byRoute.get(route);
  if (known) return known;
  const jwt = index.needsToken.has(route);
  const mine = index.ruleIds.get(route) ?? [];
  const nets = index.networkIds.get(route);
  const key = `${jwt ? 1 : 0}|${mine.join(',')}|${nets ? nets.join(',') : ''}`;
  let access = index.shared.get(key);
  if (!access) {
    const all = nets ? [...index.everyRouteNetworks, ...nets] : index.everyRouteNetworks;
    const pick = (allow: boolean) => all.flatMap((id) => (index.networks[id]?.allow === allow ? [index.networks[id].rule] : []));
    const fresh: RouteAccessIR = {
      authentication: jwt ? 'jwt' : 'none',
      providers: jwt ? index.providerNames : [],
      rules: mine.map((id) => index.rules[id]).filter((r): r is AccessRuleIR => r !== undefined),
      allowedNetworks: sortNetworks(pick(true)),
      deniedNetworks: sortNetworks(pick(false)),
    };
    // An edit to an Access file keeps the objects of routes whose access did not change.
    const content = JSON.stringify(fresh);
    access = index.interned.get(content) ?? index.previous.get(content) ?? fresh;
    index.interned.set(content, access);
    index.shared.set(key, access);
  }
  index.byRoute.set(route, access);
  return access;
}

// ---------------------------------------------------------------------------------------------
// Per environment

function buildEnvironment(
  base: Base,
  env: EnvironmentDocument,
  lockdowns: readonly LockdownDocument[],
  memo: EnvironmentMemo,
  triggers: readonly TriggerIR[],
): EnvironmentIR {
  const actions = lockdowns.flatMap((l) => l.spec.actions.map((action) => ({ action, provenance: subjectOf(l) })));
  const ofType = <T extends LockdownAction['type']>(type: T) =>
    actions.filter((a): a is { action: Extract<LockdownAction, { type: T }>; provenance: string } => a.action.type === type);

  const services = base.services.map((s) => environmentService(base, s, env, ofType('quarantineEndpoint'), ofType('forceFailover'), memo));
  const limits = environmentRateLimits(base, env, ofType('tightenRateLimit'), memo);

  const disabled = new Map<string, RouteIR['disabled']>();
  for (const { action, provenance } of ofType('disableRoute')) {
    if (!disabled.has(action.route)) disabled.set(action.route, { status: action.status, body: action.body, provenance });
  }
  const roles = new Map<string, AccessRuleIR>();
  for (const { action, provenance } of ofType('requireRole')) {
    const rule: AccessRuleIR = { methods: [], roles: sortedUnique(action.roles), provenance };
    for (const route of action.routes) if (!roles.has(route)) roles.set(route, rule);
  }
  const blocks = ofType('blockNetworks');
  const blockAll = blocks.filter((b) => !b.action.routes).flatMap((b) => b.action.cidrs.map((cidr) => ({ cidr, provenance: b.provenance })));
  const blockRoute = new Map<string, NetworkRuleIR[]>();
  for (const { action, provenance } of blocks) {
    for (const route of new Set(action.routes ?? [])) {
      const list = blockRoute.get(route) ?? [];
      list.push(...action.cidrs.map((cidr) => ({ cidr, provenance })));
      blockRoute.set(route, list);
    }
  }
  // Everything `rebuild` below reads besides the route: while it and a base route are the same as in
  // the last build, so is the environment's route (then a lockdown on every route costs an identity
  // check per route, no lookups).
  const overlaid = blockAll.length > 0 || blockRoute.size > 0 || roles.size > 0 || disabled.size > 0 || limits.size > 0;
  const overlay = overlaid ? JSON.stringify([blockAll, [...blockRoute], [...roles], [...disabled], [...limits], base.providerNames]) : '';
  if (memo.accesses.overlay !== overlay) memo.accesses = { overlay, previous: memo.accesses.current, current: new WeakMap() };
  // The overlay key of routes that only every-route blocks touch (all routes but a few), made once.
  const blockAllKey = blockAll.length ? accessOverlayKey(null, base.providerNames, blockAll) : '';

  // Only routes an override or a lockdown touches get other IR than the base objects; of those, a
  // route whose base object and overlay are the same as in the last build gets its last object.
  // Reads nothing but the base route and the overlay (the route's rate limits come from its IR).
  const rebuild = (ir: RouteIR): RouteIR => {
    const changedLimits = limits.size > 0 && ir.rateLimits.some((l) => limits.has(l.name));
    const blockedHere = blockRoute.get(ir.name);
    const role = roles.get(ir.name);
    const off = disabled.get(ir.name) ?? null;
    if (!changedLimits && blockAll.length === 0 && !blockedHere && !role && !off) return ir;
    const denied = blockedHere ? [...blockAll, ...blockedHere] : blockAll;
    const accessKey = !role && !blockedHere ? blockAllKey : accessOverlayKey(role ?? null, base.providerNames, denied);
    const rateLimits = changedLimits ? ir.rateLimits.map((l) => limits.get(l.name) ?? l) : ir.rateLimits;
    // JSON never holds a raw U+0001, so a key with parts cannot equal an access key alone.
    const key = !off && !changedLimits ? accessKey : `${accessKey}\u0001${JSON.stringify(off)}\u0001${changedLimits ? JSON.stringify(rateLimits) : ''}`;
    // Looked up even when the route is reused, so a new access table gets it.
    const access = overlaidAccessOf(memo.accesses, ir.access, accessKey, role ?? null, base.providerNames, denied);
    return keyed(memo.routes, ir, key, () => ({ ...ir, disabled: off, access, rateLimits }));
  };
  const last = memo.last;
  let routes: readonly RouteIR[];
  // Without overlays, environments share the base array (the translator then translates it once).
  if (!overlaid) routes = base.routeIRs;
  else if (last && last.overlay === overlay && last.base.length === base.routeIRs.length) {
    if (last.base === base.routeIRs) routes = last.routes;
    else {
      const copy = last.routes.slice();
      base.routeIRs.forEach((ir, i) => {
        if (ir !== last.base[i]) copy[i] = rebuild(ir);
      });
      routes = copy;
    }
  } else if (blockAll.length > 0) {
    routes = base.routeIRs.map(rebuild);
  } else {
    const touched = new Set<string>([...blockRoute.keys(), ...roles.keys(), ...disabled.keys()]);
    for (const name of limits.keys()) for (const route of base.limits.routesOfLimit.get(name) ?? []) touched.add(route);
    const positions = [...touched].map((name) => base.position.get(name)).filter((i): i is number => i !== undefined);
    if (positions.length === 0) routes = base.routeIRs;
    else {
      const copy = base.routeIRs.slice();
      for (const i of positions) {
        const ir = base.routeIRs[i];
        if (ir) copy[i] = rebuild(ir);
      }
      routes = copy;
    }
  }
  if (routes !== base.routeIRs) routes = sameArray(last?.routes ?? null, routes);
  memo.last = overlaid ? { overlay, base: base.routeIRs, routes } : null;

  const revokes = ofType('revokeTokens');
  return {
    name: env.name,
    fleets: sortedUnique(env.spec.fleets),
    listener: listenerToIR(env),
    cloud: cloudToIR(env),
    ...rateLimitServiceToIR(env),
    services,
    routes,
    jwtProviders: base.providers,
    revokedTokens: revokes.length
      ? {
          jtis: sortedUnique([...base.revoked.jtis, ...revokes.flatMap((r) => r.action.jtis)]),
          subjects: sortedUnique([...base.revoked.subjects, ...revokes.flatMap((r) => r.action.subjects)]),
        }
      : base.revoked,
    activeLockdowns: lockdowns.map(summaryOf),
    triggers,
  };
}

/**
 * Spells every input of `overlaidAccessOf` besides the base access: the required role (with the
 * provider names it brings in) and the denied networks, in the order given.
 */
function accessOverlayKey(role: AccessRuleIR | null, providerNames: readonly string[], denied: readonly NetworkRuleIR[]): string {
  return JSON.stringify([role ? [role, providerNames] : null, denied]);
}

/**
 * A route's access under a lockdown: a required role replaces its rules (and requires a token), and
 * blocked networks join its denied ones. Routes with the same base access and overlay share one
 * object, within a build and across builds.
 */
function overlaidAccessOf(
  tables: AccessTables,
  access: RouteAccessIR,
  key: string,
  role: AccessRuleIR | null,
  providerNames: readonly string[],
  denied: readonly NetworkRuleIR[],
): RouteAccessIR {
  if (!role && denied.length === 0) return access;
  let mine = tables.current.get(access);
  if (!mine) tables.current.set(access, (mine = new Map()));
  let overlaid = mine.get(key);
  if (overlaid) return overlaid;
  overlaid = tables.previous.get(access)?.get(key);
  if (!overlaid) {
    overlaid = role ? { ...access, authentication: 'jwt', providers: providerNames, rules: [role] } : access;
    if (denied.length) overlaid = { ...overlaid, deniedNetworks: sortNetworks([...overlaid.deniedNetworks, ...denied]) };
  }
  mine.set(key, overlaid);
  return overlaid;
}

function environmentService(
  base: Base,
  s: ServiceDocument,
  env: EnvironmentDocument,
  quarantines: readonly { action: Extract<LockdownAction, { type: 'quarantineEndpoint' }>; provenance: string }[],
  failovers: readonly { action: Extract<LockdownAction, { type: 'forceFailover' }>; provenance: string }[],
  memo: EnvironmentMemo,
): ServiceIR {
  const override = env.spec.overrides.services[s.name];
  const mine = quarantines.filter((q) => q.action.service === s.name);
  // The highest forced tier wins: it leaves out the most (lockdowns are sorted by name, so ties go to the first).
  let failover: ServiceIR['forcedFailover'] = null;
  for (const f of failovers) if (f.action.service === s.name && (!failover || f.action.tier > failover.tier)) failover = { tier: f.action.tier, provenance: f.provenance };
  if (!override && mine.length === 0 && !failover) return base.serviceIR.get(s.name) ?? serviceToIR(s, s.spec.endpoints, [], null);
  const endpoints = override?.endpoints ?? s.spec.endpoints;
  // Besides the document, the IR below reads only these (quarantines in order: the first match names the provenance).
  const key = JSON.stringify([override?.endpoints ?? null, mine.map((q) => [q.action.address, q.action.port, q.provenance]), failover]);
  return keyed(memo.services, s, key, () => {
    const quarantined: QuarantinedEndpointIR[] = [];
    const serving = endpoints.filter((e) => {
      const q = mine.find((m) => m.action.address === e.address && m.action.port === e.port);
      if (q && !quarantined.some((x) => x.address === e.address && x.port === e.port)) quarantined.push({ address: e.address, port: e.port, provenance: q.provenance });
      return !q;
    });
    return serviceToIR(s, serving, quarantined, failover);
  });
}

/** RateLimit IR that differ from the base in this environment (override, then the tightest active lockdown). */
function environmentRateLimits(
  base: Base,
  env: EnvironmentDocument,
  tightens: readonly { action: Extract<LockdownAction, { type: 'tightenRateLimit' }>; provenance: string }[],
  memo: EnvironmentMemo,
): Map<string, RateLimitIR> {
  interface Limit {
    readonly doc: RateLimitDocument;
    readonly requests: number;
    readonly unit: RateUnit;
    readonly mode: 'enforce' | 'shadow';
    readonly provenance: string;
  }
  const changed = new Map<string, Limit>();
  for (const [name, o] of Object.entries(env.spec.overrides.rateLimits)) {
    const doc = base.rateLimits.get(name);
    if (doc) changed.set(name, { doc, requests: o.requests ?? doc.spec.requests, unit: o.per ?? doc.spec.per, mode: doc.spec.mode, provenance: subjectOf(doc) });
  }
  // Validation made every tightening tighter than the limit it tightens; of several, the tightest wins.
  const tightened = new Set<string>();
  for (const { action, provenance } of tightens) {
    const doc = base.rateLimits.get(action.rateLimit);
    const current = changed.get(action.rateLimit) ?? base.limits.rateLimitIR.get(action.rateLimit);
    if (!doc || !current) continue;
    const per = action.per ?? env.spec.overrides.rateLimits[doc.name]?.per ?? doc.spec.per;
    if (tightened.has(action.rateLimit) && rate(action.requests, per) >= rate(current.requests, current.unit)) continue;
    changed.set(action.rateLimit, { doc, requests: action.requests, unit: per, mode: 'enforce', provenance });
    tightened.add(action.rateLimit);
  }
  const out = new Map<string, RateLimitIR>();
  for (const [name, l] of changed) {
    const key = JSON.stringify([l.requests, l.unit, l.mode, l.provenance]);
    out.set(name, keyed(memo.rateLimits, l.doc, key, () => rateLimitToIR(l.doc, l.requests, l.unit, l.mode, l.provenance)));
  }
  return out;
}

function rate(requests: number, per: RateUnit): number {
  return requests / UNIT_SECONDS[per];
}

// ---------------------------------------------------------------------------------------------
// Documents → IR pieces

function serviceToIR(
  s: ServiceDocument,
  serving: readonly { address: string; port: number; tier: number }[],
  quarantined: readonly QuarantinedEndpointIR[],
  failover: ServiceIR['forcedFailover'],
): ServiceIR {
  const kept = failover ? serving.filter((e) => e.tier >= failover.tier) : serving;
  // Envoy priorities must be contiguous from 0: renumber the tiers that are left.
  const tiers = [...new Set(kept.map((e) => e.tier))].sort((a, b) => a - b);
  const endpoints: EndpointIR[] = kept
    .map((e) => ({ address: e.address, port: e.port, tier: e.tier, priority: tiers.indexOf(e.tier) }))
    .sort((a, b) => a.priority - b.priority || compareText(a.address, b.address) || a.port - b.port);
  const spec = s.spec;
  return {
    name: s.name,
    protocol: spec.protocol,
    connectTimeoutMs: spec.timeouts.connect,
    requestTimeoutMs: spec.timeouts.request,
    endpoints,
    quarantined: [...quarantined].sort((a, b) => compareText(a.address, b.address) || a.port - b.port),
    forcedFailover: failover,
    healthCheck: spec.healthCheck
      ? {
          path: spec.healthCheck.path,
          host: spec.healthCheck.host ?? null,
          intervalMs: spec.healthCheck.interval,
          timeoutMs: spec.healthCheck.timeout,
          healthyThreshold: spec.healthCheck.healthyThreshold,
          unhealthyThreshold: spec.healthCheck.unhealthyThreshold,
          expectedStatuses: [...new Set(spec.healthCheck.expectedStatuses)].sort((a, b) => a - b),
        }
      : null,
    outlierDetection: spec.outlierDetection
      ? {
          consecutive5xx: spec.outlierDetection.consecutive5xx,
          intervalMs: spec.outlierDetection.interval,
          baseEjectionTimeMs: spec.outlierDetection.baseEjectionTime,
          maxEjectionPercent: spec.outlierDetection.maxEjectionPercent,
        }
      : null,
    circuitBreaker: { ...spec.circuitBreaker },
    tls: spec.tls ? { sni: spec.tls.sni ?? null, caFile: spec.tls.caFile, subjectAltNames: sortedUnique(spec.tls.subjectAltNames) } : null,
  };
}

function routeToIR(doc: RouteDocument, service: ServiceDocument | undefined, access: RouteAccessIR, rateLimits: readonly RateLimitIR[]): RouteIR {
  const s = doc.spec;
  const path =
    s.path.exact !== undefined
      ? { kind: 'exact' as const, value: s.path.exact }
      : s.path.prefix !== undefined
        ? { kind: 'prefix' as const, value: s.path.prefix }
        : { kind: 'regex' as const, value: s.path.regex ?? '' };
  const headers: HeaderMatchIR[] = s.headers
    .map((h): HeaderMatchIR => ({
      name: h.name,
      match:
        h.present !== undefined
          ? { kind: 'present' }
          : h.exact !== undefined
            ? { kind: 'exact', value: h.exact }
            : h.prefix !== undefined
              ? { kind: 'prefix', value: h.prefix }
              : { kind: 'regex', value: h.regex ?? '' },
      invert: h.invert,
    }))
    .sort((a, b) => compareText(a.name, b.name) || compareText(JSON.stringify(a), JSON.stringify(b)));
  return {
    name: doc.name,
    host: s.host,
    match: { path, methods: sortedUnique(s.methods ?? []), headers },
    service: s.service,
    timeoutMs: s.timeout ?? service?.spec.timeouts.request ?? 15000,
    retries: s.retries ? { attempts: s.retries.attempts, perTryTimeoutMs: s.retries.perTryTimeout ?? null, on: sortedUnique(s.retries.on) } : null,
    disabled: null,
    access,
    rateLimits,
  };
}

function rateLimitToIR(doc: RateLimitDocument, requests: number, unit: RateUnit, mode: 'enforce' | 'shadow', provenance: string): RateLimitIR {
  const scope = doc.spec.scope;
  const onServiceFailure = scope === 'fleet' ? (doc.spec.onServiceFailure ?? 'allow') : 'allow';
  return { name: doc.name, requests, unit, key: keyToIR(doc.spec.key), mode, scope, onServiceFailure, provenance };
}

/** The environment's rate-limit service; absent when it sets none (then it has no fleet limits: validation). */
function rateLimitServiceToIR(env: EnvironmentDocument): { rateLimitService?: RateLimitServiceIR } {
  const s = env.spec.rateLimitService;
  if (s === undefined) return {};
  return { rateLimitService: { address: s.address, port: s.port, timeoutMs: s.timeout, domain: `portcullis-${env.name}` } };
}

function keyToIR(key: RateLimitDocument['spec']['key']): RateLimitKeyIR {
  switch (key.type) {
    case 'clientIp':
      return { kind: 'client-ip' };
    case 'clientNetwork':
      return { kind: 'client-network', ipv4PrefixLength: key.ipv4PrefixLength, ipv6PrefixLength: key.ipv6PrefixLength };
    case 'header':
      return { kind: 'header', name: key.name };
    case 'jwtClaim':
      return { kind: 'jwt-claim', claim: key.claim };
    case 'route':
      return { kind: 'route' };
  }
}

function providerToIR(p: AccessDocument['spec']['providers'][number]): JwtProviderIR {
  return {
    name: p.name,
    issuer: p.issuer,
    audiences: sortedUnique(p.audiences),
    jwks: p.jwks,
    requireExpiration: p.requireExpiration,
    maxLifetimeMs: p.maxLifetime ?? null,
    clockSkewMs: p.clockSkew,
    rolesClaim: p.rolesClaim,
  };
}

function listenerToIR(env: EnvironmentDocument): ListenerIR {
  const l = env.spec.listener;
  return {
    address: l.address,
    port: l.port,
    xffNumTrustedHops: l.xffNumTrustedHops,
    idleTimeoutMs: l.idleTimeout,
    streamIdleTimeoutMs: l.streamIdleTimeout,
    requestTimeoutMs: l.requestTimeout,
    requestHeadersTimeoutMs: l.requestHeadersTimeout,
    perConnectionBufferLimitBytes: l.perConnectionBufferLimitBytes,
    maxRequestHeadersKb: l.maxRequestHeadersKb,
    rateLimitMaxDynamicDescriptors: l.rateLimitKeys,
  };
}

function cloudToIR(env: EnvironmentDocument): CloudIR | null {
  const c = env.spec.cloud;
  if (!c) return null;
  return {
    region: c.region,
    wafScope: c.waf.scope,
    apiGatewayStageArns: sortedUnique(c.apiGatewayStages),
    loadBalancerArns: sortedUnique(c.loadBalancers),
    clientIpSource:
      c.clientIp.source === 'forwardedHeader' ? { kind: 'forwarded-header', header: c.clientIp.header ?? 'x-forwarded-for' } : { kind: 'source-ip' },
  };
}

function summaryOf(l: LockdownDocument): LockdownSummaryIR {
  return {
    name: l.name,
    reason: l.spec.reason,
    owner: l.spec.owner,
    createdAt: l.spec.createdAt,
    expiresAt: l.spec.expiresAt,
    actions: l.spec.actions.map((a) => a.type),
  };
}

/** Sorted by network (IPv4 first, then by address, then prefix length), one entry per network (the first provenance wins). */
function sortNetworks(list: readonly NetworkRuleIR[]): NetworkRuleIR[] {
  if (list.length === 0) return [];
  const sorted = [...list].sort((a, b) => compareCidr(a.cidr, b.cidr) || compareText(a.provenance, b.provenance));
  return sorted.filter((n, i) => i === 0 || sorted[i - 1]?.cidr !== n.cidr);
}

function compareCidr(a: string, b: string): number {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x.ok || !y.ok) return compareText(a, b); // not reached: the model holds canonical CIDRs
  const n = x.network;
  const m = y.network;
  if (n.family !== m.family) return n.family - m.family;
  for (let i = 0; i < n.bytes.length; i++) if (n.bytes[i] !== m.bytes[i]) return (n.bytes[i] ?? 0) - (m.bytes[i] ?? 0);
  return n.prefixLength - m.prefixLength;
}

function sortedUnique<T extends string>(values: readonly T[]): T[] {
  return [...new Set(values)].sort(compareText);
}
