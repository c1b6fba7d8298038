/**
 * The benchmark's fleet config, the same for every server under test: C EDS clusters with their
 * endpoints, one listener (HCM, local rate limit, router) and R routes. With `scopes` 0 the HCM gets
 * one route configuration of R routes over RDS (one table); with `scopes` S > 0 the routes are
 * spread over S first path segments (`/s{k}/...`) and the HCM uses scoped routes (SRDS) as
 * Portcullis's `listener.routeScopes: firstPathSegment` does: the early header mutation writing the
 * scope key, the Lua fallback filter first in the chain, S ScopedRouteConfigurations, S route
 * configurations and the fallback one (no route: every bench route is pinned to its segment).
 * `variant` changes one route's timeout (route 0, in scope s0): a one-route change. Versions come
 * from the translator's own `versioned`, as in production.
 */
import { versioned } from '../../compiler/envoy';
import type { EnvoyResource, EnvoyResources, JsonObject } from '../../compiler/envoy/resources';
import { FILTER } from '../../compiler/envoy/common';
import { scopeFallbackConfig, scopeFallbackOff, scopedRouteConfiguration, scopedRoutesHcm } from '../../compiler/envoy/route-scopes';

export const BENCH_FLEET = 'bench';
export const BENCH_ROUTE_CONFIG = 'bench-routes';

export function clusterNames(clusters: number): string[] {
  return Array.from({ length: clusters }, (_, i) => `svc-${String(i).padStart(3, '0')}`);
}

/** The listener's and the scopes' pieces come from the translator, so the bench serves what Portcullis would. */
const SCOPED = 'firstPathSegment';
const ADS = { ads: {}, resource_api_version: 'V3' };

export interface BenchOptions {
  readonly clusters: number;
  readonly routes: number;
  readonly variant: number;
  /** First path segments the routes are spread over, one scope each (SRDS); 0 (default): one route table over RDS. */
  readonly scopes?: number;
  /** The listener's port (default 10000; a test with a real Envoy picks a free one). */
  readonly listenerPort?: number;
}

/** The route configuration (and scope) name of segment k, or of the fallback scope (null). */
export function scopeRouteConfigName(k: number | null): string {
  return k === null ? `${BENCH_ROUTE_CONFIG}-fallback` : `${BENCH_ROUTE_CONFIG}-s${k}`;
}

export function benchResources(opts: BenchOptions): EnvoyResources {
  const names = clusterNames(opts.clusters);
  const scopes = opts.scopes ?? 0;
  const routes = Array.from({ length: opts.routes }, (_, i) => benchRoute(i, names, opts.variant, scopes));
  const base = { environment: 'bench', fleet: BENCH_FLEET, clusters: benchClusters(names), endpoints: benchEndpoints(names), rateLimitConfigs: [] };
  if (scopes === 0) {
    return { ...base, listeners: [benchListener(scopes, opts.listenerPort ?? 10000)], routes: [routeConfiguration(BENCH_ROUTE_CONFIG, routes, false)], scopes: [] };
  }
  // Route i is in scope i mod S, which keeps the routes' order within each scope.
  const keys: (number | null)[] = [...Array.from({ length: scopes }, (_, k) => k), null];
  return {
    ...base,
    listeners: [benchListener(scopes, opts.listenerPort ?? 10000)],
    routes: keys.map((k) => routeConfiguration(scopeRouteConfigName(k), k === null ? [] : routes.filter((_, i) => i % scopes === k), true)),
    scopes: keys.map((k) => {
      const name = scopeRouteConfigName(k);
      return versioned('scope', name, scopedRouteConfiguration({ name, segment: k === null ? null : `s${k}`, routes: [] }));
    }),
  };
}

/** A route configuration of one virtual host; a scope's also switches the Lua fallback off (it runs only where no route matched). */
function routeConfiguration(name: string, routes: JsonObject[], scoped: boolean): EnvoyResource {
  return versioned('route', name, {
    name,
    virtual_hosts: [{ name: 'all', domains: ['*'], routes }],
    ...(scoped ? { typed_per_filter_config: { [FILTER.scopeFallback]: scopeFallbackOff(SCOPED) as JsonObject } } : {}),
  });
}

function benchClusters(names: readonly string[]): EnvoyResource[] {
  return names.map((name) =>
    versioned('cluster', name, {
      name,
      type: 'EDS',
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
      connect_timeout: '0.250s',
      circuit_breakers: { thresholds: [{ max_connections: 1024 }] },
      health_checks: [{ timeout: '1s', interval: '5s', unhealthy_threshold: 3, healthy_threshold: 2, http_health_check: { path: '/healthz' } }],
    }),
  );
}

function benchEndpoints(names: readonly string[]): EnvoyResource[] {
  return names.map((name, i) =>
    versioned('endpoint', name, {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: [0, 1, 2].map((k) => ({
            endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 20000 + i * 3 + k } } },
          })),
        },
      ],
    }),
  );
}

/** The HCM fields choosing the routes: RDS for one table, else the translator's scope key header mutation and scoped routes over ADS. */
function routeSource(scopes: number): JsonObject {
  return scopes === 0 ? { rds: { route_config_name: BENCH_ROUTE_CONFIG, config_source: ADS } } : scopedRoutesHcm(BENCH_FLEET);
}

/** The translator's Lua fallback: first in the chain, it sends a request no scope route matched to the fallback scope. */
const luaFallback: JsonObject = { name: FILTER.scopeFallback, typed_config: scopeFallbackConfig(SCOPED) as JsonObject };

function benchListener(scopes: number, port: number): EnvoyResource {
  return versioned('listener', 'bench-ingress', {
    name: 'bench-ingress',
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'ingress',
              ...routeSource(scopes),
              http_filters: [
                ...(scopes === 0 ? [] : [luaFallback]),
                {
                  name: 'envoy.filters.http.local_ratelimit',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
                    stat_prefix: 'rl',
                  },
                },
                {
                  name: 'envoy.filters.http.router',
                  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
                },
              ],
            },
          },
        ],
      },
    ],
  });
}

/** Route i: its cluster, its path (under `/s{i mod S}` with scopes), and route 0's timeout follows the variant. */
function benchRoute(i: number, names: readonly string[], variant: number, scopes: number): JsonObject {
  return {
    name: `r${i}`,
    match: { prefix: `${scopes === 0 ? '' : `/s${i % scopes}`}/api/v1/resource-${i}/`, headers: [{ name: ':method', string_match: { exact: 'GET' } }] },
    route: {
      cluster: names[i % names.length]!,
      // The one-route change: route 0's timeout follows the variant.
      timeout: i === 0 ? `${10 + variant}s` : '15s',
      retry_policy: { retry_on: '5xx', num_retries: 2 },
    },
    typed_per_filter_config: {
      'envoy.filters.http.local_ratelimit': {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
        stat_prefix: `r${i}`,
        token_bucket: { max_tokens: 100, tokens_per_fill: 100, fill_interval: '1s' },
        filter_enabled: { default_value: { numerator: 100, denominator: 'HUNDRED' } },
        filter_enforced: { default_value: { numerator: 100, denominator: 'HUNDRED' } },
      },
    },
  };
}
