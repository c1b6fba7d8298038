/**
 * Prometheus metrics of the xDS server, registered on the Registry the caller passes (the HTTP edge
 * serves it on /metrics). Names are part of the operator-facing contract: see docs/xds-server.md.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** One connected node's sync state, sampled at scrape time. */
export interface NodeSyncSample {
  readonly node: string;
  readonly fleet: string;
  readonly inSync: boolean;
  /** Seconds the node has lacked (or refused) what the server serves its fleet; 0 in sync. */
  readonly staleSeconds: number;
}

export interface XdsMetrics {
  readonly connectedNodes: Gauge<'environment' | 'fleet' | 'variant'>;
  readonly pushes: Counter<'type' | 'variant'>;
  readonly pushAckSeconds: Histogram<'type'>;
  readonly nacks: Counter<'type' | 'fleet'>;
  readonly encodes: Counter<'type'>;
  readonly servedVersion: Gauge<'environment' | 'fleet' | 'version' | 'commit'>;
  readonly rejectedStreams: Counter<'reason'>;
  readonly nodeInSync: Gauge<'fleet' | 'node'>;
  readonly nodeStaleSeconds: Gauge<'fleet' | 'node'>;
}

/**
 * `nodes` is sampled on every scrape for the per-node gauges; several streams of one node id (a
 * reconnect racing the old stream's end) report the worst of them.
 */
export function createXdsMetrics(registry: Registry, nodes: () => readonly NodeSyncSample[] = () => []): XdsMetrics {
  const registers = [registry];
  const worstByNode = (): Map<string, NodeSyncSample> => {
    const out = new Map<string, NodeSyncSample>();
    for (const n of nodes()) {
      const key = `${n.fleet}\0${n.node}`;
      const old = out.get(key);
      if (!old || (old.inSync && !n.inSync) || n.staleSeconds > old.staleSeconds) out.set(key, n);
    }
    return out;
  };
  return {
    nodeInSync: new Gauge({
      name: 'portcullis_xds_node_in_sync',
      help: '1 when the node ACKed everything the server serves its fleet, 0 when it is behind or rejected it; one series per connected node.',
      labelNames: ['fleet', 'node'],
      registers,
      collect() {
        this.reset();
        for (const n of worstByNode().values()) this.set({ fleet: n.fleet, node: n.node }, n.inSync ? 1 : 0);
      },
    }),
    nodeStaleSeconds: new Gauge({
      name: 'portcullis_xds_node_stale_seconds',
      help: 'Seconds a connected node has been without the config the server serves its fleet (behind, or NACKed it); 0 in sync.',
      labelNames: ['fleet', 'node'],
      registers,
      collect() {
        this.reset();
        for (const n of worstByNode().values()) this.set({ fleet: n.fleet, node: n.node }, n.staleSeconds);
      },
    }),
    connectedNodes: new Gauge({
      name: 'portcullis_xds_connected_nodes',
      help: 'ADS streams open, by environment, fleet (node.cluster) and protocol variant (sotw, delta).',
      labelNames: ['environment', 'fleet', 'variant'],
      registers,
    }),
    pushes: new Counter({
      name: 'portcullis_xds_pushes_total',
      help: 'Discovery responses sent, by resource type and protocol variant.',
      labelNames: ['type', 'variant'],
      registers,
    }),
    pushAckSeconds: new Histogram({
      name: 'portcullis_xds_push_ack_seconds',
      help: 'Time from sending a discovery response to the ACK or NACK that answers it.',
      labelNames: ['type'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    nacks: new Counter({
      name: 'portcullis_xds_nacks_total',
      help: 'Discovery responses Envoy rejected (error_detail set), by resource type and fleet.',
      labelNames: ['type', 'fleet'],
      registers,
    }),
    encodes: new Counter({
      name: 'portcullis_xds_resource_encodes_total',
      help: 'Resources encoded from JSON to protobuf: once per resource version, whatever the number of streams.',
      labelNames: ['type'],
      registers,
    }),
    servedVersion: new Gauge({
      name: 'portcullis_xds_served_version_info',
      help: 'Always 1: the snapshot version and policy commit served to each fleet.',
      labelNames: ['environment', 'fleet', 'version', 'commit'],
      registers,
    }),
    rejectedStreams: new Counter({
      name: 'portcullis_xds_rejected_streams_total',
      help: 'ADS streams refused before any config was sent (unknown fleet, missing node, ...).',
      labelNames: ['reason'],
      registers,
    }),
  };
}

/** Sampling interval of the event-loop stall watch. */
const EVENT_LOOP_RESOLUTION_MS = 10;

/**
 * `portcullis_xds_event_loop_delay_max_seconds`: the longest the event loop was held since the
 * previous scrape (each scrape reads and resets it, so one scraper sees every stall), and
 * `portcullis_xds_push_slice_max_seconds`: the wall-clock time of the longest slice of
 * publication work in that time (encoding or pushes; `longestSliceMs`, fanout.ts's SliceTimer). The stall is the larger of perf_hooks.monitorEventLoopDelay and
 * how late a 10 ms timer fired: on this machine the monitor alone read 139 ms across a 730 ms
 * synchronous publication that the timer saw whole. Both include the 10 ms interval, which is
 * subtracted: an idle loop reads ≈ 0. `stop` ends the watch (server shutdown).
 */
export function watchEventLoop(registry: Registry, longestSliceMs: () => number): { stop(): void } {
  const delay = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
  delay.enable();
  let last = performance.now();
  let lateMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    lateMs = Math.max(lateMs, now - last - EVENT_LOOP_RESOLUTION_MS);
    last = now;
  }, EVENT_LOOP_RESOLUTION_MS).unref();
  new Gauge({
    name: 'portcullis_xds_event_loop_delay_max_seconds',
    help: 'Longest event-loop stall since the previous scrape (publication work runs in slices so that this stays short).',
    registers: [registry],
    collect() {
      this.set(Math.max(0, delay.max / 1e9 - EVENT_LOOP_RESOLUTION_MS / 1000, lateMs / 1000));
      delay.reset();
      lateMs = 0;
    },
  });
  new Gauge({
    name: 'portcullis_xds_push_slice_max_seconds',
    help: 'Wall-clock seconds of the longest slice of publication work since the previous scrape: encoding (about 10 ms a slice), the section that puts a snapshot in force, or pushes (at most 64 streams or 10 ms a slice).',
    registers: [registry],
    collect() {
      this.set(longestSliceMs() / 1000);
    },
  });
  return {
    stop: () => {
      delay.disable();
      clearInterval(timer);
    },
  };
}
