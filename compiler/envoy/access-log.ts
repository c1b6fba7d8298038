/**
 * Access logs of the edge listener: every HTTP request is streamed over the gRPC Access Log Service
 * to the Portcullis monitor, through the ADS cluster every fleet already has (no bootstrap change).
 * Part of the Envoy translator. What the monitor needs and nothing more: no request headers (so never
 * Authorization or cookies), and of the verified token only `sub`, `jti` and the client id; besides,
 * the shadow overlay that would have refused the request (shadow.ts).
 */
import { JWT_METADATA_NAMESPACE, JWT_PAYLOAD_KEY, TYPE, XDS_CLUSTER, duration } from './common';
import type { JsonObject } from './resources';
import { SHADOW_METADATA_NAMESPACE, SHADOW_POLICY_KEY } from './shadow';

/** Envoy's gRPC access logger extension name. */
export const ALS_LOGGER = 'envoy.access_loggers.http_grpc';
/**
 * Entries buffered per worker before a flush. When the receiver is slow or away, Envoy drops entries
 * past this (stat access_logs.grpc_access_log.logs_dropped) instead of holding requests back.
 */
export const ALS_BUFFER_BYTES = 16_384;
/** Flush at least this often: the monitor's windows are seconds wide. */
export const ALS_FLUSH_MS = 1000;

/** Token claims the monitor counts per (custom tag name → payload claim). */
export const ALS_TOKEN_TAGS = { sub: 'sub', jti: 'jti', client_id: 'client_id' } as const;

/**
 * Custom tag carrying the shadow overlay that would have refused the request (`shadow <name>`, the
 * RBAC shadow policy id; absent when none would): a policy name, never a secret.
 */
export const ALS_SHADOW_TAG = 'shadow_policy';

/** `log_name` of an environment's logger: the monitor reads the environment from it. */
export const alsLogName = (environment: string): string => `portcullis/${environment}`;

function claimTag(tag: string, claim: string): JsonObject {
  return {
    tag,
    metadata: { kind: { request: {} }, metadata_key: { key: JWT_METADATA_NAMESPACE, path: [{ key: JWT_PAYLOAD_KEY }, { key: claim }] } },
  };
}

/** The HttpConnectionManager `access_log` list for environment `environment`. */
export function accessLogs(environment: string): JsonObject[] {
  return [
    {
      name: ALS_LOGGER,
      typed_config: {
        '@type': TYPE.httpGrpcAccessLog,
        common_config: {
          log_name: alsLogName(environment),
          grpc_service: { envoy_grpc: { cluster_name: XDS_CLUSTER } },
          transport_api_version: 'V3',
          buffer_size_bytes: ALS_BUFFER_BYTES,
          buffer_flush_interval: duration(ALS_FLUSH_MS),
          custom_tags: [
            ...Object.entries(ALS_TOKEN_TAGS).map(([tag, claim]) => claimTag(tag, claim)),
            { tag: ALS_SHADOW_TAG, metadata: { kind: { request: {} }, metadata_key: { key: SHADOW_METADATA_NAMESPACE, path: [{ key: SHADOW_POLICY_KEY }] } } },
          ],
        },
      },
    },
  ];
}
