/**
 * Access documents → the access of each route (JWT requirement, rules, allowed and denied
 * networks), and a route's access under a lockdown overlay. Part of the IR builder; pure but for
 * the content interning that keeps unchanged accesses the same objects across builds.
 */
import { subjectOf, type AccessDocument } from '../model/types';
import { compareText, sortedUnique } from '../text-order';
import type { AccessRuleIR, JwtProviderIR, NetworkRuleIR, RouteAccessIR } from './ir';
import { overlaidAccess } from './lockdowns';
import type { AccessTables } from './memo';
import { sortNetworks } from './networks';

/** Access rules and networks of all Access documents, indexed by route. */
export interface AccessIndex {
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
export function indexAccess(accesses: readonly AccessDocument[], previous: ReadonlyMap<string, RouteAccessIR> = new Map()): AccessIndex {
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
export function accessOf(index: AccessIndex, route: string): RouteAccessIR {
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

/**
 * Spells every input of `overlaidAccessOf` besides the base access: the required role (with the
 * provider names it brings in) and the denied networks, in the order given.
 */
export function accessOverlayKey(role: AccessRuleIR | null, providerNames: readonly string[], denied: readonly NetworkRuleIR[]): string {
  return JSON.stringify([role ? [role, providerNames] : null, denied]);
}

/**
 * `overlaidAccess` (lockdowns.ts), memoised: routes with the same base access and overlay share one
 * object, within a build and across builds. `key` spells the overlay (accessOverlayKey).
 */
export function overlaidAccessOf(
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
  if (!overlaid) overlaid = overlaidAccess(access, role, providerNames, denied);
  mine.set(key, overlaid);
  return overlaid;
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
