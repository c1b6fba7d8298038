/**
 * Incremental ADS (DeltaAggregatedResources): a response carries only the resources whose version
 * the node lacks, plus removed_resources. On reconnect, initial_resource_versions says what the node
 * holds, so only what differs is sent. A resource version the node rejected is not sent again.
 */
import type { XdsKind } from '../compiler/envoy/resources';
import { TYPE_URL } from '../compiler/envoy/resources';
import { KIND_OF_TYPE_URL, perKind, type TypeSnapshot, versionOf } from './snapshot';
import { AdsStream, type HeldResource, type StreamContext } from './stream';
import { type DeltaDiscoveryRequest, deltaFrame, type ResponseFrame } from './wire';

/** Response frames per snapshot type, by (version, upserted name/versions, removed names). */
const frameMemo = new WeakMap<TypeSnapshot, Map<string, ResponseFrame>>();
const FRAME_MEMO_LIMIT = 256;

/** Marks a removal the node rejected, in the rejected map. */
const REMOVAL = '\0removed';

interface Diff {
  readonly upserts: readonly HeldResource[];
  readonly removed: readonly string[];
}

type PerKind<T> = Record<XdsKind, T>;

export class DeltaStream extends AdsStream {
  readonly variant = 'delta' as const;
  /** Per type: resource name → the version (or REMOVAL) the node rejected. */
  private readonly rejected: PerKind<Map<string, string>> = perKind(() => new Map());
  private readonly pendingDiff: PerKind<Diff | null> = perKind(() => null);
  /**
   * Per type, when a diff last found nothing due: the resources offered then and the type's
   * revision. While both are the same, nothing is due still: a push or ACK of one type does not
   * re-diff every other type (the snapshot keeps unchanged types' objects, keepUnchangedTypes).
   */
  private readonly quiet: PerKind<{ readonly view: ReadonlyMap<string, HeldResource>; readonly revision: number } | null> = perKind(() => null);

  constructor(streamId: number, peer: string, ctx: StreamContext, send: (frame: ResponseFrame) => void) {
    super(streamId, peer, ctx, send);
  }

  onRequest(req: DeltaDiscoveryRequest): void {
    const kind = KIND_OF_TYPE_URL.get(req.typeUrl);
    if (!kind) {
      this.log.debug({ typeUrl: req.typeUrl }, 'xds request for a type this server does not serve; ignored');
      return;
    }
    const st = this.kinds[kind];
    // Any request may change what the node holds, subscribes to or rejected.
    st.revision++;
    const pending = st.pending;
    if (req.responseNonce !== '' && pending && req.responseNonce === pending.nonce) {
      const diff = this.pendingDiff[kind]!;
      if (req.errorDetail) {
        for (const r of diff.upserts) this.rejected[kind].set(r.name, r.version);
        for (const name of diff.removed) this.rejected[kind].set(name, REMOVAL);
        this.nacked(kind, pending, req.errorDetail);
      } else {
        for (const r of diff.upserts) st.held.set(r.name, r);
        for (const name of diff.removed) st.held.delete(name);
        this.acked(kind, pending);
      }
      this.pendingDiff[kind] = null;
    } else if (req.responseNonce !== '' && req.responseNonce !== st.latestNonce) {
      // Stale: its ACK/NACK is superseded; subscription changes below still count (they are deltas).
      this.log.debug({ type: kind, nonce: req.responseNonce, latest: st.latestNonce }, 'xds stale nonce: ACK/NACK ignored');
    }
    this.subscribe(kind, req);
    this.advance();
  }

  private subscribe(kind: XdsKind, req: DeltaDiscoveryRequest): void {
    const st = this.kinds[kind];
    const resumed = !st.subscribed && req.initialResourceVersions.size > 0;
    if (!st.subscribed) {
      st.subscribed = true;
      // No names on the first request of a type: a wildcard subscription.
      st.wildcard = req.resourceNamesSubscribe.length === 0;
      for (const [name, version] of req.initialResourceVersions) st.held.set(name, { name, version });
    }
    if (req.resourceNamesSubscribe.length > 0 || req.resourceNamesUnsubscribe.length > 0) st.sortedNames = null;
    for (const name of req.resourceNamesSubscribe) {
      if (name === '*') st.wildcard = true;
      else st.names.add(name);
    }
    for (const name of req.resourceNamesUnsubscribe) {
      if (name === '*') st.wildcard = false;
      else {
        st.names.delete(name);
        this.rejected[kind].delete(name);
      }
    }
    // The node forgets what it no longer subscribes to.
    if (!st.wildcard) {
      for (const name of st.held.keys()) if (!st.names.has(name)) st.held.delete(name);
    }
    if (resumed) this.resume(kind);
  }

  /**
   * A node reconnected (restart, another replica) reporting what it holds: that is its ACKed state.
   * Its version is the hash of the reported name/version pairs, the same hash this server gives the
   * selection, so a node holding the current config reads as ACKed at the served version and commit.
   */
  private resume(kind: XdsKind): void {
    const held = this.kinds[kind].held;
    const version = versionOf(kind, held.values());
    const current = this.selection(kind).version;
    this.assumeAcked(kind, version, version === current ? this.snap!.commit : null);
  }

  private diff(kind: XdsKind, honourRejections: boolean, view = this.view(kind)): Diff {
    const st = this.kinds[kind];
    const rejected = this.rejected[kind];
    const inScope = (name: string): boolean => st.wildcard || st.names.has(name);
    const upserts: HeldResource[] = [];
    const removed: string[] = [];
    for (const r of view.values()) {
      if (!r.delta || !inScope(r.name) || st.held.get(r.name)?.version === r.version) continue;
      if (honourRejections && rejected.get(r.name) === r.version) continue;
      upserts.push(r);
    }
    for (const name of st.held.keys()) {
      if (view.has(name) || !inScope(name)) continue;
      if (honourRejections && rejected.get(name) === REMOVAL) continue;
      removed.push(name);
    }
    return { upserts, removed };
  }

  protected pushIfNeeded(kind: XdsKind): boolean {
    const view = this.view(kind);
    const revision = this.kinds[kind].revision;
    const quiet = this.quiet[kind];
    if (quiet && quiet.view === view && quiet.revision === revision) return false;
    const diff = this.diff(kind, true, view);
    if (diff.upserts.length === 0 && diff.removed.length === 0) {
      this.quiet[kind] = { view, revision };
      return false;
    }
    const version = this.selection(kind).version;
    const frame = (nonce: string): ResponseFrame =>
      deltaFrame(version, diff.upserts.map((r) => r.delta!), diff.removed, { typeUrl: TYPE_URL[kind], nonce, controlPlane: this.ctx.controlPlane });
    const nonce = this.deliver(this.sharedFrame(kind, version, diff, frame), frame);
    this.pendingDiff[kind] = diff;
    this.sent(kind, nonce, version, diff.upserts.map((r) => r.name));
    return true;
  }

  /**
   * The frame of a response carrying `diff`: streams that lack the same resource versions (most of
   * a fleet, after a change) share one frame per snapshot type.
   */
  private sharedFrame(kind: XdsKind, version: string, diff: Diff, frame: (nonce: string) => ResponseFrame): ResponseFrame {
    const own = this.snap!.types[kind];
    let key = `${version}\n`;
    for (const r of diff.upserts) key += `${r.name}\0${r.version}\n`;
    key += '\n' + diff.removed.join('\n');
    let memo = frameMemo.get(own);
    const hit = memo?.get(key);
    if (hit) return hit;
    const built = frame(this.ctx.nextNonce());
    if (!memo) frameMemo.set(own, (memo = new Map()));
    if (memo.size < FRAME_MEMO_LIMIT) memo.set(key, built);
    return built;
  }

  protected settled(kind: XdsKind): boolean {
    const st = this.kinds[kind];
    if (!st.subscribed) return true;
    if (st.pending) return false;
    const diff = this.diff(kind, false);
    return diff.upserts.length === 0 && diff.removed.length === 0;
  }
}
