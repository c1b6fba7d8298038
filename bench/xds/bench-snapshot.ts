/**
 * The benchmark's fleet config, the same for every server under test: C EDS clusters with their
 * endpoints, one listener (HCM over RDS, local rate limit, router) and one route configuration of
 * R routes. `variant` changes one route's timeout: a one-route change. Versions come from the
 * translator's own `versioned`, as in production.
 */
import { versioned } from '../../compiler/envoy';
import type { EnvoyResource, EnvoyResources, JsonObject } from '../../compiler/envoy/resources';

export const BENCH_FLEET = 'bench';
export const BENCH_ROUTE_CONFIG = 'bench-routes';

export function clusterNames(clusters: number): string[] {
  return Array.from({ length: clusters }, (_, i) => `svc-${String(i).padStart(3, '0')}`);
}

export function benchResources(opts: { clusters: number; routes: number; variant: number }): EnvoyResources {
  const names = clusterNames(opts.clusters);
  const routes = Array.from({ length: opts.routes }, (_, i) => benchRoute(i, names, opts.variant));
  const routeConfig = versioned('route', BENCH_ROUTE_CONFIG, {
    name: BENCH_ROUTE_CONFIG,
    virtual_hosts: [{ name: 'all', domains: ['*'], routes }],
  });
  return { environment: 'bench', fleet: BENCH_FLEET, clusters: benchClusters(names), endpoints: benchEndpoints(names), listeners: [benchListener()], routes: [routeConfig], scopes: [], rateLimitConfigs: [] };
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

function benchListener(): EnvoyResource {
  return versioned('listener', 'bench-ingress', {
    name: 'bench-ingress',
    address: { socket_address: { address: '127.0.0.1', port_value: 10000 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'ingress',
              rds: { route_config_name: BENCH_ROUTE_CONFIG, config_source: { ads: {}, resource_api_version: 'V3' } },
              http_filters: [
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

/** Route i of the route configuration: its cluster, and route 0's timeout follows the variant. */
function benchRoute(i: number, names: readonly string[], variant: number): JsonObject {
  return {
    name: `r${i}`,
    match: { prefix: `/api/v1/resource-${i}/`, headers: [{ name: ':method', string_match: { exact: 'GET' } }] },
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
