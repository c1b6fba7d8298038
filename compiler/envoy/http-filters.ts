/**
 * THE ordering table of HTTP filters in the edge listener's HttpConnectionManager. Order is policy:
 * a filter sees only what the filters before it let through. Part of the Envoy translator.
 *
 * The chain is the same for every environment whatever the policy uses (every filter is off by
 * default and switched on per route), so access and lockdown changes touch only the route
 * configuration (RDS), never the listener: listener changes drain connections. The exception is
 * local rate limits, whose token buckets must outlive RDS updates and so live in the listener.
 */
import type { EnvironmentIR, RouteIR } from '../ir/ir';
import { clientAddressConfig, clientAddressPerRoute } from './client-address';
import { FILTER, TYPE, typed } from './common';
import { jwksClusters, jwtAuthnConfig } from './jwt';
import { fleetRateLimitConfig, rateLimitServiceClusters } from './fleet-rate-limit';
import { rateLimitConfig, rateLimitOff } from './rate-limit';
import { clientNetworksConfig, clientNetworksPerRouteConfiguration, type NetworkSet } from './client-networks';
import { rbacConfig, revokedTokensConfig, revokedTokensPerRoute } from './rbac';
import { scopeFallbackConfig, scopeFallbackOff } from './route-scopes';
import type { JsonObject } from './resources';
import type { AccessConfigs, RouteContext } from './route';
import { withShadowRules } from './shadow';

/** What a filter's config on one route reads: the route, its memoised access configs, the route context. */
export interface RouteFilterInputs {
  readonly route: RouteIR;
  readonly access: AccessConfigs;
  readonly ctx: RouteContext;
}

/** What a filter's configuration-wide route config reads: the environment, the client-network sets of its routes. */
export interface RouteConfigurationInputs {
  readonly env: EnvironmentIR;
  readonly networkSets: () => readonly NetworkSet[];
}

/** One filter of the chain, and everything it adds to the other resources. */
interface FilterSlot {
  readonly name: string;
  /** Null: the slot is not in this environment's chain (decided by environment settings alone). */
  readonly config: (env: EnvironmentIR) => JsonObject | null;
  /** Off unless a route's `typed_per_filter_config` switches it on. */
  readonly disabled?: true;
  /** Its config on one route (route `typed_per_filter_config`); null or absent: none. */
  readonly perRoute?: (r: RouteFilterInputs) => JsonObject | null;
  /** Its config for every route at once (RouteConfiguration `typed_per_filter_config`). */
  readonly perRouteConfiguration?: (r: RouteConfigurationInputs) => JsonObject | null;
  /** Clusters it needs besides the services' (JWKS fetches, the rate-limit service). */
  readonly clusters?: (env: EnvironmentIR) => readonly JsonObject[];
}

export const HTTP_FILTER_ORDER: readonly FilterSlot[] = [
  // 0. lua, scope fallback: only on listeners with route scopes (route-scopes.ts), and switched off
  //    by every scope's route configuration, so it runs only when the request's scope had no
  //    route: it sends the request to the fallback scope. First, because no filter can act on a
  //    request before its route is known (they all read the route's per-filter configs).
  {
    name: FILTER.scopeFallback,
    config: (env) => scopeFallbackConfig(env.listener.routeScopes),
    perRouteConfiguration: (r) => scopeFallbackOff(r.env.listener.routeScopes),
  },
  // 1. rbac, client-networks instance: allowed and denied client networks, lockdown blocks included
  //    (403). First, because the client address is all it needs: a refused network gets 403 on
  //    every route, token or not (after jwt_authn a caller without a token would see 401 instead),
  //    and Envoy verifies no signature for traffic it refuses anyway. Its rules sit once in the
  //    route configuration, routes carry only metadata naming the network sets that apply to
  //    them (see client-networks.ts).
  { name: FILTER.clientNetworks, config: () => clientNetworksConfig(), perRouteConfiguration: (r) => clientNetworksPerRouteConfiguration(r.networkSets()) },
  // 2. jwt_authn: verifies the bearer token (401 when missing or invalid on a route that needs one)
  //    and writes its payload to dynamic metadata ("payload"), which both filters after it read.
  { name: FILTER.jwtAuthn, config: jwtAuthnConfig, perRoute: (r) => r.access.jwt, clusters: jwksClusters },
  // 3. rbac, revoked-tokens instance: refuses a payload whose jti or sub is revoked (403). Its
  //    rules sit once in the route configuration rather than in every route (see rbac.ts), which
  //    needs an instance of its own: a route's config for the rbac filter below replaces, not
  //    adds to, a configuration-wide one. Before rate limits, like the next one.
  { name: FILTER.revokedTokens, config: () => revokedTokensConfig(), perRouteConfiguration: (r) => revokedTokensPerRoute(r.env.revokedTokens) },
  // 4. rbac: roles from that payload and the methods each rule allows (403). Before rate limits
  //    so refused callers do not spend the budget of legitimate ones. Also carries the shadow
  //    overlays' shadow_rules (shadow.ts): after jwt_authn, so they can read jti, sub and roles;
  //    per route, so starting or ending a shadow changes only RDS.
  { name: FILTER.rbac, config: () => rbacConfig(), perRoute: (r) => withShadowRules(r.access.rbac, r.ctx.shadow, r.route.name, r.ctx.rbac) },
  // 5. lua, client-address script: writes the client address as per-client rate limits key it (an
  //    IPv4-mapped client as its IPv4 form) into dynamic metadata. Only on listeners trusting
  //    X-Forwarded-For, disabled by default, switched on by routes with such limits (see
  //    client-address.ts). Before every rate limit, which read what it writes; after access
  //    control, so refused requests never run it.
  {
    name: FILTER.clientAddress,
    config: (env) => clientAddressConfig(env.listener.xffNumTrustedHops),
    disabled: true,
    perRoute: (r) => clientAddressPerRoute(r.route, r.ctx.xffNumTrustedHops),
  },
  // 6. local_ratelimit, enforce instance: limits in `enforce` mode answer 429. Its descriptors and
  //    buckets sit here in the listener, not in the routes, so route-configuration updates keep
  //    the counters (see rate-limit.ts); a limit change changes the listener.
  { name: FILTER.rateLimitEnforce, config: (env) => rateLimitConfig(env, 'enforce'), perRoute: (r) => rateLimitOff(r.route, 'enforce') },
  // 7. local_ratelimit, shadow instance: limits in `shadow` mode only count (filter_enforced 0 %).
  //    Two instances because `filter_enforced` belongs to a whole filter config, not to one
  //    descriptor, and a route holds one config per filter instance: a route with an enforced and
  //    a shadow limit needs both. Separate stat prefixes also keep "would have limited" apart from
  //    "limited". After the enforce instance: a shadow limit measures what it would add to the
  //    limits in force, and requests already refused do not drain its buckets.
  { name: FILTER.rateLimitShadow, config: (env) => rateLimitConfig(env, 'shadow'), perRoute: (r) => rateLimitOff(r.route, 'shadow') },
  // 8. ratelimit (global), fail-open instance: `scope: fleet` limits with `onServiceFailure: allow`,
  //    one budget for the environment counted by the rate-limit service. After the local limits,
  //    so the cheap per-instance first line refuses floods without a network call. Only in
  //    environments with a rate-limit service (see fleet-rate-limit.ts).
  { name: FILTER.rateLimitFleetAllow, config: (env) => fleetRateLimitConfig(env, 'allow'), clusters: rateLimitServiceClusters },
  // 9. ratelimit (global), fail-closed instance: fleet limits with `onServiceFailure: deny` (503
  //    when the service cannot answer). Its own instance because `failure_mode_deny` is per filter
  //    config; after the fail-open one, so a request it refuses for an outage was not refused anyway.
  { name: FILTER.rateLimitFleetDeny, config: (env) => fleetRateLimitConfig(env, 'deny') },
  // 10. router: forwards to the route's cluster (or answers a disabled route's direct response).
  { name: FILTER.router, config: () => typed(TYPE.router, {}) },
];

/** Filter name → config, over the slots in chain order, of the configs `pick` gives (null: none). */
export function perFilterConfigs(pick: (slot: FilterSlot) => JsonObject | null | undefined): Record<string, JsonObject> {
  const out: Record<string, JsonObject> = {};
  for (const slot of HTTP_FILTER_ORDER) {
    const config = pick(slot);
    if (config !== null && config !== undefined) out[slot.name] = config;
  }
  return out;
}

/** The clusters every filter of the chain needs (the fleet slots share one: listed once). */
export function filterClusters(env: EnvironmentIR): JsonObject[] {
  return HTTP_FILTER_ORDER.flatMap((slot) => [...(slot.clusters?.(env) ?? [])]);
}

export function httpFilters(env: EnvironmentIR): JsonObject[] {
  return HTTP_FILTER_ORDER.flatMap((slot) => {
    const config = slot.config(env);
    return config === null ? [] : [{ name: slot.name, typed_config: config, ...(slot.disabled ? { disabled: true } : {}) }];
  });
}
