/**
 * Incremental ADS (DeltaAggregatedResources): a response carries only the resources whose version
 * the node lacks, plus removed_resources. On reconnect, initial_resource_versions says what the node
 * holds, so only what differs is sent. A resource version the node rejected is not sent again.
 */
import type { XdsKind } from '../compiler/envoy/resources';
import { TYPE_URL } from '../compiler/envoy/resources';
import { KIND_OF_TYPE_URL, perKind, type TypeSnapshot, versionOf } from './snapshot';
import { AdsStream, type HeldResource, type KindState, memoisedFrame, resourcesKey, type StreamContext } from './stream';
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

type Offered = ReadonlyMap<string, HeldResource>;

/** A type's offered resources and its revision, when a diff against them found nothing due. */
interface Quiet {
  readonly view: Offered;
  readonly revision: number;
}

/** The diff of a response awaiting its ACK, and what it was computed against. */
interface SentDiff extends Diff, Quiet {}

/** Per offered map: the names that differ in the map offered next, computed once for every stream. */
const changesMemo = new WeakMap<Offered, { readonly to: Offered; readonly names: readonly string[] | null }>();

/**
 * The names whose resource is another object (or new) in `to` than in `from`, in `to`'s order;
 * null when `to` lacks a name of `from` (a removal: the caller diffs in full). A publication moves
 * every stream of a fleet from one map to the next, so one pair per map is remembered.
 */
function changedNames(from: Offered, to: Offered): readonly string[] | null {
  const hit = changesMemo.get(from);
  if (hit?.to === to) return hit.names;
  let names: string[] | null = [];
  for (const name of from.keys()) {
    if (!to.has(name)) {
      names = null;
      break;
    }
  }
  if (names) for (const [name, r] of to) if (from.get(name) !== r) names.push(name);
  changesMemo.set(from, { to, names });
  return names;
}

type PerKind<T> = Record<XdsKind, T>;

/** The node subscribes to `name` of this type (by name or as a wildcard). */
function subscribes(st: KindState, name: string): boolean {
  return st.wildcard || st.names.has(name);
}

/** The request subscribes, unsubscribes or reports held resources. */
function changesSubscription(req: DeltaDiscoveryRequest): boolean {
  return req.resourceNamesSubscribe.length > 0 || req.resourceNamesUnsubscribe.length > 0 || req.initialResourceVersions.size > 0;
}

export class DeltaStream extends AdsStream {
  readonly variant = 'delta' as const;
  /** Per type: resource name → the version (or REMOVAL) the node rejected. */
  private readonly rejected: PerKind<Map<string, string>> = perKind(() => new Map());
  private readonly pendingDiff: PerKind<SentDiff | null> = perKind(() => null);
  /**
   * Per type, when a diff last found nothing due (or the node ACKed all that was due): the
   * resources offered then and the type's revision. While the revision is the same, nothing is due
   * against those resources, so against new ones only the names that changed need a look
   * (changedNames); a push or ACK of one type does not re-diff every other type (the snapshot
   * keeps unchanged types' objects, keepUnchangedTypes).
   */
  private readonly quiet: PerKind<Quiet | null> = perKind(() => null);

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
    const revision = ++st.revision;
    const pending = st.pending;
    if (req.responseNonce !== '' && pending && req.responseNonce === pending.nonce) {
      const diff = this.pendingDiff[kind]!;
      if (req.errorDetail) {
        for (const r of diff.upserts) this.rejected[kind].set(r.name, r.version);
        for (const name of diff.removed) this.rejected[kind].set(name, REMOVAL);
        this.nacked(kind, pending, req.errorDetail);
      } else {
        // What it unsubscribed from since the push, it does not keep.
        for (const r of diff.upserts) if (subscribes(st, r.name)) st.held.set(r.name, r);
        for (const name of diff.removed) st.held.delete(name);
        this.acked(kind, pending);
        // The node now holds all that was due against what the diff was computed from, when
        // nothing else changed since the push and this request changes no subscription.
        if (diff.revision === revision - 1 && st.revision === revision && !changesSubscription(req)) this.quiet[kind] = { view: diff.view, revision };
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
    const first = !st.subscribed;
    const resumed = first && req.initialResourceVersions.size > 0;
    if (first) {
      st.subscribed = true;
      // No names on the first request of a type: a wildcard subscription.
      st.wildcard = req.resourceNamesSubscribe.length === 0;
      for (const [name, version] of req.initialResourceVersions) st.held.set(name, { name, version });
    }
    if (req.resourceNamesSubscribe.length > 0 || req.resourceNamesUnsubscribe.length > 0) st.sortedNames = null;
    for (const name of req.resourceNamesSubscribe) {
      if (name === '*') st.wildcard = true;
      else st.names.add(this.sharedName(kind, name));
    }
    for (const name of req.resourceNamesUnsubscribe) {
      if (name === '*') st.wildcard = false;
      else {
        st.names.delete(name);
        this.rejected[kind].delete(name);
      }
    }
    // The node forgets what it no longer subscribes to (held is within the subscription between
    // changes of it: an ACK keeps only what is subscribed).
    if (!st.wildcard && (first || changesSubscription(req))) {
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

  /** `r` is one the node subscribes to and lacks at this version (and, honouring rejections, did not refuse). */
  private lacks(kind: XdsKind, r: HeldResource, honourRejections: boolean): boolean {
    const st = this.kinds[kind];
    if (!r.delta || !subscribes(st, r.name) || st.held.get(r.name)?.version === r.version) return false;
    return !(honourRejections && this.rejected[kind].get(r.name) === r.version);
  }

  private diff(kind: XdsKind, honourRejections: boolean, view = this.view(kind)): Diff {
    const st = this.kinds[kind];
    const rejected = this.rejected[kind];
    const upserts: HeldResource[] = [];
    const removed: string[] = [];
    for (const r of view.values()) if (this.lacks(kind, r, honourRejections)) upserts.push(r);
    for (const name of st.held.keys()) {
      if (view.has(name) || !subscribes(st, name)) continue;
      if (honourRejections && rejected.get(name) === REMOVAL) continue;
      removed.push(name);
    }
    return { upserts, removed };
  }

  protected pushIfNeeded(kind: XdsKind): boolean {
    const revision = this.kinds[kind].revision;
    // Quiet since this type's last request (or rebuilt cluster): nothing was due against `still.view`.
    const quiet = this.quiet[kind];
    const still = quiet?.revision === revision ? quiet : null;
    // Quiet against the snapshot's own resources, which have not changed: nothing is due, and the
    // view (for clusters and endpoints a walk over what the node holds) need not be built.
    if (still?.view === this.snap!.types[kind].resources) return false;
    const view = this.view(kind);
    if (still?.view === view) return false;
    const changed = still ? changedNames(still.view, view) : null;
    // Quiet against the resources before: only what changed since can be due (no removal among them).
    const diff = changed ? { upserts: this.lackedOf(kind, view, changed), removed: [] } : this.diff(kind, true, view);
    if (diff.upserts.length === 0 && diff.removed.length === 0) {
      this.quiet[kind] = { view, revision };
      return false;
    }
    const version = this.selection(kind).version;
    const frame = (nonce: string): ResponseFrame =>
      deltaFrame(version, diff.upserts.map((r) => r.delta!), diff.removed, { typeUrl: TYPE_URL[kind], nonce, controlPlane: this.ctx.controlPlane });
    const nonce = this.deliver(this.sharedFrame(kind, version, diff, frame), frame);
    this.pendingDiff[kind] = { ...diff, view, revision };
    this.sent(kind, nonce, version, diff.upserts.map((r) => r.name));
    return true;
  }

  /** The resources named in `names` (all in `view`, in its order) that the node lacks. */
  private lackedOf(kind: XdsKind, view: Offered, names: readonly string[]): HeldResource[] {
    const out: HeldResource[] = [];
    for (const name of names) {
      const r = view.get(name)!;
      if (this.lacks(kind, r, true)) out.push(r);
    }
    return out;
  }

  /**
   * The frame of a response carrying `diff`: streams that lack the same resource versions (most of
   * a fleet, after a change) share one frame per snapshot type.
   */
  private sharedFrame(kind: XdsKind, version: string, diff: Diff, frame: (nonce: string) => ResponseFrame): ResponseFrame {
    const own = this.snap!.types[kind];
    let memo = frameMemo.get(own);
    if (!memo) frameMemo.set(own, (memo = new Map()));
    const key = `${version}\n${resourcesKey(diff.upserts)}\n\n${diff.removed.join('\n')}`;
    return memoisedFrame(memo, key, FRAME_MEMO_LIMIT, () => frame(this.ctx.nextNonce()));
  }

  protected settled(kind: XdsKind): boolean {
    const st = this.kinds[kind];
    if (!st.subscribed) return true;
    if (st.pending) return false;
    const diff = this.diff(kind, false);
    return diff.upserts.length === 0 && diff.removed.length === 0;
  }
}
