/**
 * The route configuration (RDS): virtual hosts grouped by host, routes in IR match order, each
 * carrying its per-filter configs (JWT requirement, RBAC, rate limits) and the metadata naming its
 * client-network sets; client networks and revoked tokens once for the whole configuration. Part of
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
 * Virtual hosts by the JSON object of their first policy route, reused while they hold the very
 * same route objects in the same order (guards included): then an unchanged virtual host keeps its
 * object, and its hash (hash.ts) is not computed again.
 */
const virtualHostMemo = new WeakMap<JsonObject, JsonObject>();

function virtualHost(host: string, policyRoutes: readonly JsonObject[], guards: readonly JsonObject[]): JsonObject {
  const first = policyRoutes[0] as JsonObject;
  const routes = guards.length === 0 ? policyRoutes : [...guards, ...policyRoutes];
  const known = virtualHostMemo.get(first);
  if (known !== undefined && known['name'] === host) {
    const knownRoutes = known['routes'] as readonly JsonObject[];
    if (knownRoutes.length === routes.length && knownRoutes.every((r, i) => r === routes[i])) return known;
  }
  const vh: JsonObject = { name: host, domains: [host], routes };
  virtualHostMemo.set(first, vh);
  return vh;
}

/** The virtual hosts of a route list: environments without overlays share one list (IR builder). */
const virtualHostsMemo = identityMemo<readonly RouteIR[], readonly JsonObject[]>();

function virtualHosts(routes: readonly RouteIR[], ctx: RouteContext): readonly JsonObject[] {
  const byHost = new Map<string, JsonObject[]>();
  for (const r of routes) {
    const route = routeMemo(r, ctx.key, () => envoyRoute(r, ctx));
    const list = byHost.get(r.host);
    if (list) list.push(route);
    else byHost.set(r.host, [route]);
  }
  return hostsInOrder(routes).map((host) => virtualHost(host, byHost.get(host) as JsonObject[], ctx.guards));
}

export function routeConfiguration(env: EnvironmentIR): JsonObject {
  const services = new Set(env.services.map((s) => s.name));
  for (const r of env.routes) {
    if (r.disabled === null && !services.has(r.service)) {
      throw new Error(`IR bug: route ${r.name} targets unknown service ${r.service}`);
    }
  }
  const ctx = routeContext(env);
  const inputs = { env, networkSets: () => networkSetsOf(env.routes, ctx) };
  const perFilter = perFilterConfigs((slot) => slot.perRouteConfiguration?.(inputs));
  return {
    name: names.routeConfig(env.name),
    // Host headers carry a port (`api.example.com:10000`); match on the name alone.
    ignore_port_in_host_matching: true,
    virtual_hosts: virtualHostsMemo(env.routes, ctx.key, () => virtualHosts(env.routes, ctx)),
    // Configuration-wide per-filter configs: they apply to every route, which sets none of its own
    // for these filters.
    ...(Object.keys(perFilter).length === 0 ? {} : { typed_per_filter_config: perFilter }),
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
