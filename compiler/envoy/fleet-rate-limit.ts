/**
 * Fleet-scope rate limits, Envoy side: the global rate limit filter asking the environment's
 * rate-limit service (envoyproxy/ratelimit) about the descriptors the routes build, and the
 * cluster that reaches it. Part of the Envoy translator (IR → Envoy resources); the service's own
 * configuration comes from ratelimit-service.ts, from the same IR and the same descriptors.
 *
 * Envoy facts this relies on (ratelimit filter, 1.40):
 * - Without filter-level `rate_limits` the filter builds descriptors from the route action's
 *   `rate_limits` of its `stage`, and calls the service only when there is at least one.
 * - `failure_mode_deny` belongs to the filter config: limits that fail closed need an instance of
 *   their own (stage 3) beside those that fail open (stage 2).
 * - When the service cannot answer (error or `timeout`), the filter counts
 *   `cluster.<cluster>.ratelimit.error` and, failing open, `failure_mode_allowed`; failing closed it
 *   answers `status_on_error`.
 */
import { isIP } from 'node:net';
import type { EnvironmentIR, RateLimitIR, RateLimitServiceIR } from '../ir/ir';
import { EXTENSION, TYPE, duration, names, typed } from './common';
import { FLEET_STAGE, environmentLimits, isFleet } from './rate-limit';
import type { JsonObject } from './resources';

export type ServiceFailure = RateLimitIR['onServiceFailure'];

/** Answer to a request whose fail-closed limit could not be checked: the service is unavailable. */
export const FLEET_DENY_STATUS = 503;

/**
 * Filter config of the fleet instance for `failure`, or null when the environment has no
 * rate-limit service (the slot is then left out of its chain: the filter needs a cluster to call).
 * An environment with a service always has both instances, so a first fleet limit changes only
 * the routes and the service's configuration, never the listener.
 */
export function fleetRateLimitConfig(env: EnvironmentIR, failure: ServiceFailure): JsonObject | null {
  const service = env.rateLimitService;
  if (service === undefined) return null;
  return typed(TYPE.rateLimit, {
    domain: service.domain,
    stage: FLEET_STAGE[failure],
    stat_prefix: `portcullis_fleet_${failure}`,
    timeout: duration(service.timeoutMs),
    failure_mode_deny: failure === 'deny',
    ...(failure === 'deny' ? { status_on_error: { code: 'ServiceUnavailable' } } : {}),
    enable_x_ratelimit_headers: 'DRAFT_VERSION_03',
    rate_limit_service: {
      grpc_service: { envoy_grpc: { cluster_name: names.rateLimitCluster }, timeout: duration(service.timeoutMs) },
      transport_api_version: 'V3',
    },
  });
}

/** The cluster reaching the rate-limit service (gRPC, so HTTP/2), or none without a service. */
export function rateLimitServiceClusters(env: EnvironmentIR): JsonObject[] {
  const service = env.rateLimitService;
  if (service === undefined) return [];
  return [rateLimitServiceCluster(service)];
}

function rateLimitServiceCluster(service: RateLimitServiceIR): JsonObject {
  const name = names.rateLimitCluster;
  return {
    name,
    type: isIP(service.address) !== 0 ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: service.address, port_value: service.port } } } }] }],
    },
    typed_extension_protocol_options: {
      [EXTENSION.httpProtocolOptions]: typed(TYPE.httpProtocolOptions, { explicit_http_config: { http2_protocol_options: {} } }),
    },
  };
}

/** The environment's fleet limits, one per name, sorted by name (what the service must know). */
export function fleetLimits(env: EnvironmentIR): RateLimitIR[] {
  return environmentLimits(env, isFleet);
}
