/**
 * The xDS control server: publishes compiled snapshots per fleet and serves them to Envoy over ADS
 * (state-of-the-world and delta) on its own gRPC server (grpc/server.ts). The git follower, the HTTP edge and the `serve`
 * command sit on top of this API (docs/xds-server.md).
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { EnvoyResources } from '../compiler/envoy/resources';
import { positionless, type Diagnostic, type Result } from '../compiler/result';
import { compareText } from '../compiler/text-order';
import type { AuditRecorder } from './audit-hook';
import { DeltaStream } from './delta';
import { loadEnvoyApi } from './descriptors';
import { createEncoder } from './encode';
import { PUBLICATION_SLICE, PUSH_COST, runInSlices, type SliceLimits, SlicedQueue, SliceTimer } from './fanout';
import { FleetStreams } from './fleet-streams';
import { createGrpcServer, type GrpcCall, type GrpcCallHandlers, type GrpcMethod, type GrpcServer, GrpcStatus } from '../grpc/server';
import { createXdsMetrics, watchEventLoop, type XdsMetrics } from './metrics';
import { type AllowFleetRemoval, type FleetSince, type Publication, planPublication, refusedFleetDrops } from './publication';
import { REFUSAL_REASONS, RefusedStreams, type RefusedStream } from './refused-streams';
import { RequestGate } from './request-gate';
import { buildSnapshot, EncodeCache, encodeSteps, keepUnchangedTypes, KINDS_IN_ORDER, type Snapshot, type SnapshotMeta } from './snapshot';
import { SotwStream } from './sotw';
import { type AdsStream, type NodeStatus, type StreamContext, VersionHistory } from './stream';
import { type AdsCodec, createAdsCodec, type DeltaDiscoveryRequest, type DiscoveryRequest, DELTA_METHOD, type NodeInfo, SOTW_METHOD } from './wire';

export type { NodeStatus, NodeTypeStatus, NodeNack } from './stream';
export type { Snapshot, SnapshotMeta } from './snapshot';
export type { RefusedStream } from './refused-streams';
export type { FleetPublication, Publication } from './publication';

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
  /** Bounds of one slice of publication work (encoding, pushes); PUBLICATION_SLICE unless given. */
  readonly publicationSlice?: SliceLimits;
  /**
   * More gRPC services on the same port (the monitor's access-log service): Envoy reaches them
   * through the cluster it already has for ADS.
   */
  readonly services?: readonly GrpcMethod[];
}

/** How a publication may treat the fleets in force. */
export interface PublishOptions {
  /**
   * Fleets with connected Envoys that this publication may drop (`true`: any). By default dropping
   * one is refused: every Envoy of it would lose its control server at once.
   */
  readonly allowFleetRemoval?: AllowFleetRemoval;
}

export interface XdsServer {
  /**
   * Publishes one compiled commit: fleet (node.cluster) → its resources. All or nothing: if any
   * resource does not encode, or the commit drops a fleet with connected Envoys (unless allowed),
   * nothing changes and the errors come back. Encoding runs in slices between turns of the event
   * loop; the promise resolves once the snapshots are in force (pushes queued). Publications run
   * one after the other, in the order of the calls.
   */
  setSnapshots(fleets: ReadonlyMap<string, EnvoyResources>, meta: SnapshotMeta, options?: PublishOptions): Promise<Result<Publication>>;
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

/**
 * The gRPC server: Envoy keeps one ADS stream per connection; pings keep idle ones honest across
 * NAT and LBs. ADS responses go to the socket as the shared frames they are.
 */
function grpcServer(logger: Logger, tls: XdsTls | undefined, methods: readonly GrpcMethod[]): GrpcServer {
  return createGrpcServer({
    methods,
    logger,
    ...(tls ? { tls } : {}),
    maxReceiveBytes: 16 * 1024 * 1024,
    keepalive: { timeMs: 60_000, timeoutMs: 20_000 },
  });
}

/** The shared parts every stream reads: metrics, logger, nonces, the cluster version history. */
function streamContext(options: XdsServerOptions, metrics: XdsMetrics): StreamContext {
  // A caller that already named the component (serve passes `component: ads`) is not named twice.
  const logger = 'component' in options.logger.bindings() ? options.logger : options.logger.child({ component: 'ads' });
  let nonce = 0;
  return {
    metrics,
    logger,
    controlPlane: options.controlPlaneId ?? `portcullis@${hostname()}`,
    nextNonce: () => (++nonce).toString(36),
    clusterHistory: new VersionHistory(),
    ...(options.audit ? { audit: options.audit } : {}),
  };
}

/** Encodes every fleet's resources through the cache (sorted by fleet); all errors, or every snapshot (types unchanged since `previous` keep its objects). */
function buildAll(fleets: ReadonlyMap<string, EnvoyResources>, meta: SnapshotMeta, cache: EncodeCache, previous: ReadonlyMap<string, Snapshot>): Result<Map<string, Snapshot>> {
  const errors: Diagnostic[] = [];
  const built = new Map<string, Snapshot>();
  for (const [fleet, resources] of [...fleets].sort(([a], [b]) => compareText(a, b))) {
    const out = buildSnapshot(resources, meta, cache);
    if (out.ok) built.set(fleet, keepUnchangedTypes(out.value, previous.get(fleet)));
    else errors.push(...out.errors);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: built };
}

/** The snapshots in force and since when each fleet's version holds. */
interface InForce {
  current: Map<string, Snapshot>;
  meta: SnapshotMeta | null;
  since: ReadonlyMap<string, FleetSince>;
}

/** What the call wiring shares with the publication side. */
interface Core {
  readonly state: InForce;
  readonly streams: FleetStreams;
  /** Streams whose first request came before the first publication: released by it. */
  readonly waiting: Map<AdsStream, () => void>;
  /** Pushes (and releases) after a publication, run in bounded slices. */
  readonly fanout: SlicedQueue;
  readonly logger: Logger;
}

type StreamOf<Req> = AdsStream & { onRequest(r: Req): void };

/** Wires one ADS call to its stream object through its request gate. */
function serveCall<Req extends { node: NodeInfo | null }>(core: Core, call: GrpcCall, stream: StreamOf<Req>, decode: (bytes: Buffer) => Req): GrpcCallHandlers {
  const { streams, waiting, state } = core;
  streams.opened(stream, call);
  const gate = new RequestGate<Req>({
    admit: (first) => {
      const outcome = streams.admit(stream, first.node, state.meta === null ? null : state.current);
      if (outcome === 'rejected') streams.close(stream, 'rejected');
      return outcome;
    },
    run: (req) => runRequest(core, call, stream, req),
    wait: (release) => waiting.set(stream, () => {
      if (!stream.isClosed) release();
    }),
  });
  const closed = (why: string): void => {
    waiting.delete(stream);
    streams.close(stream, why);
  };
  return {
    message(bytes) {
      if (stream.isClosed) return;
      let req: Req;
      try {
        req = decode(bytes);
      } catch (e) {
        call.end(GrpcStatus.INVALID_ARGUMENT, `the request does not decode: ${(e as Error).message}`);
        return closed('undecodable request');
      }
      gate.push(req);
    },
    halfClose() {
      closed('client closed the stream');
      call.end(GrpcStatus.OK);
    },
    closed,
  };
}

function runRequest<Req>(core: Core, call: GrpcCall, stream: StreamOf<Req>, req: Req): void {
  if (stream.isClosed) return;
  try {
    stream.onRequest(req);
  } catch (e) {
    streamFailed(core, call, stream, e);
  }
}

/** A bug, not a user mistake: end this stream loudly; Envoy reconnects and keeps its config. */
function streamFailed(core: Core, call: GrpcCall | undefined, stream: AdsStream, e: unknown): void {
  core.logger.error({ err: e, node: stream.nodeInfo?.id }, 'xds stream failed');
  call?.end(GrpcStatus.INTERNAL, 'internal error in the control server');
  core.streams.close(stream, 'internal error');
}

async function listenLogged(server: GrpcServer, logger: Logger, tls: boolean, host: string, port: number): Promise<number> {
  const bound = await server.listen(host, port);
  logger.info({ host, port: bound, tls }, 'xds server listening');
  return bound;
}

/** The ADS methods (both variants) and any extra methods on one gRPC server. */
function adsServer(core: Core, ctx: StreamContext, codec: AdsCodec, tls: XdsTls | undefined, extra: XdsServerOptions['services']): GrpcServer {
  let streamSeq = 0;
  const sotw: GrpcMethod = {
    path: SOTW_METHOD,
    open: (call) => serveCall(core, call, new SotwStream(++streamSeq, call.peer, ctx, (frame) => call.write(frame.bytes)), codec.decodeRequest),
  };
  const delta: GrpcMethod = {
    path: DELTA_METHOD,
    open: (call) => serveCall(core, call, new DeltaStream(++streamSeq, call.peer, ctx, (frame) => call.write(frame.bytes)), codec.decodeDeltaRequest),
  };
  return grpcServer(core.logger, tls, [sotw, delta, ...(extra ?? [])]);
}

/** Puts built snapshots in force: metrics, log line, every stream moved, waiting streams released. */
function putInForce(core: Core, metrics: XdsMetrics, built: ReadonlyMap<string, Snapshot>, meta: SnapshotMeta, publication: Publication): void {
  metrics.servedVersion.reset();
  for (const [fleet, snapshot] of built) {
    metrics.servedVersion.set({ environment: snapshot.environment, fleet, version: snapshot.version, commit: snapshot.commit }, 1);
    // Every (type, fleet) NACK series exists from the fleet's first publication, at 0.
    for (const type of KINDS_IN_ORDER) metrics.nacks.inc({ type, fleet }, 0);
  }
  const { fleets, removedFleets, encoded } = publication;
  core.logger.info({ commit: meta.commit, fleets: fleets.map((f) => `${f.fleet}@${f.version}`), removedFleets, encoded }, 'xds snapshots published');
  // Every stream reads the new snapshot now; the writes go out in slices (fanout.ts).
  core.streams.republish(built, meta.commit, (stream, snapshot) => {
    stream.retarget(snapshot);
    core.fanout.add(stream, () => stream.flush(), PUSH_COST[stream.variant]);
  });
  for (const [stream, release] of core.waiting) core.fanout.add(stream, release);
  core.waiting.clear();
}

export function createXdsServer(options: XdsServerOptions): XdsServer {
  const root = loadEnvoyApi(options.descriptorsPath);
  const state: InForce = { current: new Map(), meta: null, since: new Map() };
  const metrics = createXdsMetrics(options.registry, () => streams.syncSamples((fleet) => state.since.get(fleet)?.since));
  const cache = new EncodeCache(createEncoder(root), metrics.encodes);
  const ctx = streamContext(options, metrics);
  const logger = ctx.logger;
  const refused = new RefusedStreams();
  for (const reason of REFUSAL_REASONS) metrics.rejectedStreams.inc({ reason }, 0);
  const streams = new FleetStreams({ metrics, logger, refused, fleetOf: options.fleetOf ?? ((node: NodeInfo) => node.cluster) });
  const slices = new SliceTimer();
  const sliceLimits = options.publicationSlice ?? PUBLICATION_SLICE;
  const fanout = new SlicedQueue((stream, e) => streamFailed(core, streams.callOf(stream as AdsStream), stream as AdsStream, e), sliceLimits, undefined, slices);
  const core: Core = { state, streams, waiting: new Map(), fanout, logger };
  const loopWatch = watchEventLoop(options.registry, () => slices.takeLongestMs());
  const server = adsServer(core, ctx, createAdsCodec(root), options.tls, options.services);
  let shuttingDown = false;
  /** The publication under way: publications run one after the other. */
  let publishing: Promise<unknown> = Promise.resolve();

  /** After the encoding, one synchronous section that finds every resource encoded: checks, copies, hashes, queueing. */
  function putNextInForce(fleets: ReadonlyMap<string, EnvoyResources>, next: SnapshotMeta, publish: PublishOptions, encodesBefore: number): Result<Publication> {
    if (shuttingDown) return { ok: false, errors: [positionless('the xDS server is shutting down', { subject: `commit/${next.commit}` })] };
    const dropped = refusedFleetDrops(fleets, streams.connectedNodeIds(), next.commit, publish.allowFleetRemoval);
    if (dropped.length > 0) {
      logger.error({ commit: next.commit, errors: dropped }, 'xds publication refused: it drops fleets with connected Envoys; the previous snapshots stay in force');
      return { ok: false, errors: dropped };
    }
    const built = buildAll(fleets, next, cache, state.current);
    if (!built.ok) {
      logger.error({ commit: next.commit, errors: built.errors.length, first: built.errors.slice(0, 5) }, 'xds publication refused: resources do not encode; the previous snapshots stay in force');
      return built;
    }
    const plan = planPublication(state.current, built.value, state.since, Date.now(), cache.encodeCount - encodesBefore);
    Object.assign(state, { current: built.value, meta: next, since: plan.since });
    putInForce(core, metrics, built.value, next, plan.publication);
    return { ok: true, value: plan.publication };
  }

  async function publishNow(fleets: ReadonlyMap<string, EnvoyResources>, next: SnapshotMeta, publish: PublishOptions): Promise<Result<Publication>> {
    const encodesBefore = cache.encodeCount;
    await runInSlices(encodeSteps(fleets.values(), cache), slices, sliceLimits.maxMs);
    const start = slices.clock();
    try {
      return putNextInForce(fleets, next, publish, encodesBefore);
    } finally {
      // What no snapshot in force uses (a refused publication's resources) leaves the cache.
      cache.retain(state.current.values());
      slices.ended(start);
    }
  }

  function setSnapshots(fleets: ReadonlyMap<string, EnvoyResources>, next: SnapshotMeta, publish: PublishOptions = {}): Promise<Result<Publication>> {
    const run = publishing.then(() => publishNow(fleets, next, publish));
    publishing = run.catch(() => undefined);
    return run;
  }

  return {
    metrics,
    setSnapshots,
    listen: (host, port) => listenLogged(server, logger, Boolean(options.tls), host, port),
    nodes: () => streams.nodes(),
    refusedStreams: () => refused.list(),
    snapshots: () => state.current,
    published: () => state.meta,
    shutdown(graceMs: number): Promise<void> {
      if (shuttingDown) return Promise.resolve();
      shuttingDown = true;
      streams.closeAll('control server shutting down', 'server shutdown');
      core.waiting.clear();
      fanout.clear();
      loopWatch.stop();
      return server.shutdown(graceMs);
    },
  };
}
