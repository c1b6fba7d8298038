/**
 * The xDS control server: publishes compiled snapshots per fleet and serves them to Envoy over ADS
 * (state-of-the-world and delta) on @grpc/grpc-js. The git follower, the HTTP edge and the `serve`
 * command sit on top of this API (docs/xds-server.md).
 */
import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { EnvoyResources, XdsKind } from '../compiler/envoy/resources';
import type { Diagnostic, Result } from '../compiler/result';
import type { AuditRecorder } from './audit-hook';
import { DeltaStream } from './delta';
import { loadEnvoyApi } from './descriptors';
import { createEncoder } from './encode';
import { createXdsMetrics, type NodeSyncSample, type XdsMetrics } from './metrics';
import { REFUSAL_REASONS, RefusedStreams, type RefusalReason, type RefusedStream } from './refused-streams';
import { buildSnapshot, EncodeCache, KINDS_IN_ORDER, type Snapshot, type SnapshotMeta } from './snapshot';
import { SotwStream } from './sotw';
import { type AdsStream, type NodeStatus, type StreamContext, VersionHistory } from './stream';
import { createAdsCodec, type DeltaDiscoveryRequest, type DiscoveryRequest, type NodeInfo } from './wire';

export type { NodeStatus, NodeTypeStatus, NodeNack } from './stream';
export type { Snapshot, SnapshotMeta } from './snapshot';
export type { RefusedStream } from './refused-streams';

/** PEM contents for mTLS on the xDS port: clients must present a certificate signed by `ca`. */
export interface XdsTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string | Buffer;
}

export interface XdsServerOptions {
  readonly logger: Logger;
  /** prom-client Registry the server's metrics are registered on. */
  readonly registry: Registry;
  /** Without it the port is plaintext (loopback/dev); with it, mTLS with required client certificates. */
  readonly tls?: XdsTls;
  /** FileDescriptorSet path; default $ENVOY_DESCRIPTORS. */
  readonly descriptorsPath?: string;
  /** Which published fleet a node gets; default `node.cluster`. */
  readonly fleetOf?: (node: NodeInfo) => string;
  /** ControlPlane.identifier sent in every response; default `portcullis@<hostname>`. */
  readonly controlPlaneId?: string;
  /** Audit sink for xds.pushed / xds.ack / xds.nack (audit/'s AuditSink); none when absent. */
  readonly audit?: AuditRecorder;
  /**
   * More gRPC services on the same port (the monitor's access-log service): Envoy reaches them
   * through the cluster it already has for ADS.
   */
  readonly services?: readonly { readonly definition: grpc.ServiceDefinition; readonly implementation: grpc.UntypedServiceImplementation }[];
}

/** What one publication changed for one fleet. */
export interface FleetPublication {
  readonly fleet: string;
  readonly environment: string;
  readonly version: string;
  /** Types whose version differs from the previously published snapshot of the fleet. */
  readonly changedTypes: readonly XdsKind[];
}

export interface Publication {
  readonly fleets: readonly FleetPublication[];
  /** Fleets published before and absent now: their streams are closed with NOT_FOUND. */
  readonly removedFleets: readonly string[];
  /** Resources encoded by this publication (the rest came from the encode cache). */
  readonly encoded: number;
}

/** How a publication may treat the fleets in force. */
export interface PublishOptions {
  /**
   * Fleets with connected Envoys that this publication may drop (`true`: any). By default dropping
   * one is refused: every Envoy of it would lose its control server at once.
   */
  readonly allowFleetRemoval?: boolean | readonly string[];
}

export interface XdsServer {
  /**
   * Publishes one compiled commit: fleet (node.cluster) → its resources. All or nothing: if any
   * resource does not encode, or the commit drops a fleet with connected Envoys (unless allowed),
   * nothing changes and the errors come back.
   */
  setSnapshots(fleets: ReadonlyMap<string, EnvoyResources>, meta: SnapshotMeta, options?: PublishOptions): Result<Publication>;
  /** Binds host:port (port 0 picks one) and resolves to the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Status of every connected node (one entry per ADS stream). */
  nodes(): NodeStatus[];
  /** Nodes whose streams were refused recently (unknown fleet, …), most recent first. */
  refusedStreams(): RefusedStream[];
  /** The snapshots in force, by fleet. */
  snapshots(): ReadonlyMap<string, Snapshot>;
  /** Meta of the publication in force; null before the first one. */
  published(): SnapshotMeta | null;
  /** Ends every stream with UNAVAILABLE (Envoy reconnects elsewhere), waits up to graceMs, then forces. */
  shutdown(graceMs: number): Promise<void>;
  readonly metrics: XdsMetrics;
}

type AnyCall = grpc.ServerDuplexStream<unknown, unknown>;

export function createXdsServer(options: XdsServerOptions): XdsServer {
  const root = loadEnvoyApi(options.descriptorsPath);
  const codec = createAdsCodec(root);
  const metrics = createXdsMetrics(options.registry, () => nodeSyncSamples());
  const cache = new EncodeCache(createEncoder(root), metrics.encodes);
  // A caller that already named the component (serve passes `component: ads`) is not named twice.
  const logger = 'component' in options.logger.bindings() ? options.logger : options.logger.child({ component: 'ads' });
  const refused = new RefusedStreams();
  for (const reason of REFUSAL_REASONS) metrics.rejectedStreams.inc({ reason }, 0);
  const fleetOf = options.fleetOf ?? ((node: NodeInfo) => node.cluster);
  let nonce = 0;
  const ctx: StreamContext = {
    metrics,
    logger,
    controlPlane: options.controlPlaneId ?? `portcullis@${hostname()}`,
    nextNonce: () => (++nonce).toString(36),
    clusterHistory: new VersionHistory(),
    ...(options.audit ? { audit: options.audit } : {}),
  };

  let current = new Map<string, Snapshot>();
  /** Per fleet: since when its snapshot version is the one in force (a node not in sync is stale since then). */
  const fleetSince = new Map<string, { version: string; since: number }>();
  let meta: SnapshotMeta | null = null;
  let streamSeq = 0;
  let shuttingDown = false;
  /** Bound streams by fleet; unbound streams wait in `waiting` for the first publication. */
  const byFleet = new Map<string, Set<AdsStream>>();
  const calls = new Map<AdsStream, AnyCall>();
  const waiting = new Set<() => void>();

  const server = new grpc.Server({
    // Envoy keeps one ADS stream per connection; pings keep idle ones honest across NAT and LBs.
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc.max_send_message_length': 256 * 1024 * 1024,
  });

  function reject(call: AnyCall, code: grpc.status, reason: RefusalReason, details: string, who: { node: string; fleet: string; peer: string }): void {
    metrics.rejectedStreams.inc({ reason });
    refused.record({ ...who, reason, message: details });
    logger.warn({ ...who, code: grpc.status[code], reason }, details);
    call.emit('error', { code, details });
  }

  /** Per-node sync state for the in-sync and staleness gauges (computed at scrape time). */
  function nodeSyncSamples(): NodeSyncSample[] {
    const now = Date.now();
    const out: NodeSyncSample[] = [];
    for (const [fleet, streams] of byFleet) {
      const since = fleetSince.get(fleet)?.since ?? now;
      for (const s of streams) {
        const st = s.status();
        const behindSince = Math.max(since, Date.parse(st.connectedAt));
        out.push({ node: st.id, fleet, inSync: st.inSync, staleSeconds: st.inSync ? 0 : Math.max(0, (now - behindSince) / 1000) });
      }
    }
    return out;
  }

  /** Binds a stream to its fleet's snapshot on its first request. */
  function bind(stream: AdsStream, call: AnyCall, node: NodeInfo | null): 'bound' | 'wait' | 'rejected' {
    if (!node) {
      reject(call, grpc.status.INVALID_ARGUMENT, 'no_node', 'the first DiscoveryRequest of a stream must carry node', { node: '', fleet: '', peer: stream.peer });
      return 'rejected';
    }
    if (meta === null) return 'wait';
    const fleet = fleetOf(node);
    const snapshot = current.get(fleet);
    if (!snapshot) {
      const known = [...current.keys()].sort().join(', ') || 'none';
      reject(
        call,
        grpc.status.NOT_FOUND,
        'unknown_fleet',
        `no configuration for fleet "${fleet}" (node "${node.id}", node.cluster "${node.cluster}"): no Environment lists this fleet; known fleets: ${known}`,
        { node: node.id, fleet, peer: stream.peer },
      );
      return 'rejected';
    }
    refused.forget(node.id);
    stream.bind(node, snapshot);
    let set = byFleet.get(fleet);
    if (!set) byFleet.set(fleet, (set = new Set()));
    set.add(stream);
    metrics.connectedNodes.inc({ environment: snapshot.environment, fleet, variant: stream.variant });
    logger.info(
      { node: node.id, fleet, environment: snapshot.environment, variant: stream.variant, peer: stream.peer, userAgent: `${node.userAgentName} ${node.userAgentVersion}` },
      'xds node connected',
    );
    return 'bound';
  }

  function close(stream: AdsStream, why: string): void {
    if (stream.isClosed) return;
    stream.markClosed();
    calls.delete(stream);
    const node = stream.nodeInfo;
    const snapshot = stream.snapshot;
    if (node && snapshot) {
      const fleet = fleetOf(node);
      byFleet.get(fleet)?.delete(stream);
      metrics.connectedNodes.dec({ environment: snapshot.environment, fleet, variant: stream.variant });
      logger.info({ node: node.id, fleet, variant: stream.variant, why }, 'xds node disconnected');
    }
  }

  /** Wires one ADS call to its stream object; requests queue while the stream waits for snapshots. */
  function serve<Req extends { node: NodeInfo | null }>(call: AnyCall, stream: AdsStream & { onRequest(r: Req): void }): void {
    calls.set(stream, call);
    let state: 'new' | 'wait' | 'bound' | 'rejected' = 'new';
    const queue: Req[] = [];
    const handle = (req: Req): void => {
      if (state === 'rejected' || stream.isClosed) return;
      if (state !== 'bound') {
        queue.push(req);
        if (state === 'wait') return;
        const first = queue[0]!;
        const outcome = bind(stream, call, first.node);
        if (outcome === 'wait') {
          state = 'wait';
          const retry = (): void => {
            waiting.delete(retry);
            state = 'new';
            const queued = queue.splice(0);
            for (const q of queued) handle(q);
          };
          waiting.add(retry);
          return;
        }
        state = outcome;
        if (outcome === 'rejected') {
          close(stream, 'rejected');
          return;
        }
        const queued = queue.splice(0);
        for (const q of queued) run(q);
        return;
      }
      run(req);
    };
    const run = (req: Req): void => {
      try {
        stream.onRequest(req);
      } catch (e) {
        // A bug, not a user mistake: end this stream loudly; Envoy reconnects and keeps its config.
        logger.error({ err: e, node: stream.nodeInfo?.id }, 'xds stream failed');
        call.emit('error', { code: grpc.status.INTERNAL, details: 'internal error in the control server' });
        close(stream, 'internal error');
      }
    };
    call.on('data', handle);
    call.on('end', () => {
      close(stream, 'client closed the stream');
      call.end();
    });
    call.on('cancelled', () => close(stream, 'cancelled'));
    call.on('error', () => close(stream, 'stream error'));
    call.on('close', () => close(stream, 'closed'));
  }

  const write = (call: AnyCall) => (response: unknown): void => {
    call.write(response);
  };

  server.addService(codec.service, {
    StreamAggregatedResources: (call: AnyCall) => {
      const stream = new SotwStream(++streamSeq, call.getPeer(), ctx, write(call));
      serve<DiscoveryRequest>(call, stream);
    },
    DeltaAggregatedResources: (call: AnyCall) => {
      const stream = new DeltaStream(++streamSeq, call.getPeer(), ctx, write(call));
      serve<DeltaDiscoveryRequest>(call, stream);
    },
  });

  for (const extra of options.services ?? []) server.addService(extra.definition, extra.implementation);

  /** A dropped fleet that still has connected Envoys, unless the publication allows dropping it. */
  function droppedConnectedFleets(fleets: ReadonlyMap<string, EnvoyResources>, next: SnapshotMeta, allow: PublishOptions['allowFleetRemoval']): Diagnostic[] {
    if (allow === true) return [];
    const errors: Diagnostic[] = [];
    for (const [fleet, streams] of [...byFleet].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (fleets.has(fleet) || streams.size === 0 || (Array.isArray(allow) && allow.includes(fleet))) continue;
      const nodes = [...new Set([...streams].map((s) => s.nodeInfo?.id ?? '?'))].sort();
      const shown = nodes.length > 5 ? `${nodes.slice(0, 5).join(', ')}, …` : nodes.join(', ');
      errors.push({
        file: '',
        line: 0,
        column: 0,
        subject: `fleet/${fleet}`,
        path: '',
        message:
          `commit ${next.commit.slice(0, 12)} drops fleet "${fleet}" (no Environment lists it any more) while ${nodes.length} Envoy(s) of it are connected (${shown}); ` +
          `they would get no configuration at all. Refused; to remove the fleet on purpose, add the trailer "Portcullis-Allow-Fleet-Removal: ${fleet}" to the commit message, or run serve with --allow-fleet-removal`,
      });
    }
    return errors;
  }

  function setSnapshots(fleets: ReadonlyMap<string, EnvoyResources>, next: SnapshotMeta, options: PublishOptions = {}): Result<Publication> {
    const dropped = droppedConnectedFleets(fleets, next, options.allowFleetRemoval);
    if (dropped.length > 0) {
      logger.error({ commit: next.commit, errors: dropped }, 'xds publication refused: it drops fleets with connected Envoys; the previous snapshots stay in force');
      return { ok: false, errors: dropped };
    }
    const errors: Diagnostic[] = [];
    const built = new Map<string, Snapshot>();
    const encodesBefore = cache.encodeCount;
    for (const [fleet, resources] of [...fleets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const out = buildSnapshot(resources, next, cache);
      if (!out.ok) {
        errors.push(...out.errors);
        continue;
      }
      built.set(fleet, out.value);
    }
    const encoded = cache.encodeCount - encodesBefore;
    if (errors.length > 0) {
      logger.error({ commit: next.commit, errors: errors.length, first: errors.slice(0, 5) }, 'xds publication refused: resources do not encode; the previous snapshots stay in force');
      return { ok: false, errors };
    }
    const previous = current;
    current = built;
    meta = next;
    cache.retain(built.values());

    metrics.servedVersion.reset();
    const fleetsOut: FleetPublication[] = [];
    const publishedAt = Date.now();
    for (const fleet of [...fleetSince.keys()]) if (!built.has(fleet)) fleetSince.delete(fleet);
    for (const [fleet, snapshot] of built) {
      metrics.servedVersion.set({ environment: snapshot.environment, fleet, version: snapshot.version, commit: snapshot.commit }, 1);
      // Every (type, fleet) NACK series exists from the fleet's first publication, at 0.
      for (const type of KINDS_IN_ORDER) metrics.nacks.inc({ type, fleet }, 0);
      if (fleetSince.get(fleet)?.version !== snapshot.version) fleetSince.set(fleet, { version: snapshot.version, since: publishedAt });
      const old = previous.get(fleet);
      fleetsOut.push({
        fleet,
        environment: snapshot.environment,
        version: snapshot.version,
        changedTypes: KINDS_IN_ORDER.filter((k) => !old || old.types[k].version !== snapshot.types[k].version),
      });
    }
    const removedFleets = [...previous.keys()].filter((f) => !built.has(f)).sort();
    logger.info({ commit: next.commit, fleets: fleetsOut.map((f) => `${f.fleet}@${f.version}`), removedFleets, encoded }, 'xds snapshots published');

    for (const [fleet, streams] of byFleet) {
      const snapshot = built.get(fleet);
      for (const stream of [...streams]) {
        if (snapshot) {
          if (stream.snapshot !== snapshot) stream.setSnapshot(snapshot);
          continue;
        }
        const call = calls.get(stream);
        if (call) {
          reject(call, grpc.status.NOT_FOUND, 'fleet_removed', `fleet "${fleet}" is no longer configured (commit ${next.commit})`, { node: stream.nodeInfo?.id ?? '', fleet, peer: stream.peer });
        }
        close(stream, 'fleet removed');
      }
    }
    for (const retry of [...waiting]) retry();
    return { ok: true, value: { fleets: fleetsOut, removedFleets, encoded } };
  }

  return {
    metrics,
    setSnapshots,
    listen(host: string, port: number): Promise<number> {
      const credentials = options.tls
        ? grpc.ServerCredentials.createSsl(
            Buffer.from(options.tls.ca),
            [{ cert_chain: Buffer.from(options.tls.cert), private_key: Buffer.from(options.tls.key) }],
            true,
          )
        : grpc.ServerCredentials.createInsecure();
      const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
      return new Promise((resolve, reject_) => {
        server.bindAsync(address, credentials, (err, bound) => {
          if (err) return reject_(err);
          logger.info({ host, port: bound, tls: Boolean(options.tls) }, 'xds server listening');
          resolve(bound);
        });
      });
    },
    nodes(): NodeStatus[] {
      const out: NodeStatus[] = [];
      for (const streams of byFleet.values()) for (const s of streams) out.push(s.status());
      return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.streamId - b.streamId));
    },
    refusedStreams: () => refused.list(),
    snapshots: () => current,
    published: () => meta,
    shutdown(graceMs: number): Promise<void> {
      if (shuttingDown) return Promise.resolve();
      shuttingDown = true;
      for (const [stream, call] of [...calls]) {
        call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'control server shutting down' });
        close(stream, 'server shutdown');
      }
      waiting.clear();
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
