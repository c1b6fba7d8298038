/**
 * Hand-built Envoy resources in the translator's output shape (proto3 JSON, snake_case), for the
 * xDS server's tests: what compiler/envoy/translate* will produce, written by hand (versioned by the
 * translator's own `versioned`).
 */
import { versioned } from '../../compiler/envoy';
import type { EnvoyResources, JsonObject } from '../../compiler/envoy/resources';
import { FILTER } from '../../compiler/envoy/common';
import { scopeFallbackConfig, scopeFallbackOff, scopedRouteConfiguration, scopedRoutesHcm } from '../../compiler/envoy/route-scopes';

/** A public EC P-256 key (test only; its private half was never kept): Envoy refuses an empty JWKS. */
const TEST_JWKS =
  '{"keys":[{"kty":"EC","x":"xzA0zVJHG72krUX13rvLP2mkgAzSO7nIrG2CVbXiUG0","y":"qvoxapsf3YFIexT01fhTZP3v5otm-NqpLxPSXtapjJU","crv":"P-256","kid":"test-1","alg":"ES256","use":"sig"}]}';

export function cluster(name: string, opts: { timeout?: string; healthCheck?: boolean } = {}): JsonObject {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
    connect_timeout: opts.timeout ?? '0.250s',
    lb_policy: 'ROUND_ROBIN',
    per_connection_buffer_limit_bytes: 32768,
    circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_connections: 1024, max_retries: 3 }] },
    outlier_detection: { consecutive_5xx: 5, interval: '10s', base_ejection_time: '30s', max_ejection_percent: 50 },
    ...(opts.healthCheck === false
      ? {}
      : {
          health_checks: [
            {
              timeout: '1s',
              interval: '5s',
              unhealthy_threshold: 3,
              healthy_threshold: 2,
              http_health_check: { path: '/healthz', expected_statuses: [{ start: '200', end: '300' }] },
            },
          ],
        }),
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http_protocol_options: {} },
        common_http_protocol_options: { idle_timeout: '60s' },
      },
    },
    metadata: { filter_metadata: { portcullis: { service: name, tier: 0, owners: ['team-a'] } } },
  };
}

export function loadAssignment(clusterName: string, ports: readonly number[]): JsonObject {
  return {
    cluster_name: clusterName,
    endpoints: [
      {
        priority: 0,
        locality: { zone: 'z1' },
        lb_endpoints: ports.map((port) => ({
          endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } },
          health_status: 'HEALTHY',
          load_balancing_weight: 1,
        })),
      },
    ],
    policy: { overprovisioning_factor: 140 },
  };
}

export function listener(name: string, routeConfigName: string, port: number): JsonObject {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    per_connection_buffer_limit_bytes: 32768,
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'ingress',
              codec_type: 'AUTO',
              use_remote_address: true,
              xff_num_trusted_hops: 0,
              common_http_protocol_options: { idle_timeout: '300s', headers_with_underscores_action: 'REJECT_REQUEST' },
              request_timeout: '30s',
              rds: { route_config_name: routeConfigName, config_source: { ads: {}, resource_api_version: 'V3' } },
              http_filters: [
                {
                  name: 'envoy.filters.http.jwt_authn',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
                    providers: {
                      corp: {
                        issuer: 'https://issuer.example.com',
                        audiences: ['api'],
                        require_expiration: true,
                        max_lifetime: '3600s',
                        local_jwks: { inline_string: TEST_JWKS },
                        forward: false,
                        payload_in_metadata: 'jwt_payload',
                        claim_to_headers: [{ header_name: 'x-sub', claim_name: 'sub' }],
                      },
                    },
                    rules: [{ match: { prefix: '/api' }, requires: { provider_name: 'corp' } }],
                  },
                },
                {
                  name: 'envoy.filters.http.rbac',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
                    rules: {
                      action: 'DENY',
                      policies: {
                        'denied-networks': {
                          permissions: [{ any: true }],
                          principals: [{ remote_ip: { address_prefix: '203.0.113.0', prefix_len: 24 } }],
                        },
                        'revoked-tokens': {
                          permissions: [{ any: true }],
                          principals: [
                            {
                              metadata: {
                                filter: 'envoy.filters.http.jwt_authn',
                                path: [{ key: 'jwt_payload' }, { key: 'jti' }],
                                value: { string_match: { exact: 'revoked-1' } },
                              },
                            },
                          ],
                        },
                      },
                    },
                  },
                },
                {
                  name: 'envoy.filters.http.local_ratelimit',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
                    stat_prefix: 'http_local_rate_limiter',
                    token_bucket: { max_tokens: 100, tokens_per_fill: 100, fill_interval: '1s' },
                    filter_enabled: { default_value: { numerator: 100, denominator: 'HUNDRED' }, runtime_key: 'rl_enabled' },
                    filter_enforced: { default_value: { numerator: 100, denominator: 'HUNDRED' }, runtime_key: 'rl_enforced' },
                    max_dynamic_descriptors: 10000,
                    local_rate_limit_per_downstream_connection: false,
                  },
                },
                {
                  name: 'envoy.filters.http.router',
                  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
                },
              ],
              access_log: [
                {
                  name: 'envoy.access_loggers.stdout',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
                  },
                },
              ],
            },
          },
        ],
      },
    ],
  };
}

/** A route configuration with `n` routes `/r<i>` to `clusters[i % len]`; `timeouts` overrides per route. */
export function routeConfig(
  name: string,
  clusters: readonly string[],
  n: number,
  timeouts: Readonly<Record<number, string>> = {},
): JsonObject {
  const routes: JsonObject[] = [];
  for (let i = 0; i < n; i++) {
    routes.push({
      name: `r${i}`,
      match: { prefix: `/r${i}`, headers: [{ name: ':method', string_match: { exact: 'GET' } }] },
      route: {
        cluster: clusters[i % clusters.length]!,
        timeout: timeouts[i] ?? '15s',
        retry_policy: { retry_on: '5xx,reset', num_retries: 2, per_try_timeout: '2s' },
      },
      typed_per_filter_config: {
        'envoy.filters.http.local_ratelimit': {
          '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
          stat_prefix: `route_r${i}`,
          token_bucket: { max_tokens: 10, tokens_per_fill: 10, fill_interval: '60s' },
          filter_enabled: { default_value: { numerator: 100, denominator: 'HUNDRED' } },
          filter_enforced: { default_value: { numerator: 100, denominator: 'HUNDRED' } },
        },
      },
    });
  }
  return {
    name,
    virtual_hosts: [{ name: 'all', domains: ['*'], routes }],
    validate_clusters: false,
  };
}

export interface FleetSpec {
  readonly environment?: string;
  readonly fleet?: string;
  readonly clusters?: readonly string[];
  readonly routes?: number;
  readonly timeouts?: Readonly<Record<number, string>>;
  readonly port?: number;
  /** Extra clusters with no endpoints (to test removal). */
  readonly listenerPort?: number;
}

/** A whole (environment, fleet) config: clusters with CLAs, one listener, one route configuration. */
export function fleetResources(spec: FleetSpec = {}): EnvoyResources {
  const clusters = spec.clusters ?? ['svc-a', 'svc-b'];
  return {
    environment: spec.environment ?? 'prod',
    fleet: spec.fleet ?? 'edge',
    clusters: clusters.map((c) => versioned('cluster', c, cluster(c))),
    endpoints: clusters.map((c, i) => versioned('endpoint', c, loadAssignment(c, [9000 + i]))),
    listeners: [versioned('listener', 'ingress', listener('ingress', 'ingress-routes', spec.listenerPort ?? 10000))],
    routes: [versioned('route', 'ingress-routes', routeConfig('ingress-routes', clusters, spec.routes ?? 3, spec.timeouts))],
    scopes: [],
    rateLimitConfigs: [],
  };
}

/** The translator's own pieces (compiler/envoy/route-scopes.ts): the fixture routes as Portcullis would. */
const SCOPED = 'firstPathSegment';
/** RouteConfiguration-level switch-off of the fallback filter: it runs only where no route matched. */
const FALLBACK_OFF: JsonObject = { [FILTER.scopeFallback]: scopeFallbackOff(SCOPED) as JsonObject };

/** A listener whose HCM routes by RDS (`routes`) or, as the translator emits it, by scopes keyed on the first path segment. */
export function scopedListener(name: string, port: number, routing: { rds: string } | { scopes: string }): JsonObject {
  const scoped = 'scopes' in routing;
  const hcm: JsonObject = {
    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    stat_prefix: 'ingress',
    codec_type: 'AUTO',
    normalize_path: true,
    merge_slashes: true,
    ...(scoped ? scopedRoutesHcm(routing.scopes) : { rds: { route_config_name: routing.rds, config_source: { ads: {}, resource_api_version: 'V3' } } }),
    http_filters: [
      ...(scoped ? [{ name: FILTER.scopeFallback, typed_config: scopeFallbackConfig(SCOPED) as JsonObject }] : []),
      { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
    ],
  };
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }] }],
  };
}

/** A route `/<segment>/` answering `<segment>:<revision>` itself (no upstream needed). */
function segmentRoute(segment: string, revision: string): JsonObject {
  return { match: { prefix: `/${segment}/` }, direct_response: { status: 200, body: { inline_string: `${segment}:${revision}` } } };
}

/** The catch-all, unpinned: in every scope after its own routes, and alone in the fallback scope. */
const CATCH_ALL: JsonObject = { match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'fallback' } } };

/** Envoy refuses this route (an invalid regex), though it encodes: a NACK of one RouteConfiguration. */
const REFUSED_ROUTE: JsonObject = { match: { safe_regex: { regex: '(' } }, direct_response: { status: 500 } };

export interface ScopedFleetSpec {
  /** First path segments, one scope each, in policy order. */
  readonly segments: readonly string[];
  readonly listenerPort: number;
  /** `scoped` (SRDS, one RouteConfiguration per scope and one fallback) or `rds` (one table). */
  readonly routing?: 'scoped' | 'rds';
  /** Revision answered per segment (default `v1`). */
  readonly revisions?: Readonly<Record<string, string>>;
  /** Segments whose RouteConfiguration Envoy refuses. */
  readonly refused?: readonly string[];
  /** Extra scopes named `<name>` keyed on `<segment>` (a second scope on a taken key is refused). */
  readonly extraScopes?: Readonly<Record<string, string>>;
}

/** Name of the RouteConfiguration of the scope of `segment` (`fallback` for the fallback scope). */
export const scopeRoutesName = (segment: string): string => `scope-${segment}`;

/**
 * A fleet routed by first path segment, hand-built in the shape the compiler emits for scopes:
 * scope S holds route `/S/` then the catch-all; the fallback scope holds the catch-all. `rds`
 * routing serves the same routes as one table (same answers for every path).
 */
export function scopedFleetResources(spec: ScopedFleetSpec): EnvoyResources {
  const base = fleetResources({ clusters: ['svc-a'], listenerPort: spec.listenerPort });
  const rev = (s: string): string => spec.revisions?.[s] ?? 'v1';
  const own = (s: string): JsonObject[] => [segmentRoute(s, rev(s)), ...(spec.refused?.includes(s) ? [REFUSED_ROUTE] : [])];
  const table = (name: string, routes: readonly JsonObject[]): JsonObject => ({
    name,
    virtual_hosts: [{ name: 'all', domains: ['*'], routes: [...routes] }],
    ...(spec.routing === 'rds' ? {} : { typed_per_filter_config: FALLBACK_OFF }),
  });
  if (spec.routing === 'rds') {
    return {
      ...base,
      listeners: [versioned('listener', 'ingress', scopedListener('ingress', spec.listenerPort, { rds: 'ingress-routes' }))],
      routes: [versioned('route', 'ingress-routes', table('ingress-routes', [...spec.segments.flatMap(own), CATCH_ALL]))],
    };
  }
  // A scope named `name` (its key `segment`, null: the fallback's) selecting the RouteConfiguration `routes`.
  const scope = (name: string, segment: string | null, routes: string): JsonObject => ({ ...scopedRouteConfiguration({ name: routes, segment, routes: [] }), name });
  const scopes = [
    ...spec.segments.map((s) => versioned('scope', s, scope(s, s, scopeRoutesName(s)))),
    versioned('scope', 'portcullis-fallback', scope('portcullis-fallback', null, scopeRoutesName('fallback'))),
    ...Object.entries(spec.extraScopes ?? {}).map(([name, key]) => versioned('scope', name, scope(name, key, scopeRoutesName('fallback')))),
  ];
  const routes = [
    ...spec.segments.map((s) => versioned('route', scopeRoutesName(s), table(scopeRoutesName(s), [...own(s), CATCH_ALL]))),
    versioned('route', scopeRoutesName('fallback'), table(scopeRoutesName('fallback'), [CATCH_ALL])),
  ];
  return { ...base, listeners: [versioned('listener', 'ingress', scopedListener('ingress', spec.listenerPort, { scopes: 'ingress-scopes' }))], scopes, routes };
}
