/**
 * Upstream clusters, one per IR service: EDS over ADS when every endpoint is an IP address (EDS
 * carries addresses, not names), STRICT_DNS with inline endpoints otherwise. Part of the Envoy
 * translator (IR → Envoy resources).
 */
import { isIP } from 'node:net';
import type { HealthCheckIR, ServiceIR, UpstreamTlsIR } from '../ir/ir';
import { EXTENSION, TYPE, adsConfigSource, duration, names, typed } from './common';
import { loadAssignment } from './endpoints';
import type { JsonObject } from './resources';

/** True when Envoy can take the service's endpoints over EDS (IP literals only). */
export function usesEds(service: ServiceIR): boolean {
  return service.endpoints.every((e) => isIP(e.address) !== 0);
}

/** Sorted status codes → Envoy's half-open ranges, contiguous codes merged: [200,201,204] → [200,202),[204,205). */
export function statusRanges(statuses: readonly number[]): JsonObject[] {
  const ranges: { start: number; end: number }[] = [];
  for (const code of [...statuses].sort((a, b) => a - b)) {
    const last = ranges[ranges.length - 1];
    if (last && last.end === code) last.end = code + 1;
    else if (!last || code >= last.end) ranges.push({ start: code, end: code + 1 });
  }
  return ranges.map((r) => ({ start: r.start, end: r.end }));
}

function healthCheck(hc: HealthCheckIR, protocol: ServiceIR['protocol']): JsonObject {
  return {
    timeout: duration(hc.timeoutMs),
    interval: duration(hc.intervalMs),
    // Envoy probes idle clusters only every 60 s by default: an idle tier 0 that died would keep
    // its traffic for a minute after the first request. Probe at the policy's interval always.
    no_traffic_interval: duration(hc.intervalMs),
    healthy_threshold: hc.healthyThreshold,
    unhealthy_threshold: hc.unhealthyThreshold,
    http_health_check: {
      path: hc.path,
      // Empty host = Envoy sends the cluster name, which is the service name here.
      ...(hc.host === null ? {} : { host: hc.host }),
      expected_statuses: statusRanges(hc.expectedStatuses),
      // Probes speak HTTP/1.1 unless told otherwise, which an HTTP/2-only upstream may refuse.
      ...(protocol === 'http2' ? { codec_client_type: 'HTTP2' } : {}),
    },
  };
}

/** TLS to an upstream: verify against the CA file, and the SANs when any are listed. */
export function upstreamTlsSocket(tls: UpstreamTlsIR, protocol: ServiceIR['protocol']): JsonObject {
  return {
    name: EXTENSION.tls,
    typed_config: typed(TYPE.upstreamTls, {
      ...(tls.sni === null ? {} : { sni: tls.sni }),
      common_tls_context: {
        alpn_protocols: [protocol === 'http2' ? 'h2' : 'http/1.1'],
        validation_context: {
          trusted_ca: { filename: tls.caFile },
          ...(tls.subjectAltNames.length === 0
            ? {}
            : {
                match_typed_subject_alt_names: tls.subjectAltNames.map((san) => ({
                  san_type: isIP(san) !== 0 ? 'IP_ADDRESS' : 'DNS',
                  matcher: { exact: san },
                })),
              }),
        },
      },
    }),
  };
}

/** The CDS resource of one service; `bufferLimitBytes` is the listener's `perConnectionBufferLimitBytes`. */
export function serviceCluster(service: ServiceIR, bufferLimitBytes: number): JsonObject {
  const name = names.serviceCluster(service.name);
  const discovery: JsonObject = usesEds(service)
    ? { type: 'EDS', eds_cluster_config: { eds_config: adsConfigSource() } }
    : { type: 'STRICT_DNS', load_assignment: loadAssignment(service) };
  return {
    name,
    ...discovery,
    connect_timeout: duration(service.connectTimeoutMs),
    per_connection_buffer_limit_bytes: bufferLimitBytes,
    circuit_breakers: {
      thresholds: [
        {
          priority: 'DEFAULT',
          max_connections: service.circuitBreaker.maxConnections,
          max_pending_requests: service.circuitBreaker.maxPendingRequests,
          max_requests: service.circuitBreaker.maxRequests,
          max_retries: service.circuitBreaker.maxRetries,
        },
      ],
    },
    ...(service.healthCheck === null ? {} : { health_checks: [healthCheck(service.healthCheck, service.protocol)] }),
    ...(service.outlierDetection === null
      ? {}
      : {
          outlier_detection: {
            consecutive_5xx: service.outlierDetection.consecutive5xx,
            interval: duration(service.outlierDetection.intervalMs),
            base_ejection_time: duration(service.outlierDetection.baseEjectionTimeMs),
            max_ejection_percent: service.outlierDetection.maxEjectionPercent,
          },
        }),
    // A quarantined endpoint leaves EDS; without this Envoy keeps sending it traffic for as long as
    // it still passes health checks.
    ignore_health_on_host_removal: true,
    typed_extension_protocol_options: {
      [EXTENSION.httpProtocolOptions]: typed(TYPE.httpProtocolOptions, {
        explicit_http_config: service.protocol === 'http2' ? { http2_protocol_options: {} } : { http_protocol_options: {} },
      }),
    },
    ...(service.tls === null ? {} : { transport_socket: upstreamTlsSocket(service.tls, service.protocol) }),
  };
}
