/**
 * What the Envoy translator hands to the xDS server and to `portcullis render`: Envoy v3 resources as
 * proto3 canonical JSON (the same JSON Envoy accepts in a bootstrap), one list per xDS type.
 */

/** A JSON value as proto3 canonical JSON allows (durations as "1.5s", Any as {"@type": ..., ...}). */
export type JsonValue = string | number | boolean | null | JsonObject | readonly JsonValue[];
export interface JsonObject {
  readonly [key: string]: JsonValue;
}

export const TYPE_URL = {
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  /** Scoped routes (SRDS): which RouteConfiguration a request's first path segment selects. */
  scope: 'type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration',
  /** The rate-limit service's configuration (envoyproxy/ratelimit over xDS), not an Envoy type. */
  ratelimit: 'type.googleapis.com/ratelimit.config.ratelimit.v3.RateLimitConfig',
} as const;

export type XdsKind = keyof typeof TYPE_URL;

export interface EnvoyResource {
  /** Resource name, unique within its type and stable across compilations. */
  readonly name: string;
  /** Content hash of `value` (hex); equal content gives an equal version on every server replica. */
  readonly version: string;
  /** The resource in proto3 canonical JSON, without the outer `@type`. */
  readonly value: JsonObject;
}

/**
 * All resources for one (environment, fleet), each list sorted by name. Clusters and endpoints are
 * delivered before listeners and routes (make-before-break); the server decides the ordering, this
 * is plain data.
 */
export interface EnvoyResources {
  readonly environment: string;
  readonly fleet: string;
  readonly clusters: readonly EnvoyResource[];
  readonly endpoints: readonly EnvoyResource[];
  readonly listeners: readonly EnvoyResource[];
  readonly routes: readonly EnvoyResource[];
  /** ScopedRouteConfigurations of a fleet whose routes are split by first path segment; else empty. */
  readonly scopes: readonly EnvoyResource[];
  /** The rate-limit service's RateLimitConfig (one, named by its domain), empty without a service. */
  readonly rateLimitConfigs: readonly EnvoyResource[];
}
