/**
 * The route configuration (RDS): virtual hosts grouped by host, routes in IR match order, each
 * carrying its per-filter configs (JWT requirement, RBAC, rate limits) and the metadata naming its
 * client-network sets; client networks and revoked tokens once for the whole configuration; with
 * route scopes, one such configuration per scope (route-scopes.ts). Part of
 * the Envoy translator (IR → Envoy resources). Each route is translated once per RouteIR object
 * (see memo.ts).
 */
import type { EnvironmentIR, HeaderMatchIR, RouteAccessIR, RouteIR, RouteMatchIR } from '../ir/ir';
import { FILTER, anyOfRegex, duration, names } from './common';
import { clientAddressMetadata } from './client-address';
import { jwtPerRoute } from './jwt';
import { identityMemo } from './memo';
import { perFilterConfigs } from './http-filters';
import { rateLimitActions } from './rate-limit';
import { routeNetworks, type NetworkSet, type RouteNetworks } from './client-networks';
import { rbacContext, rbacPerRoute, type RbacContext } from './rbac';
import type { JsonObject } from './resources';
import { FALLBACK_KEY, SCOPE_HEADER, scopeTables, scopedRouteConfiguration } from './route-scopes';
import { shadowRoutes, type ShadowRoutes } from './shadow';
import { malformedXffRoutes } from './xff';

/**
 * Everything a route's JSON reads from its environment besides the route itself, and `key`, which
 * spells all of it: routes are memoised per (key, RouteIR), so whatever is read here must be in it.
 */
export interface RouteContext {
  readonly key: string;
  readonly rbac: RbacContext;
  /** Routes put first in every virtual host: the malformed X-Forwarded-For guard (xff.ts). */
  readonly guards: readonly JsonObject[];
  /** The listener's trusted X-Forwarded-For hops (per-client rate-limit keys depend on it). */
  readonly xffNumTrustedHops: number;
  /** The environment's shadow overlays by route (shadow.ts). */
  readonly shadow: ShadowRoutes;
}

export function routeContext(env: EnvironmentIR): RouteContext {
  const rbac = rbacContext(env);
  const hops = env.listener.xffNumTrustedHops;
  // Shadow overlays are few and short-lived: while one runs, the environment's routes are translated anew.
  const key = JSON.stringify([[...rbac.rolesClaims], hops, env.shadowOverlays ?? []]);
  return { key, rbac, guards: malformedXffRoutes(hops), xffNumTrustedHops: hops, shadow: shadowRoutes(env) };
}

const routeMemo = identityMemo<RouteIR, JsonObject>();

/** What a route's access alone decides: its client-network sets, JWT requirement and RBAC. */
export interface AccessConfigs {
  readonly networks: RouteNetworks;
  readonly jwt: JsonObject;
  readonly rbac: JsonObject;
}

/**
 * Per RouteAccessIR object: the IR builder shares one access object between the routes with the
 * same rules, so they share these configs too, and hash.ts hashes them once (RBAC is most of a
 * route's JSON).
 */
const accessMemo = identityMemo<RouteAccessIR, AccessConfigs>();

function accessConfigs(route: RouteIR, ctx: RouteContext): AccessConfigs {
  // Disabled routes are few and switch every access filter off: not worth a memo.
  if (route.disabled !== null) {
    return { networks: routeNetworks(route), jwt: jwtPerRoute(route), rbac: rbacPerRoute(route, ctx.rbac) };
  }
  const enabled = { access: route.access, disabled: null };
  return accessMemo(route.access, ctx.key, () => ({
    networks: routeNetworks(enabled),
    jwt: jwtPerRoute(enabled),
    rbac: rbacPerRoute(enabled, ctx.rbac),
  }));
}

function headerMatcher(h: HeaderMatchIR): JsonObject {
  const m = h.match;
  const spec: JsonObject =
    m.kind === 'present'
      ? { present_match: true }
      : m.kind === 'regex'
        ? { string_match: { safe_regex: { regex: m.value } } }
        : { string_match: { [m.kind]: m.value } };
  return { name: h.name, ...spec, ...(h.invert ? { invert_match: true } : {}) };
}

function methodMatcher(methods: readonly string[]): JsonObject {
  // One method: exact; several: one full-match RE2 alternation (Envoy matches header regexes whole).
  const spec: JsonObject = methods.length === 1 ? { exact: methods[0] as string } : { safe_regex: { regex: anyOfRegex(methods) } };
  return { name: ':method', string_match: spec };
}

export function routeMatch(match: RouteMatchIR): JsonObject {
  const path: JsonObject =
    match.path.kind === 'exact'
      ? { path: match.path.value }
      : match.path.kind === 'prefix'
        ? { prefix: match.path.value }
        : { safe_regex: { regex: match.path.value } };
  const headers = [...(match.methods.length > 0 ? [methodMatcher(match.methods)] : []), ...match.headers.map(headerMatcher)];
  return { ...path, ...(headers.length > 0 ? { headers } : {}) };
}

/** Per-filter configs of one route, keyed by the filter names of the HTTP filter chain (its slots say). */
function perFilterConfig(route: RouteIR, access: AccessConfigs, ctx: RouteContext): JsonObject {
  const inputs = { route, access, ctx };
  return perFilterConfigs((slot) => slot.perRoute?.(inputs));
}

function routeAction(route: RouteIR, ctx: RouteContext): JsonObject {
  const retries = route.retries;
  const rateLimits = rateLimitActions(route, ctx.xffNumTrustedHops);
  return {
    cluster: names.serviceCluster(route.service),
    timeout: duration(route.timeoutMs),
    ...(rateLimits.length === 0 ? {} : { rate_limits: rateLimits }),
    ...(retries === null
      ? {}
      : {
          retry_policy: {
            retry_on: retries.on.join(','),
            num_retries: retries.attempts,
            ...(retries.perTryTimeoutMs === null ? {} : { per_try_timeout: duration(retries.perTryTimeoutMs) }),
          },
        }),
  };
}

/** One route's JSON. Does not check that its service exists (routeConfiguration does, memo or not). */
export function envoyRoute(route: RouteIR, ctx: RouteContext): JsonObject {
  const access = accessConfigs(route, ctx);
  const action: JsonObject =
    route.disabled === null
      ? { route: routeAction(route, ctx) }
      : {
          direct_response: {
            status: route.disabled.status,
            ...(route.disabled.body === '' ? {} : { body: { inline_string: route.disabled.body } }),
          },
        };
  return {
    name: route.name,
    match: routeMatch(route.match),
    ...action,
    ...routeMetadata(access.networks.metadata, clientAddressMetadata(route, ctx.xffNumTrustedHops)),
    typed_per_filter_config: perFilterConfig(route, access, ctx),
  };
}

/** The route's `metadata`: its client-network sets' and the client-address script's, when it has them. */
function routeMetadata(networks: JsonObject | null, clientAddress: JsonObject | null): JsonObject {
  if (clientAddress === null) return networks === null ? {} : { metadata: networks };
  const filterMetadata = networks === null ? {} : (networks['filter_metadata'] as JsonObject);
  return { metadata: { filter_metadata: { ...filterMetadata, [FILTER.clientAddress]: clientAddress } } };
}

/** Hosts in order of first appearance in the IR, the catch-all `*` last (Envoy picks by specificity anyway). */
export function hostsInOrder(routes: readonly RouteIR[]): string[] {
  const hosts = [...new Set(routes.map((r) => r.host))];
  return [...hosts.filter((h) => h !== '*'), ...hosts.filter((h) => h === '*')];
}

/**
 * Virtual hosts by the JSON object of their first policy route, then by their table's scope key
 * (with route scopes a route heads a virtual host in every scope that repeats it), reused while
 * they hold the very same route objects in the same order (guards included): then an unchanged
 * virtual host keeps its object, and its hash (hash.ts) is not computed again.
 */
const virtualHostMemo = new WeakMap<JsonObject, Map<string, JsonObject>>();

function virtualHost(scope: string, host: string, policyRoutes: readonly JsonObject[], guards: readonly JsonObject[]): JsonObject {
  const first = policyRoutes[0];
  if (first === undefined) return emptyVirtualHost(host, guards);
  const routes = guards.length === 0 ? policyRoutes : [...guards, ...policyRoutes];
  let byScope = virtualHostMemo.get(first);
  const known = byScope?.get(scope);
  if (known !== undefined && known['name'] === host) {
    const knownRoutes = known['routes'] as readonly JsonObject[];
    if (knownRoutes.length === routes.length && knownRoutes.every((r, i) => r === routes[i])) return known;
  }
  const vh: JsonObject = { name: host, domains: [host], routes };
  if (byScope === undefined) {
    byScope = new Map();
    virtualHostMemo.set(first, byScope);
  }
  byScope.set(scope, vh);
  return vh;
}

/** Virtual hosts without policy routes by host (guards only), for the scopes where a host has none. */
const emptyVirtualHostMemo = new Map<string, JsonObject>();
const MAX_EMPTY_VIRTUAL_HOSTS = 4096;

/**
 * A host's virtual host in a scope that holds none of its routes. It must be there: without it
 * Envoy would pick a less specific host (`*`) and maybe one of its routes, where the one table
 * picks this host and finds no route (404). Kept per host while the guards are the same objects.
 */
function emptyVirtualHost(host: string, guards: readonly JsonObject[]): JsonObject {
  const known = emptyVirtualHostMemo.get(host);
  const knownRoutes = known?.['routes'] as readonly JsonObject[] | undefined;
  if (known !== undefined && knownRoutes?.length === guards.length && knownRoutes.every((r, i) => r === guards[i])) return known;
  const vh: JsonObject = { name: host, domains: [host], routes: guards };
  emptyVirtualHostMemo.set(host, vh);
  if (emptyVirtualHostMemo.size > MAX_EMPTY_VIRTUAL_HOSTS) emptyVirtualHostMemo.delete(emptyVirtualHostMemo.keys().next().value as string);
  return vh;
}

/** The virtual hosts of a route list: environments without overlays share one list (IR builder). */
const virtualHostsMemo = identityMemo<readonly RouteIR[], readonly JsonObject[]>();

/** One virtual host per host of `hosts` (in that order), each with its routes of `routes` (in IR order). */
function virtualHosts(scope: string, routes: readonly RouteIR[], hosts: readonly string[], ctx: RouteContext): readonly JsonObject[] {
  const byHost = new Map<string, JsonObject[]>();
  for (const r of routes) {
    const route = routeMemo(r, ctx.key, () => envoyRoute(r, ctx));
    const list = byHost.get(r.host);
    if (list) list.push(route);
    else byHost.set(r.host, [route]);
  }
  return hosts.map((host) => virtualHost(scope, host, byHost.get(host) ?? [], ctx.guards));
}

/**
 * Route configurations by their first virtual host, then by name (an empty virtual host heads
 * the tables of many scopes), reused while virtual hosts and configuration-wide per-filter
 * configs are the very same objects: with route scopes, the scopes a change does not touch keep
 * their JSON objects (and versions, hash.ts).
 */
const tableMemo = new WeakMap<JsonObject, Map<string, JsonObject>>();

function sameObjects(a: JsonObject, b: JsonObject): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** What one route table holds: its name, its memo scope (the scope key; '' for the one table), its routes. */
interface TableOf {
  readonly name: string;
  readonly scope: string;
  readonly routes: readonly RouteIR[];
}

/**
 * One RouteConfiguration: a virtual host per host of the environment (`hosts`), each with its routes
 * of `routes` (in IR order), and the per-filter configs they need.
 */
function routeTable(env: EnvironmentIR, ctx: RouteContext, of: TableOf, hosts: readonly string[]): JsonObject {
  const { name, scope, routes } = of;
  const inputs = { env, networkSets: () => networkSetsOf(routes, ctx) };
  const perFilter = perFilterConfigs((slot) => slot.perRouteConfiguration?.(inputs));
  const vhs = routes === env.routes ? virtualHostsMemo(routes, ctx.key, () => virtualHosts(scope, routes, hosts, ctx)) : virtualHosts(scope, routes, hosts, ctx);
  const first = vhs[0];
  const byName = first === undefined ? undefined : tableMemo.get(first);
  const known = byName?.get(name);
  if (known !== undefined) {
    const knownHosts = known['virtual_hosts'] as readonly JsonObject[];
    const knownPerFilter = (known['typed_per_filter_config'] as JsonObject | undefined) ?? {};
    if (knownHosts.length === vhs.length && knownHosts.every((vh, i) => vh === vhs[i]) && sameObjects(knownPerFilter, perFilter)) return known;
  }
  const table: JsonObject = {
    name,
    // Host headers carry a port (`api.example.com:10000`); match on the name alone.
    ignore_port_in_host_matching: true,
    virtual_hosts: vhs,
    // The scope key is Envoy's own routing input: upstreams never see it.
    ...(env.listener.routeScopes === 'firstPathSegment' ? { request_headers_to_remove: [SCOPE_HEADER] } : {}),
    // Configuration-wide per-filter configs: they apply to every route, which sets none of its own
    // for these filters.
    ...(Object.keys(perFilter).length === 0 ? {} : { typed_per_filter_config: perFilter }),
  };
  if (first !== undefined) {
    if (byName === undefined) tableMemo.set(first, new Map([[name, table]]));
    else byName.set(name, table);
  }
  return table;
}

function checkServices(env: EnvironmentIR): void {
  const services = new Set(env.services.map((s) => s.name));
  for (const r of env.routes) {
    if (r.disabled === null && !services.has(r.service)) {
      throw new Error(`IR bug: route ${r.name} targets unknown service ${r.service}`);
    }
  }
}

/** The environment's one route configuration (listener `routeScopes: none`). */
export function routeConfiguration(env: EnvironmentIR): JsonObject {
  checkServices(env);
  return routeTable(env, routeContext(env), { name: names.routeConfig(env.name), scope: '', routes: env.routes }, hostsInOrder(env.routes));
}

/**
 * The route configurations and, with route scopes, the ScopedRouteConfigurations selecting them:
 * one per first path segment of a pinned route, and the fallback (see route-scopes.ts).
 */
export function routeConfigurations(env: EnvironmentIR): { readonly routes: JsonObject[]; readonly scopes: JsonObject[] } {
  if (env.listener.routeScopes !== 'firstPathSegment') return { routes: [routeConfiguration(env)], scopes: [] };
  checkServices(env);
  const ctx = routeContext(env);
  const tables = scopeTables(env.name, env.routes);
  // Every host in every scope, in the one table's order (see emptyVirtualHost).
  const hosts = hostsInOrder(env.routes);
  return {
    routes: tables.map((t) => routeTable(env, ctx, { name: t.name, scope: t.segment ?? FALLBACK_KEY, routes: t.routes }, hosts)),
    scopes: tables.map(scopedRouteConfiguration),
  };
}

/** The client-network sets of every route (repeats included), from the memoised access configs. */
function networkSetsOf(routes: readonly RouteIR[], ctx: RouteContext): NetworkSet[] {
  const sets: NetworkSet[] = [];
  // Per access object, not per route: routes share them (IR builder), and this runs on every compile.
  const seen = new Set<RouteAccessIR>();
  for (const r of routes) {
    // A disabled route answers every caller itself: no networks.
    if (r.disabled !== null || seen.has(r.access)) continue;
    seen.add(r.access);
    sets.push(...accessConfigs(r, ctx).networks.sets);
  }
  return sets;
}
