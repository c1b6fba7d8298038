/**
 * What both ADS variants share: one open stream of one Envoy node, its subscriptions, what the node
 * holds, the one response per type awaiting its ACK, and the make-before-break push order.
 * sotw.ts and delta.ts decide what a response carries; this module decides when one may be sent.
 *
 * Ordering (Envoy's "eventual consistency considerations"): types are pushed in the order clusters →
 * endpoints → listeners → route scopes → routes. Endpoints may follow clusters before their ACK
 * (Envoy ACKs a cluster update only once the new clusters warmed, i.e. got their endpoints);
 * listeners, scopes and routes are sent only when every type before them has no response awaiting
 * an ACK (Envoy 1.40 ACKs scopes at once, before the tables of new scopes), and once the node
 * subscribed to the endpoints of every cluster it holds. A cluster the new snapshot dropped stays in the node's cluster set until the node
 * ACKed the listeners and routes of the new snapshot (nothing points at it any more); only then does
 * a cluster response without it go out.
 */
import type { Logger } from 'pino';
import type { XdsKind } from '../compiler/envoy/resources';
import { auditEvent, type AuditRecorder } from './audit-hook';
import type { XdsMetrics } from './metrics';
import { KINDS_IN_ORDER, perKind, type Snapshot, type TypeSnapshot, versionOf } from './snapshot';
import type { ErrorDetail, NodeInfo, ResponseFrame } from './wire';

export type Variant = 'sotw' | 'delta';

/**
 * What is kept (and shown, and logged) of one NACK's error_detail.message. Envoy's messages are a
 * few hundred bytes; one that is megabytes long (a huge config echoed back, or a hostile client)
 * must not be multiplied by every stream into /status, memory and the log.
 */
export const MAX_NACK_ERROR_BYTES = 4096;
/** Resource names listed in a NACK log line (the count is always logged). */
const MAX_LOGGED_NACK_RESOURCES = 20;

/** `message` cut to at most `maxBytes` of UTF-8, never inside a character. */
export function boundedMessage(message: string, maxBytes = MAX_NACK_ERROR_BYTES): { text: string; bytes: number; truncated: boolean } {
  // Cheap exit: a string of n UTF-16 units encodes in at most 3n bytes.
  if (message.length * 3 <= maxBytes) return { text: message, bytes: Buffer.byteLength(message), truncated: false };
  const bytes = Buffer.byteLength(message);
  if (bytes <= maxBytes) return { text: message, bytes, truncated: false };
  // encodeInto writes whole characters only; `read` is the UTF-16 length that fitted.
  const { read } = new TextEncoder().encodeInto(message.slice(0, maxBytes), new Uint8Array(maxBytes));
  return { text: message.slice(0, read), bytes, truncated: true };
}

/** A resource as a node holds it: name and version, with its bytes when the server has them. */
export interface HeldResource {
  readonly name: string;
  readonly version: string;
  readonly any?: Uint8Array;
  readonly delta?: Uint8Array;
}

/** The last response a node rejected, in Envoy's own words. */
export interface NodeNack {
  readonly type: XdsKind;
  readonly version: string;
  readonly commit: string | null;
  /**
   * `error_detail.message` from Envoy's request, verbatim up to MAX_NACK_ERROR_BYTES (UTF-8); a
   * longer one is cut there and `errorBytes` says how long it was.
   */
  readonly error: string;
  /** UTF-8 size of Envoy's whole message (larger than `error` when it was truncated). */
  readonly errorBytes: number;
  readonly errorTruncated: boolean;
  /** gRPC status code in `error_detail.code`. */
  readonly code: number;
  /** Resource names the rejected response carried. */
  readonly resources: readonly string[];
  readonly at: string;
}

export interface NodeTypeStatus {
  readonly type: XdsKind;
  /** Version the node ACKed last; null before its first ACK. */
  readonly ackedVersion: string | null;
  /**
   * Latest policy commit whose config of this type the node holds: the commit served now when the
   * node is in sync for the type (also when that commit left the type unchanged), else the commit
   * of the snapshot its ACKed version was sent from; null when unknown (reconnected from elsewhere).
   */
  readonly ackedCommit: string | null;
  readonly ackedAt: string | null;
  /** Version the server would send this node now (for named subscriptions: of the subscribed subset). */
  readonly servedVersion: string | null;
  readonly lastNack: NodeNack | null;
}

/** One connected node (one ADS stream), as `nodes()` reports it. */
export interface NodeStatus {
  readonly id: string;
  /** `node.cluster`. */
  readonly fleet: string;
  readonly environment: string | null;
  readonly connectedAt: string;
  /** `sotw` or `delta`. */
  readonly protocol: Variant;
  readonly streamId: number;
  readonly peer: string;
  /** e.g. `envoy 1.40.0`. */
  readonly userAgent: string;
  /** Commit of the snapshot currently served to the node's fleet. */
  readonly servedCommit: string | null;
  readonly types: readonly NodeTypeStatus[];
  /** The most recent NACK of any type. */
  readonly lastNack: NodeNack | null;
  /** True when the node ACKed what the server would send for every type it subscribes to. */
  readonly inSync: boolean;
}

/** Shared by all streams of a server. */
export interface StreamContext {
  readonly metrics: XdsMetrics;
  readonly logger: Logger;
  readonly controlPlane: string;
  nextNonce(): string;
  /** Cluster sets a SotW node may report by version on reconnect (to keep its stale clusters). */
  readonly clusterHistory: VersionHistory;
  /** Where xds.pushed / xds.ack / xds.nack records go; none when absent. */
  readonly audit?: AuditRecorder;
}

/** Bounded version → resources map: what the server sent under a version, most recent last. */
export class VersionHistory {
  private readonly entries = new Map<string, ReadonlyMap<string, HeldResource>>();
  constructor(private readonly capacity = 64) {}
  remember(version: string, resources: ReadonlyMap<string, HeldResource>): void {
    this.entries.delete(version);
    this.entries.set(version, resources);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
  get(version: string): ReadonlyMap<string, HeldResource> | undefined {
    return this.entries.get(version);
  }
}

export interface Selection {
  readonly resources: readonly HeldResource[];
  readonly version: string;
  /**
   * SotW responses from this selection, framed once for every stream they are due on: by version
   * and the resources they carry ('' for all of them).
   */
  frames?: Map<string, ResponseFrame>;
}

const WILDCARD = Symbol('wildcard selection');
type TypeSnapshotWithSelection = TypeSnapshot & { [WILDCARD]?: Selection };
/** Named selections per snapshot type, by sorted name list. */
const selectionMemo = new WeakMap<TypeSnapshot, Map<string, Selection>>();
/** Distinct name sets remembered per snapshot type (more are computed per stream). */
const MEMO_LIMIT = 4096;
/** A subscription's names, sorted, and the memo key they join into (joined once per list, not per push). */
export interface SortedNames {
  readonly names: readonly string[];
  readonly key: string;
}

/**
 * Sorted name lists by memo key: streams that subscribe to the same names (a fleet's Envoys, to
 * its 100 scopes' tables) share one list and one key instead of a copy each (≈ 5 KiB a stream).
 * Bounded: when full it starts again (streams keep the lists they have).
 */
const sortedNamesPool = new Map<string, SortedNames>();
const SORTED_NAMES_POOL_LIMIT = 4096;

function sharedSortedNames(names: Iterable<string>): SortedNames {
  const sorted = [...names].sort();
  const key = sorted.join('\n');
  const hit = sortedNamesPool.get(key);
  if (hit) return hit;
  if (sortedNamesPool.size >= SORTED_NAMES_POOL_LIMIT) sortedNamesPool.clear();
  const shared = { names: sorted, key };
  sortedNamesPool.set(key, shared);
  return shared;
}

/** `name\0version` of each resource, one per line: which versions a response carries, as a memo key. */
export function resourcesKey(resources: readonly HeldResource[]): string {
  return resources.map((r) => `${r.name}\0${r.version}`).join('\n');
}

/**
 * The frame kept in `memo` under `key`, else a new one from `build`, kept while the memo holds
 * fewer than `limit`: every stream due the same response gets the same frame (one encoding per
 * fleet and change, not per stream; `deliver` re-frames it for a stream that was sent it before).
 */
export function memoisedFrame(memo: Map<string, ResponseFrame>, key: string, limit: number, build: () => ResponseFrame): ResponseFrame {
  const hit = memo.get(key);
  if (hit) return hit;
  const built = build();
  if (memo.size < limit) memo.set(key, built);
  return built;
}

export interface Pending {
  readonly nonce: string;
  readonly sentAt: bigint;
  readonly version: string;
  readonly commit: string;
  readonly names: readonly string[];
}

export interface KindState {
  readonly kind: XdsKind;
  /** The node asked for this type at least once on this stream. */
  subscribed: boolean;
  wildcard: boolean;
  readonly names: Set<string>;
  /** `names` sorted (shared by the streams with the same names); reset to null whenever `names` changes. */
  sortedNames: SortedNames | null;
  /** What the node holds now (ACKed, or reported on reconnect). */
  held: Map<string, HeldResource>;
  /**
   * Bumped whenever `held`, the subscription or what the node rejected may have changed: a type
   * found with nothing due stays so while this and the offered resources are the same.
   */
  revision: number;
  pending: Pending | null;
  /** Nonce of the last response of this type; requests quoting another are stale. */
  latestNonce: string;
  ackedVersion: string | null;
  ackedCommit: string | null;
  ackedAt: string | null;
  lastNack: NodeNack | null;
}

export abstract class AdsStream {
  abstract readonly variant: Variant;
  readonly connectedAt = new Date().toISOString();
  protected snap: Snapshot | null = null;
  protected node: NodeInfo | null = null;
  protected log: Logger;
  protected readonly kinds: Record<XdsKind, KindState>;
  private closed = false;
  /** Frames this stream was sent: a shared frame is never sent twice on one stream (its nonce would repeat). */
  private readonly sentFrames = new WeakSet<ResponseFrame>();
  /** When endpointsSubscribed last answered yes: the revisions and EDS names it looked at. */
  private endpointsSubscribedAt: { readonly clusters: number; readonly endpoints: number; readonly edsNames: ReadonlyMap<string, string> } | null = null;
  /** EDS names of clusters sent changed, whose ClusterLoadAssignment has not been sent since: due again. */
  private readonly endpointsDue = new Set<string>();

  constructor(
    readonly streamId: number,
    readonly peer: string,
    protected readonly ctx: StreamContext,
    private readonly send: (frame: ResponseFrame) => void,
  ) {
    this.log = ctx.logger;
    const state = (kind: XdsKind): KindState => ({
      kind,
      subscribed: false,
      wildcard: false,
      names: new Set(),
      sortedNames: null,
      held: new Map(),
      revision: 0,
      pending: null,
      latestNonce: '',
      ackedVersion: null,
      ackedCommit: null,
      ackedAt: null,
      lastNack: null,
    });
    this.kinds = perKind(state);
  }

  get nodeInfo(): NodeInfo | null {
    return this.node;
  }

  get snapshot(): Snapshot | null {
    return this.snap;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Binds the stream to its node once the fleet is known. */
  bind(node: NodeInfo, snapshot: Snapshot): void {
    this.node = node;
    this.snap = snapshot;
    this.log = this.ctx.logger.child({ node: node.id, fleet: node.cluster, environment: snapshot.environment, variant: this.variant, stream: this.streamId });
  }

  /**
   * A new snapshot for this node's fleet. Status reads it at once; what changed goes out on the
   * next `flush` (or request), so a publication can spread the writes over the event loop.
   */
  retarget(snapshot: Snapshot): void {
    this.snap = snapshot;
  }

  /** Sends what is due now, in push order; nothing when nothing is (safe to call any time). */
  flush(): void {
    this.advance();
  }

  markClosed(): void {
    this.closed = true;
  }

  /**
   * Sends what is due, in push order. Clusters and their endpoints travel together: Envoy holds
   * the ACK of a cluster update until the new clusters have warmed, which needs their endpoints,
   * so endpoints go out while a cluster response awaits its ACK. Listeners, scopes and routes wait
   * until no earlier type awaits an ACK (a cluster ACK then means: warmed, routable; a scope ACK
   * does not wait for the new scopes' tables, which Envoy asks for by name after it).
   */
  protected advance(): void {
    if (!this.snap || this.closed) return;
    let clustersInFlight = false;
    // Asked once per call: nothing below changes the clusters held or the endpoint subscription.
    let endpointsReady: boolean | undefined;
    for (const kind of KINDS_IN_ORDER) {
      const st = this.kinds[kind];
      if (!st.subscribed) continue;
      if (st.pending) {
        if (kind !== 'cluster') return; // later types wait for this ACK
        clustersInFlight = true;
        continue;
      }
      if (clustersInFlight && kind !== 'endpoint') return;
      if ((kind === 'listener' || kind === 'scope' || kind === 'route') && !(endpointsReady ??= this.endpointsSubscribed())) return;
      if (this.pushIfNeeded(kind)) {
        if (kind !== 'cluster') return;
        clustersInFlight = true;
      }
    }
  }

  /** Sends a response for `kind` when the node lacks something; true when one was sent. */
  protected abstract pushIfNeeded(kind: XdsKind): boolean;

  /** The node holds, ACKed, exactly what the server would send it for `kind`. */
  protected abstract settled(kind: XdsKind): boolean;

  /**
   * What the server offers for `kind` now: the snapshot's resources, plus, for clusters and their
   * endpoints, those the node holds that the snapshot dropped, while its listeners and routes may
   * still point at them.
   */
  protected view(kind: XdsKind): ReadonlyMap<string, HeldResource> {
    const own = this.snap!.types[kind].resources;
    if (kind !== 'cluster' && kind !== 'endpoint') return own;
    const held = this.kinds[kind].held;
    let stale: HeldResource[] | null = null;
    for (const [name, r] of held) if (!own.has(name)) (stale ??= []).push(r);
    if (!stale || !this.keepsStaleClusters()) return own;
    // The endpoints of a kept cluster stay too (a delta removal would empty the cluster).
    const merged = new Map<string, HeldResource>(own);
    for (const r of stale) merged.set(r.name, r);
    return merged;
  }

  /**
   * Clusters the snapshot dropped stay while the node's listeners and routes may still point at
   * them: until it has asked for listeners and ACKed those of this snapshot, and its routes too.
   * (A reconnecting node replays its subscriptions; until it asked for listeners, keep them.)
   */
  private keepsStaleClusters(): boolean {
    return !(this.kinds.listener.subscribed && this.settled('listener') && this.settled('route'));
  }

  /**
   * The view narrowed to what the node subscribes to, sorted by name, with its version (the hash
   * of its name/version pairs; for a wildcard on the snapshot itself, the snapshot's type version).
   */
  protected selection(kind: XdsKind): Selection {
    const st = this.kinds[kind];
    const view = this.view(kind);
    const own = this.snap!.types[kind];
    if (st.wildcard) {
      if (view === own.resources) return (own as TypeSnapshotWithSelection)[WILDCARD] ??= { resources: [...view.values()], version: own.version };
      const resources = [...view.values()];
      return { resources, version: versionOf(kind, resources) };
    }
    st.sortedNames ??= sharedSortedNames(st.names);
    // Streams of one fleet mostly subscribe to the same names: one selection (and one response
    // body) per snapshot and name set, shared by all of them.
    const shared = view === own.resources;
    const key = shared ? st.sortedNames.key : '';
    let memo = shared ? selectionMemo.get(own) : undefined;
    const hit = memo?.get(key);
    if (hit) return hit;
    const resources: HeldResource[] = [];
    for (const name of st.sortedNames.names) {
      const r = view.get(name);
      if (r) resources.push(r);
    }
    const selection: Selection = { resources, version: versionOf(kind, resources) };
    if (shared) {
      if (!memo) selectionMemo.set(own, (memo = new Map()));
      if (memo.size < MEMO_LIMIT) memo.set(key, selection);
    }
    return selection;
  }

  /**
   * The snapshot's own string for a name the node subscribes to: one copy per fleet instead of one
   * per stream (the request's); the name as sent when the snapshot has no such resource.
   */
  protected sharedName(kind: XdsKind, name: string): string {
    return this.snap?.types[kind].resources.get(name)?.name ?? name;
  }

  /**
   * Envoy subscribes to a cluster's endpoints after it ACKs the cluster; listeners and routes that
   * may route to it wait for that subscription (and, through the push order, for its endpoints).
   */
  private endpointsSubscribed(): boolean {
    if (!this.kinds.cluster.subscribed) return true;
    const eds = this.kinds.endpoint;
    const edsNames = this.snap!.edsNameOfCluster;
    // Only a request of either type (which bumps its revision) or another snapshot can change the answer.
    const at = this.endpointsSubscribedAt;
    if (at && at.clusters === this.kinds.cluster.revision && at.endpoints === eds.revision && at.edsNames === edsNames) return true;
    for (const clusterName of this.kinds.cluster.held.keys()) {
      const edsName = edsNames.get(clusterName);
      if (edsName === undefined) continue;
      if (!eds.subscribed || (!eds.wildcard && !eds.names.has(edsName))) return false;
    }
    this.endpointsSubscribedAt = { clusters: this.kinds.cluster.revision, endpoints: eds.revision, edsNames };
    return true;
  }

  /**
   * Writes `shared` (the frame every stream due the same response gets), or, when this stream was
   * sent that very frame before, a private one from `rebuild` with a fresh nonce. Returns the nonce.
   */
  protected deliver(shared: ResponseFrame, rebuild: (nonce: string) => ResponseFrame): string {
    const frame = this.sentFrames.has(shared) ? rebuild(this.ctx.nextNonce()) : shared;
    this.sentFrames.add(frame);
    this.send(frame);
    return frame.nonce;
  }

  /** Records a sent response for `kind` and counts it. */
  protected sent(kind: XdsKind, nonce: string, version: string, names: readonly string[]): void {
    const st = this.kinds[kind];
    if (kind === 'cluster') this.rebuiltClusters(names);
    if (kind === 'endpoint') for (const name of names) this.endpointsDue.delete(name);
    st.pending = { nonce, sentAt: process.hrtime.bigint(), version, commit: this.snap!.commit, names };
    st.latestNonce = nonce;
    this.ctx.metrics.pushes.inc({ type: kind, variant: this.variant });
    // Guarded: the argument object would be built on every push even with debug off.
    if (this.log.isLevelEnabled('debug')) this.log.debug({ type: kind, version, nonce, resources: names.length }, 'xds push');
    this.audit('xds.pushed', kind, version, this.snap!.commit, { nonce, resources: names.length });
  }

  /**
   * Envoy rebuilds an EDS cluster whose definition changed, and the rebuilt cluster warms only on a
   * ClusterLoadAssignment that arrives after it: Envoy 1.40 does not reuse the one it holds, and
   * waits initial_fetch_timeout (15 s) for one. So the endpoints of every changed cluster of this
   * response count as not held: they go out right after it (while the cluster ACK is held).
   */
  private rebuiltClusters(names: readonly string[]): void {
    const held = this.kinds.cluster.held;
    const now = this.view('cluster');
    const endpoints = this.kinds.endpoint.held;
    for (const name of names) {
      const before = held.get(name);
      const edsName = this.snap!.edsNameOfCluster.get(name);
      if (!before || edsName === undefined || before.version === now.get(name)?.version) continue;
      this.endpointsDue.add(edsName);
      endpoints.delete(edsName);
      this.kinds.endpoint.revision++;
    }
  }

  /** One audit record for this node; the correlation fields come from the stream. */
  private audit(kind: string, type: XdsKind, version: string, commit: string, extra: Record<string, unknown>): void {
    if (!this.ctx.audit) return;
    const node = this.node;
    auditEvent(this.ctx.audit, this.log, kind, { node: node?.id ?? '', fleet: node?.cluster ?? '', environment: this.snap?.environment ?? '', type, version, commit, ...extra });
  }

  /** The node ACKed the pending response of `kind`. */
  protected acked(kind: XdsKind, pending: Pending): void {
    const st = this.kinds[kind];
    st.pending = null;
    // An endpoint response sent before a cluster changed does not reach the rebuilt cluster.
    if (kind === 'endpoint' && this.endpointsDue.size > 0) {
      for (const name of this.endpointsDue) st.held.delete(name);
      st.revision++;
    }
    st.ackedVersion = pending.version;
    st.ackedCommit = pending.commit;
    st.ackedAt = new Date().toISOString();
    const seconds = Number(process.hrtime.bigint() - pending.sentAt) / 1e9;
    this.ctx.metrics.pushAckSeconds.observe({ type: kind }, seconds);
    this.audit('xds.ack', kind, pending.version, pending.commit, { nonce: pending.nonce, latencyMs: Math.round(seconds * 1e4) / 10 });
  }

  /** The node rejected the pending response of `kind`; it keeps its last ACKed version. */
  protected nacked(kind: XdsKind, pending: Pending, error: ErrorDetail): void {
    const st = this.kinds[kind];
    st.pending = null;
    this.ctx.metrics.pushAckSeconds.observe({ type: kind }, Number(process.hrtime.bigint() - pending.sentAt) / 1e9);
    const message = boundedMessage(error.message);
    st.lastNack = {
      type: kind,
      version: pending.version,
      commit: pending.commit,
      error: message.text,
      errorBytes: message.bytes,
      errorTruncated: message.truncated,
      code: error.code,
      resources: pending.names,
      at: new Date().toISOString(),
    };
    this.ctx.metrics.nacks.inc({ type: kind, fleet: this.node?.cluster ?? '' });
    const names = pending.names;
    this.log.warn(
      {
        type: kind,
        version: pending.version,
        commit: pending.commit,
        resources: names.length > MAX_LOGGED_NACK_RESOURCES ? names.slice(0, MAX_LOGGED_NACK_RESOURCES) : names,
        resourceCount: names.length,
        errorCode: error.code,
        error: message.text,
        errorBytes: message.bytes,
        ...(message.truncated ? { errorTruncated: true } : {}),
      },
      'xds NACK: Envoy rejected the configuration; it keeps its last accepted version',
    );
    this.audit('xds.nack', kind, pending.version, pending.commit, { nonce: pending.nonce, error: error.message || `rejected (code ${error.code})`, code: error.code, resources: pending.names.slice(0, 20) });
  }

  /** A node reconnected holding `version` of `kind` (SotW version_info): taken as ACKed. */
  protected assumeAcked(kind: XdsKind, version: string, commit: string | null): void {
    const st = this.kinds[kind];
    st.ackedVersion = version;
    st.ackedCommit = commit;
    st.ackedAt = new Date().toISOString();
  }

  status(): NodeStatus {
    const types: NodeTypeStatus[] = [];
    let lastNack: NodeNack | null = null;
    let inSync = true;
    for (const kind of KINDS_IN_ORDER) {
      const st = this.kinds[kind];
      if (st.lastNack && (!lastNack || st.lastNack.at >= lastNack.at)) lastNack = st.lastNack;
      if (!st.subscribed) continue;
      const served = this.snap ? this.selection(kind).version : null;
      const settled = this.snap !== null && this.settled(kind);
      if (!settled) inSync = false;
      types.push({
        type: kind,
        ackedVersion: st.ackedVersion,
        // A type the new commit left unchanged needs no push: the node holds that commit's config too.
        ackedCommit: settled ? this.snap!.commit : st.ackedCommit,
        ackedAt: st.ackedAt,
        servedVersion: served,
        lastNack: st.lastNack,
      });
    }
    const node = this.node;
    return {
      id: node?.id ?? '',
      fleet: node?.cluster ?? '',
      environment: this.snap?.environment ?? null,
      connectedAt: this.connectedAt,
      protocol: this.variant,
      streamId: this.streamId,
      peer: this.peer,
      userAgent: node ? `${node.userAgentName} ${node.userAgentVersion}`.trim() : '',
      servedCommit: this.snap?.commit ?? null,
      types,
      lastNack,
      inSync,
    };
  }
}
