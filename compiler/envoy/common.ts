/**
 * Small shared pieces of the Envoy translator: resource and filter names, type URLs, and the
 * proto3-JSON spellings of durations, percentages and config sources.
 */
import type { JsonObject } from './resources';

/** Type URLs of the typed configs the translator writes (Any `@type`). */
export const TYPE = {
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  jwtAuthn: 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
  jwtPerRoute: 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.PerRouteConfig',
  rbac: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
  rbacPerRoute: 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute',
  localRateLimit: 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
  rateLimit: 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  lua: 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua',
  luaPerRoute: 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute',
  filterConfig: 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
  upstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  httpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  headerMutation: 'type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation',
  httpGrpcAccessLog: 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
} as const;

/** Extension names Envoy knows these configs by (filter names in the chain are ours, see FILTER). */
export const EXTENSION = {
  hcm: 'envoy.filters.network.http_connection_manager',
  tls: 'envoy.transport_sockets.tls',
  httpProtocolOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
} as const;

/**
 * Names of the HTTP filters in the chain; routes key their `typed_per_filter_config` by these.
 * jwt_authn keeps its canonical name because it is also the dynamic-metadata namespace RBAC and the
 * rate limits read the token payload from.
 */
export const FILTER = {
  scopeFallback: 'portcullis.lua.scope_fallback',
  jwtAuthn: 'envoy.filters.http.jwt_authn',
  rbac: 'envoy.filters.http.rbac',
  clientNetworks: 'portcullis.rbac.client_networks',
  revokedTokens: 'portcullis.rbac.revoked_tokens',
  clientAddress: 'portcullis.lua.client_address',
  rateLimitEnforce: 'portcullis.local_ratelimit.enforce',
  rateLimitShadow: 'portcullis.local_ratelimit.shadow',
  rateLimitFleetAllow: 'portcullis.ratelimit.fleet_allow',
  rateLimitFleetDeny: 'portcullis.ratelimit.fleet_deny',
  router: 'envoy.filters.http.router',
} as const;

/** Name of the static cluster through which an Envoy reaches the control server (ADS, access logs). */
export const XDS_CLUSTER = 'xds_cluster';

/** Dynamic-metadata namespace where jwt_authn writes the verified payload. */
export const JWT_METADATA_NAMESPACE = FILTER.jwtAuthn;
/** Key under that namespace (the providers' `payload_in_metadata`). */
export const JWT_PAYLOAD_KEY = 'payload';
/**
 * Key under that namespace where provider `p` writes the JWT header (`header_in_metadata`): present
 * only when `p` verified the token, so RBAC can tell which provider's roles claim counts. Provider
 * names are DNS labels: the key cannot collide with JWT_PAYLOAD_KEY or JWT_FAILURE_KEY.
 */
export const jwtHeaderKey = (provider: string): string => `header:${provider}`;
/** Key under that namespace where every provider writes why a token failed (`failed_status_in_metadata`). */
export const JWT_FAILURE_KEY = 'failure';

/** Stable resource names: the same policy gives the same names on every compile. */
export const names = {
  listener: (env: string): string => `portcullis/${env}/http`,
  routeConfig: (env: string): string => `portcullis/${env}/routes`,
  /** Route scopes (SRDS): each scope's RouteConfiguration and ScopedRouteConfiguration share this name. */
  scopedRouteConfig: (env: string, segment: string): string => `portcullis/${env}/routes/${segment}`,
  /** Not `<routes>/...`, so no segment can produce it. */
  fallbackRouteConfig: (env: string): string => `portcullis/${env}/routes:fallback`,
  /** The HttpConnectionManager's scoped_routes. */
  routeScopes: (env: string): string => `portcullis/${env}/scopes`,
  /** Service names are DNS labels, so they cannot collide with `jwks/...` or `xds_cluster`. */
  serviceCluster: (service: string): string => service,
  jwksCluster: (provider: string): string => `jwks/${provider}`,
  /** The environment's rate-limit service (fleet-scope limits). */
  rateLimitCluster: 'ratelimit/service',
};

/** Milliseconds as a proto3 JSON Duration: 1500 → "1.5s", 60000 → "60s", 250 → "0.25s". */
export function duration(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`duration: ${ms} ms is not a non-negative integer`);
  const seconds = Math.floor(ms / 1000);
  const rest = ms % 1000;
  if (rest === 0) return `${seconds}s`;
  return `${seconds}.${String(rest).padStart(3, '0').replace(/0+$/, '')}s`;
}

/** A RuntimeFractionalPercent fixed at `percent` % (no runtime key: policy lives in git, not in runtime). */
export function fractionalPercent(percent: number): JsonObject {
  return { default_value: { numerator: percent, denominator: 'HUNDRED' } };
}

/** ConfigSource for a resource delivered on the same ADS stream. */
export function adsConfigSource(): JsonObject {
  return { ads: {}, resource_api_version: 'V3' };
}

/** Wraps a message as an Any. */
export function typed(typeUrl: string, body: JsonObject): JsonObject {
  return { '@type': typeUrl, ...body };
}

/** Envoy's RE2 full-match regex for "one of these literals". */
export function anyOfRegex(literals: readonly string[]): string {
  return literals.map((l) => l.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&')).join('|');
}
