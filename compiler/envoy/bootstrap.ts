/**
 * Envoy bootstraps: a static one with every translated resource inline (for `portcullis render
 * --bootstrap`, `envoy --mode validate` and tests), and a dynamic one that points a fleet member at
 * the Portcullis ADS server. Part of the Envoy translator; pure like the rest of it.
 */
import { isIP } from 'node:net';
import { EXTENSION, TYPE, XDS_CLUSTER, adsConfigSource, duration, typed } from './common';
import type { EnvoyResources, JsonObject, JsonValue } from './resources';

/** Admin listens on loopback by default: it can change runtime, drain listeners and dump config. */
const ADMIN_ADDRESS = '127.0.0.1';
export const DEFAULT_ADMIN_PORT = 9901;
/** Edge guidance: cap downstream connections so a connection flood exhausts a limit, not memory. */
export const DEFAULT_MAX_DOWNSTREAM_CONNECTIONS = 50_000;
export { XDS_CLUSTER } from './common';

/**
 * Backoff between attempts to re-open the ADS stream. Envoy's default (0.5 s base, 30 s cap, full
 * jitter) let Envoys come back 5–20 s after a control-server restart (measured, docs/operations.md);
 * a 3 s cap bounds that, and the jitter still spreads a fleet's reconnects over the interval.
 */
export const ADS_RETRY_BACKOFF = { baseIntervalMs: 250, maxIntervalMs: 3000 } as const;

function admin(port: number | undefined, host: string | undefined): JsonObject {
  return { address: { socket_address: { address: host ?? ADMIN_ADDRESS, port_value: port ?? DEFAULT_ADMIN_PORT } } };
}

function overloadManager(maxConnections: number | undefined): JsonObject {
  return {
    resource_monitors: [
      {
        name: 'envoy.resource_monitors.global_downstream_max_connections',
        typed_config: typed('type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig', {
          max_active_downstream_connections: maxConnections ?? DEFAULT_MAX_DOWNSTREAM_CONNECTIONS,
        }),
      },
    ],
  };
}

export interface StaticBootstrapOptions {
  /** Admin port on 127.0.0.1 (default 9901). */
  readonly adminPort?: number | undefined;
  /** node.id (default `portcullis-static`); node.cluster is the resources' fleet. */
  readonly nodeId?: string | undefined;
  /** Global downstream connection limit (default 50,000). */
  readonly maxDownstreamConnections?: number | undefined;
  /**
   * Where the access-log stream goes (a Portcullis monitor's gRPC port). Without it the listener
   * logs nothing: a static Envoy has no control server to send to.
   */
  readonly accessLogService?: { readonly host: string; readonly port: number } | undefined;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The ScopedRouteConfiguration list of a static listener: each scope with its route configuration inline. */
function inlineScopes(listener: JsonObject, scopes: readonly JsonObject[], routes: ReadonlyMap<string, JsonObject>): JsonObject {
  return {
    scoped_route_configurations: scopes.map((scope) => {
      const { route_configuration_name: name, ...rest } = scope;
      const routeConfig = routes.get(name as string);
      if (!routeConfig) throw new Error(`staticBootstrap: listener ${String(listener['name'])} names missing route configuration ${String(name)}`);
      return { ...rest, route_configuration: routeConfig };
    }),
  };
}

/** The HttpConnectionManager's route source made static: its RDS table, or its scopes (SRDS), inline. */
function inlineRouteSource(listener: JsonObject, config: JsonObject, resources: InlineResources): JsonObject {
  const { rds, scoped_routes: scoped, ...rest } = config;
  if (isObject(scoped)) {
    const { rds_config_source: _rds, scoped_rds: _srds, ...builder } = scoped;
    return { ...rest, scoped_routes: { ...builder, scoped_route_configurations_list: inlineScopes(listener, resources.scopes, resources.routes) } };
  }
  const name = (rds as JsonObject)['route_config_name'] as string;
  const routeConfig = resources.routes.get(name);
  if (!routeConfig) throw new Error(`staticBootstrap: listener ${String(listener['name'])} names missing route configuration ${name}`);
  return { ...rest, route_config: routeConfig };
}

interface InlineResources {
  readonly routes: ReadonlyMap<string, JsonObject>;
  readonly scopes: readonly JsonObject[];
}

/** The listener with every RDS and SRDS reference replaced by what it names (access logs only when kept). */
function inlineRoutes(listener: JsonObject, resources: InlineResources, keepAccessLogs: boolean): JsonObject {
  const chains = (listener['filter_chains'] as readonly JsonObject[] | undefined) ?? [];
  return {
    ...listener,
    filter_chains: chains.map((chain) => ({
      ...chain,
      filters: ((chain['filters'] as readonly JsonObject[] | undefined) ?? []).map((filter) => {
        const config = filter['typed_config'];
        if (!isObject(config) || config['@type'] !== TYPE.hcm || !(isObject(config['rds']) || isObject(config['scoped_routes']))) return filter;
        const { access_log: accessLog, ...rest } = inlineRouteSource(listener, config, resources);
        return { ...filter, typed_config: { ...rest, ...(keepAccessLogs && accessLog ? { access_log: accessLog } : {}) } };
      }),
    })),
  };
}

/** An EDS cluster turned static, its endpoints inline (EDS clusters carry only IP addresses). */
function inlineEndpoints(cluster: JsonObject, assignments: ReadonlyMap<string, JsonObject>): JsonObject {
  if (cluster['type'] !== 'EDS') return cluster;
  const name = cluster['name'] as string;
  const assignment = assignments.get(name);
  if (!assignment) throw new Error(`staticBootstrap: EDS cluster ${name} has no ClusterLoadAssignment`);
  const { eds_cluster_config: _eds, ...rest } = cluster;
  return { ...rest, type: 'STATIC', load_assignment: assignment };
}

/** One bootstrap holding every resource inline: what the fleet would run, without a control server. */
export function staticBootstrap(resources: EnvoyResources, options: StaticBootstrapOptions = {}): JsonObject {
  const inline: InlineResources = { routes: new Map(resources.routes.map((r) => [r.name, r.value])), scopes: resources.scopes.map((s) => s.value) };
  const assignments = new Map(resources.endpoints.map((r) => [r.name, r.value]));
  return {
    node: { id: options.nodeId ?? 'portcullis-static', cluster: resources.fleet },
    admin: admin(options.adminPort, undefined),
    overload_manager: overloadManager(options.maxDownstreamConnections),
    static_resources: {
      listeners: resources.listeners.map((l) => inlineRoutes(l.value, inline, options.accessLogService !== undefined)),
      clusters: [
        ...resources.clusters.map((c) => inlineEndpoints(c.value, assignments)),
        ...(options.accessLogService ? [xdsCluster([{ host: options.accessLogService.host, port: options.accessLogService.port }], null)] : []),
      ],
    },
  };
}

export interface AdsTls {
  /** CA bundle that signed the control server's certificate. */
  readonly caFile: string;
  /** SNI and expected DNS SAN of the control server; default its host. */
  readonly serverName?: string | undefined;
  /** Client certificate and key for mutual TLS, both or neither. */
  readonly certChainFile?: string | undefined;
  readonly privateKeyFile?: string | undefined;
}

/** One control-server address (a host name or an IP literal, and a port). */
export interface XdsAddress {
  readonly host: string;
  readonly port: number;
}

export interface AdsBootstrapOptions {
  /** node.id: unique per Envoy (the control server tracks ACKs and NACKs per node id). */
  readonly nodeId: string;
  /** node.cluster: the fleet, which selects the environment on the control server. */
  readonly cluster: string;
  readonly xdsHost: string;
  readonly xdsPort: number;
  /**
   * Further control-server replicas besides xdsHost:xdsPort, endpoints of the same cluster: each
   * new ADS stream goes to the next healthy one (round robin), so a dead replica costs one backoff.
   */
  readonly extraXds?: readonly XdsAddress[] | undefined;
  /** Incremental (DELTA_GRPC) or state-of-the-world (GRPC) ADS. */
  readonly delta: boolean;
  readonly adminPort?: number | undefined;
  /** Admin listen address (default 127.0.0.1: admin can change runtime and drain listeners). */
  readonly adminHost?: string | undefined;
  /** ADS re-connect backoff (default ADS_RETRY_BACKOFF). */
  readonly retryBackoff?: { readonly baseIntervalMs: number; readonly maxIntervalMs: number } | undefined;
  readonly tls?: AdsTls | null | undefined;
  /**
   * How long a fresh Envoy waits for its first clusters and listeners before it starts anyway.
   * Default 0 = wait for ever: a fresh Envoy reports not-ready (admin /ready 503) and serves no
   * listener until the policy is in force, so load balancers keep traffic on members that have it.
   * Envoy's own default (15 s) would let it go "live" empty when the control server is down.
   * Running members are not affected: Envoy keeps its last config while the server is away.
   */
  readonly initialFetchTimeoutMs?: number | undefined;
  readonly maxDownstreamConnections?: number | undefined;
}

/**
 * TLS to the control server. With several replicas and no explicit server name, a replica may
 * present a certificate for any of the configured hosts (one cluster, one TLS context); SNI is the
 * first host name.
 */
function xdsTransportSocket(tls: AdsTls, hosts: readonly string[]): JsonObject {
  const names = tls.serverName !== undefined ? [tls.serverName] : [...new Set(hosts)];
  const sni = names.find((n) => isIP(n) === 0);
  if ((tls.certChainFile === undefined) !== (tls.privateKeyFile === undefined)) {
    throw new Error('adsBootstrap: tls.certChainFile and tls.privateKeyFile go together');
  }
  return {
    name: EXTENSION.tls,
    typed_config: typed(TYPE.upstreamTls, {
      ...(sni === undefined ? {} : { sni }),
      common_tls_context: {
        alpn_protocols: ['h2'],
        ...(tls.certChainFile !== undefined && tls.privateKeyFile !== undefined
          ? { tls_certificates: [{ certificate_chain: { filename: tls.certChainFile }, private_key: { filename: tls.privateKeyFile } }] }
          : {}),
        validation_context: {
          trusted_ca: { filename: tls.caFile },
          match_typed_subject_alt_names: names.map((n) => ({ san_type: isIP(n) !== 0 ? 'IP_ADDRESS' : 'DNS', matcher: { exact: n } })),
        },
      },
    }),
  };
}

/** A dynamic bootstrap: listeners, routes, clusters and endpoints all come over one ADS stream. */
export function adsBootstrap(options: AdsBootstrapOptions): JsonObject {
  const addresses: XdsAddress[] = [{ host: options.xdsHost, port: options.xdsPort }, ...(options.extraXds ?? [])];
  const fetchTimeout = duration(options.initialFetchTimeoutMs ?? 0);
  const backoff = options.retryBackoff ?? ADS_RETRY_BACKOFF;
  return {
    node: { id: options.nodeId, cluster: options.cluster },
    admin: admin(options.adminPort, options.adminHost),
    overload_manager: overloadManager(options.maxDownstreamConnections),
    dynamic_resources: {
      ads_config: {
        api_type: options.delta ? 'DELTA_GRPC' : 'GRPC',
        transport_api_version: 'V3',
        grpc_services: [
          {
            envoy_grpc: {
              cluster_name: XDS_CLUSTER,
              // On envoy_grpc, not on the GrpcService: Envoy reads the xDS stream backoff from here only.
              retry_policy: { retry_back_off: { base_interval: duration(backoff.baseIntervalMs), max_interval: duration(backoff.maxIntervalMs) } },
            },
          },
        ],
        // The node is the same on every request of a stream: send it once.
        set_node_on_first_message_only: true,
      },
      cds_config: { ...adsConfigSource(), initial_fetch_timeout: fetchTimeout },
      lds_config: { ...adsConfigSource(), initial_fetch_timeout: fetchTimeout },
    },
    static_resources: { clusters: [xdsCluster(addresses, options.tls)] },
  };
}

/** The static cluster of control-server replicas the ADS stream (and the access-log stream) runs over (HTTP/2, optionally TLS). */
function xdsCluster(addresses: readonly XdsAddress[], tls: AdsTls | null | undefined): JsonObject {
  const allLiteral = addresses.every((a) => isIP(a.host) !== 0);
  return {
    name: XDS_CLUSTER,
    type: allLiteral ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: '1s',
    load_assignment: {
      cluster_name: XDS_CLUSTER,
      endpoints: [{ lb_endpoints: addresses.map((a) => ({ endpoint: { address: { socket_address: { address: a.host, port_value: a.port } } } })) }],
    },
    typed_extension_protocol_options: {
      [EXTENSION.httpProtocolOptions]: typed(TYPE.httpProtocolOptions, {
        explicit_http_config: {
          http2_protocol_options: {
            // Notice a dead control server (half-open TCP) within seconds, then reconnect.
            connection_keepalive: { interval: '30s', timeout: '5s' },
          },
        },
      }),
    },
    ...(tls ? { transport_socket: xdsTransportSocket(tls, addresses.map((a) => a.host)) } : {}),
  };
}
