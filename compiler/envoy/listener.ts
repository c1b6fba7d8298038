/**
 * The edge listener: one HttpConnectionManager configured per Envoy's "Configuring Envoy as an edge
 * proxy" guidance, routes from RDS over ADS (one table, or one per scope with SRDS). Part of the Envoy translator (IR → Envoy resources).
 */
import type { EnvironmentIR } from '../ir/ir';
import { accessLogs } from './access-log';
import { EXTENSION, TYPE, adsConfigSource, duration, names, typed } from './common';
import { httpFilters } from './http-filters';
import { jwtLocalReplyMappers } from './jwt';
import type { JsonObject } from './resources';
import { scopedRoutesHcm } from './route-scopes';

/** HTTP/2 limits from Envoy's edge guidance: bound per-connection concurrency and buffering. */
const EDGE_HTTP2: JsonObject = {
  max_concurrent_streams: 100,
  initial_stream_window_size: 65536,
  initial_connection_window_size: 1048576,
};

export function httpConnectionManager(env: EnvironmentIR): JsonObject {
  const l = env.listener;
  return typed(TYPE.hcm, {
    stat_prefix: 'portcullis',
    codec_type: 'AUTO',
    // The client address is the TCP peer, or taken from X-Forwarded-For past the trusted hops: RBAC
    // networks and per-client rate limits depend on it, so never trust what a client sends.
    use_remote_address: true,
    xff_num_trusted_hops: l.xffNumTrustedHops,
    // Route and RBAC decisions see one spelling of each path: /a/../b is /b, /a//b is /a/b.
    normalize_path: true,
    merge_slashes: true,
    // %2F inside a path is how route-based access rules get bypassed (one path to the router,
    // another to the upstream). Refuse it with 400: API clients rarely follow redirects for
    // non-GET methods, so UNESCAPE_AND_REDIRECT would fail them less clearly.
    path_with_escaped_slashes_action: 'REJECT_REQUEST',
    common_http_protocol_options: {
      idle_timeout: duration(l.idleTimeoutMs),
      // Upstreams that treat `_` and `-` alike would otherwise see headers Envoy never matched.
      headers_with_underscores_action: 'REJECT_REQUEST',
    },
    http2_protocol_options: EDGE_HTTP2,
    stream_idle_timeout: duration(l.streamIdleTimeoutMs),
    request_timeout: duration(l.requestTimeoutMs),
    request_headers_timeout: duration(l.requestHeadersTimeoutMs),
    max_request_headers_kb: l.maxRequestHeadersKb,
    // Route scopes: the route table per first path segment (route-scopes.ts); else one table.
    ...(l.routeScopes === 'firstPathSegment'
      ? scopedRoutesHcm(env.name)
      : { rds: { route_config_name: names.routeConfig(env.name), config_source: adsConfigSource() } }),
    http_filters: httpFilters(env),
    // With JWT providers only, like jwt_authn's providers: the listener already changes with them.
    ...(env.jwtProviders.length > 0 ? { local_reply_config: { mappers: jwtLocalReplyMappers() } } : {}),
    access_log: accessLogs(env.name),
  });
}

export function edgeListener(env: EnvironmentIR): JsonObject {
  return {
    name: names.listener(env.name),
    address: {
      socket_address: {
        address: env.listener.address,
        port_value: env.listener.port,
        // `::` means every address: accept IPv4 clients too (as IPv4-mapped IPv6).
        ...(env.listener.address === '::' ? { ipv4_compat: true } : {}),
      },
    },
    per_connection_buffer_limit_bytes: env.listener.perConnectionBufferLimitBytes,
    filter_chains: [{ filters: [{ name: EXTENSION.hcm, typed_config: httpConnectionManager(env) }] }],
  };
}
