/**
 * Fleet stream bookkeeping: which ADS streams are open, which fleet each one joined, and the edges
 * of a stream's life (admitted into its fleet, refused, closed), each with its metric and log line.
 */
import type { Logger } from 'pino';
import { compareText } from '../compiler/text-order';
import { type GrpcCall, GrpcStatus, type GrpcStatusCode, grpcStatusName } from '../grpc/server';
import type { XdsMetrics, NodeSyncSample } from './metrics';
import type { RefusalReason, RefusedStreams } from './refused-streams';
import type { Snapshot } from './snapshot';
import type { AdsStream, NodeStatus } from './stream';
import type { NodeInfo } from './wire';

/** What became of a stream's first request: bound to its fleet, waiting for the first publication, or refused. */
export type Admission = 'bound' | 'wait' | 'rejected';

export interface FleetStreamsDeps {
  readonly metrics: XdsMetrics;
  readonly logger: Logger;
  readonly refused: RefusedStreams;
  readonly fleetOf: (node: NodeInfo) => string;
}

interface Who {
  readonly node: string;
  readonly fleet: string;
  readonly peer: string;
}

export class FleetStreams {
  /** Bound streams by fleet. */
  private readonly byFleet = new Map<string, Set<AdsStream>>();
  /** Every open stream (bound or not) and its call. */
  private readonly calls = new Map<AdsStream, GrpcCall>();

  constructor(private readonly deps: FleetStreamsDeps) {}

  /** A new ADS call, tracked until it closes. */
  opened(stream: AdsStream, call: GrpcCall): void {
    this.calls.set(stream, call);
  }

  /** The call of an open stream. */
  callOf(stream: AdsStream): GrpcCall | undefined {
    return this.calls.get(stream);
  }

  /** Ends `call` with `code`, remembering and counting the refusal. */
  reject(call: GrpcCall, code: GrpcStatusCode, reason: RefusalReason, details: string, who: Who): void {
    this.deps.metrics.rejectedStreams.inc({ reason });
    this.deps.refused.record({ ...who, reason, message: details });
    this.deps.logger.warn({ ...who, code: grpcStatusName(code), reason }, details);
    call.end(code, details);
  }

  /**
   * Binds a stream to its fleet's snapshot on its first request. `snapshots` is null before the
   * first publication (the stream waits); a stream without node, or of a fleet not published, is refused.
   */
  admit(stream: AdsStream, node: NodeInfo | null, snapshots: ReadonlyMap<string, Snapshot> | null): Admission {
    const call = this.calls.get(stream)!;
    if (!node) {
      this.reject(call, GrpcStatus.INVALID_ARGUMENT, 'no_node', 'the first DiscoveryRequest of a stream must carry node', { node: '', fleet: '', peer: stream.peer });
      return 'rejected';
    }
    if (snapshots === null) return 'wait';
    const fleet = this.deps.fleetOf(node);
    const snapshot = snapshots.get(fleet);
    if (!snapshot) {
      const known = [...snapshots.keys()].sort().join(', ') || 'none';
      this.reject(
        call,
        GrpcStatus.NOT_FOUND,
        'unknown_fleet',
        `no configuration for fleet "${fleet}" (node "${node.id}", node.cluster "${node.cluster}"): no Environment lists this fleet; known fleets: ${known}`,
        { node: node.id, fleet, peer: stream.peer },
      );
      return 'rejected';
    }
    this.deps.refused.forget(node.id);
    stream.bind(node, snapshot);
    let set = this.byFleet.get(fleet);
    if (!set) this.byFleet.set(fleet, (set = new Set()));
    set.add(stream);
    this.deps.metrics.connectedNodes.inc({ environment: snapshot.environment, fleet, variant: stream.variant });
    this.deps.logger.info(
      { node: node.id, fleet, environment: snapshot.environment, variant: stream.variant, peer: stream.peer, userAgent: `${node.userAgentName} ${node.userAgentVersion}` },
      'xds node connected',
    );
    return 'bound';
  }

  /** Forgets a stream (once); a bound one leaves its fleet's gauge and log. */
  close(stream: AdsStream, why: string): void {
    if (stream.isClosed) return;
    stream.markClosed();
    this.calls.delete(stream);
    const node = stream.nodeInfo;
    const snapshot = stream.snapshot;
    if (node && snapshot) {
      const fleet = this.deps.fleetOf(node);
      this.byFleet.get(fleet)?.delete(stream);
      this.deps.metrics.connectedNodes.dec({ environment: snapshot.environment, fleet, variant: stream.variant });
      this.deps.logger.info({ node: node.id, fleet, variant: stream.variant, why }, 'xds node disconnected');
    }
  }

  /**
   * After a publication: `moved` gets every stream whose fleet has a new snapshot; streams of a
   * fleet no longer published end with NOT_FOUND.
   */
  republish(built: ReadonlyMap<string, Snapshot>, commit: string, moved: (stream: AdsStream, snapshot: Snapshot) => void): void {
    for (const [fleet, streams] of this.byFleet) {
      const snapshot = built.get(fleet);
      for (const stream of [...streams]) {
        if (snapshot) {
          if (stream.snapshot !== snapshot) moved(stream, snapshot);
          continue;
        }
        const call = this.calls.get(stream);
        if (call) {
          this.reject(call, GrpcStatus.NOT_FOUND, 'fleet_removed', `fleet "${fleet}" is no longer configured (commit ${commit})`, { node: stream.nodeInfo?.id ?? '', fleet, peer: stream.peer });
        }
        this.close(stream, 'fleet removed');
      }
    }
  }

  /** Ends every open stream with UNAVAILABLE. */
  closeAll(details: string, why: string): void {
    for (const [stream, call] of [...this.calls]) {
      call.end(GrpcStatus.UNAVAILABLE, details);
      this.close(stream, why);
    }
  }

  /** Fleet → node ids of its bound streams (one per stream). */
  connectedNodeIds(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [fleet, streams] of this.byFleet) out.set(fleet, [...streams].map((s) => s.nodeInfo?.id ?? '?'));
    return out;
  }

  /** Status of every bound stream, by node id then stream id. */
  nodes(): NodeStatus[] {
    const out: NodeStatus[] = [];
    for (const streams of this.byFleet.values()) for (const s of streams) out.push(s.status());
    return out.sort((a, b) => compareText(a.id, b.id) || a.streamId - b.streamId);
  }

  /** Per-node sync state for the in-sync and staleness gauges; `sinceOf`: when the fleet's version took force. */
  syncSamples(sinceOf: (fleet: string) => number | undefined, now = Date.now()): NodeSyncSample[] {
    const out: NodeSyncSample[] = [];
    for (const [fleet, streams] of this.byFleet) {
      const since = sinceOf(fleet) ?? now;
      for (const s of streams) {
        const st = s.status();
        const behindSince = Math.max(since, Date.parse(st.connectedAt));
        out.push({ node: st.id, fleet, inSync: st.inSync, staleSeconds: st.inSync ? 0 : Math.max(0, (now - behindSince) / 1000) });
      }
    }
    return out;
  }
}
