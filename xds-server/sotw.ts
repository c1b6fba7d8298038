/**
 * State-of-the-world ADS (StreamAggregatedResources). For wildcard types (clusters, listeners, route
 * scopes) a response carries the whole selection under its version: Envoy removes what is absent.
 * For named types (routes, endpoints) it carries only the resources whose version the node lacks,
 * under the version of what the node then holds (the selection's, unless it still lacks a version it
 * refused): Envoy leaves a subscribed resource absent from a response as it is (Envoy 1.40 skips the
 * response for that subscription), so a one-route change in one of many RouteConfigurations re-sends
 * that one. A version the node rejected is never sent again; the next different selection is (for
 * named types: without the resource versions it rejected).
 */
import type { XdsKind } from '../compiler/envoy/resources';
import { TYPE_URL } from '../compiler/envoy/resources';
import { KIND_OF_TYPE_URL, perKind, versionOf } from './snapshot';
import { AdsStream, type HeldResource, memoisedFrame, resourcesKey, type Selection, type StreamContext } from './stream';
import { type DiscoveryRequest, type ResponseFrame, sotwFrame } from './wire';

/**
 * Types where an empty first request means "everything" (legacy wildcard). Envoy subscribes to
 * route scopes that way; the rate-limit service asks for its configuration with no names, meaning
 * all of it.
 */
const WILDCARD_KINDS: ReadonlySet<XdsKind> = new Set(['cluster', 'listener', 'scope', 'ratelimit']);

type PerKind<T> = Record<XdsKind, T>;

export class SotwStream extends AdsStream {
  readonly variant = 'sotw' as const;
  /** Wildcard types: selection version of the last response sent (ACKed, NACKed or pending): never sent twice in a row. */
  private readonly lastSent: PerKind<string | null> = perKind(() => null);
  /** Version_info of what the node holds per type (the response it ACKed, or reported on reconnect). */
  private readonly ackedSelection: PerKind<string | null> = perKind(() => null);
  private readonly pendingResources: PerKind<readonly HeldResource[]> = perKind(() => []);
  private readonly everNamed: PerKind<boolean> = perKind(() => false);
  /** Named types: resource name → the version the node rejected (not sent again). */
  private readonly rejected: PerKind<Map<string, string>> = perKind(() => new Map());

  constructor(streamId: number, peer: string, ctx: StreamContext, send: (frame: ResponseFrame) => void) {
    super(streamId, peer, ctx, send);
  }

  onRequest(req: DiscoveryRequest): void {
    const kind = KIND_OF_TYPE_URL.get(req.typeUrl);
    if (!kind) {
      this.log.debug({ typeUrl: req.typeUrl }, 'xds request for a type this server does not serve; ignored');
      return;
    }
    const st = this.kinds[kind];
    // Any request may change what the node holds or subscribes to.
    st.revision++;
    if (st.latestNonce !== '' && req.responseNonce !== '' && req.responseNonce !== st.latestNonce) {
      // The protocol: a request quoting an older nonce is superseded by a response in flight.
      this.log.debug({ type: kind, nonce: req.responseNonce, latest: st.latestNonce }, 'xds stale nonce ignored');
      return;
    }
    const pending = st.pending;
    if (pending && req.responseNonce === pending.nonce) {
      if (req.errorDetail) {
        for (const r of this.pendingResources[kind]) this.rejected[kind].set(r.name, r.version);
        this.nacked(kind, pending, req.errorDetail);
      } else {
        this.ackedSelection[kind] = pending.version;
        st.held = this.heldAfter(kind, this.pendingResources[kind]);
        this.acked(kind, pending);
      }
      this.pendingResources[kind] = [];
    }
    const first = !st.subscribed;
    this.subscribe(kind, req.resourceNames);
    if (first && req.versionInfo) this.resume(kind, req.versionInfo);
    this.advance();
  }

  private subscribe(kind: XdsKind, names: readonly string[]): void {
    const st = this.kinds[kind];
    st.subscribed = true;
    const explicit = names.filter((n) => n !== '*');
    if (explicit.length > 0) this.everNamed[kind] = true;
    const wasWildcard = st.wildcard;
    st.wildcard = names.includes('*') || (WILDCARD_KINDS.has(kind) && names.length === 0 && !this.everNamed[kind]);
    // Every SotW request repeats the subscription: an ACK of 100 route tables names all 100 again.
    // The same subscription keeps the set, its sorted list and so the selection memo key (no
    // re-sort, no re-join), and there is nothing to forget.
    if (st.wildcard === wasWildcard && sameNames(st.names, explicit)) return;
    st.names.clear();
    for (const n of explicit) st.names.add(this.sharedName(kind, n));
    st.sortedNames = null;
    if (!st.wildcard) {
      // Envoy drops what it unsubscribed from (and may ask for it afresh later).
      for (const name of [...st.held.keys()]) if (!st.names.has(name)) st.held.delete(name);
      for (const name of [...this.rejected[kind].keys()]) if (!st.names.has(name)) this.rejected[kind].delete(name);
    }
  }

  /** First request of a type on a new stream with a version_info: the node already holds that version. */
  private resume(kind: XdsKind, version: string): void {
    const st = this.kinds[kind];
    const selection = this.selection(kind);
    if (selection.version === version) {
      st.held = new Map(selection.resources.map((r) => [r.name, r]));
      this.lastSent[kind] = version;
      this.ackedSelection[kind] = version;
      this.assumeAcked(kind, version, this.snap!.commit);
      return;
    }
    if (kind === 'cluster') {
      // Clusters it holds that the snapshot dropped stay until its listeners and routes moved on.
      const known = this.ctx.clusterHistory.get(version);
      if (known) st.held = new Map(known);
    }
    this.ackedSelection[kind] = version;
    this.assumeAcked(kind, version, null);
  }

  private heldAfter(kind: XdsKind, sent: readonly HeldResource[]): Map<string, HeldResource> {
    const st = this.kinds[kind];
    // Wildcard: the response is the whole set. Named: a response replaces the resources it names.
    const held = st.wildcard ? new Map<string, HeldResource>() : st.held;
    for (const r of sent) held.set(r.name, r);
    return held;
  }

  protected pushIfNeeded(kind: XdsKind): boolean {
    const st = this.kinds[kind];
    const selection = this.selection(kind);
    // Wildcard: the selection sent last (ACKed, or refused) is not sent again. Named: what the node
    // lacks is due, less what it refused; the same selection again when a rebuilt cluster needs
    // its endpoints again.
    if (st.wildcard && selection.version === this.lastSent[kind]) return false;
    const resources = st.wildcard ? selection.resources.filter((r) => r.any !== undefined) : this.lacking(kind, selection);
    // Named types: nothing lacking, nothing due (the node holds the selection, or refused what it lacks).
    if (!st.wildcard && resources.length === 0) return false;
    const version = st.wildcard ? selection.version : this.versionAfter(kind, selection, resources);
    const frame = (nonce: string): ResponseFrame =>
      sotwFrame(version, resources.map((r) => r.any!), { typeUrl: TYPE_URL[kind], nonce, controlPlane: this.ctx.controlPlane });
    const nonce = this.deliver(sharedFrame(selection, version, resources, frame, () => this.ctx.nextNonce()), frame);
    this.lastSent[kind] = selection.version;
    this.pendingResources[kind] = resources;
    if (kind === 'cluster') this.ctx.clusterHistory.remember(version, new Map(resources.map((r) => [r.name, r])));
    this.sent(kind, nonce, version, resources.map((r) => r.name));
    return true;
  }

  /**
   * The version_info of a named response: the hash of what the node holds of the selection once it
   * applied `sent`. That is the selection's own version unless the node still lacks a version it
   * refused; then it is another one, so a node reconnecting with it (to a server that forgot the
   * refusal) is not taken to hold the refused version.
   */
  private versionAfter(kind: XdsKind, selection: Selection, sent: readonly HeldResource[]): string {
    if (sent.length === selection.resources.length) return selection.version;
    const held = this.kinds[kind].held;
    const now = new Map(sent.map((r) => [r.name, r]));
    const after: HeldResource[] = [];
    let whole = true;
    for (const r of selection.resources) {
      const h = now.get(r.name) ?? held.get(r.name);
      if (h) after.push(h);
      if (h?.version !== r.version) whole = false;
    }
    return whole ? selection.version : versionOf(kind, after);
  }

  /** The resources of a named selection the node holds at another version, less those it refused at this one. */
  private lacking(kind: XdsKind, selection: Selection): HeldResource[] {
    const held = this.kinds[kind].held;
    const rejected = this.rejected[kind];
    return selection.resources.filter((r) => r.any !== undefined && held.get(r.name)?.version !== r.version && rejected.get(r.name) !== r.version);
  }

  protected settled(kind: XdsKind): boolean {
    const st = this.kinds[kind];
    if (!st.subscribed) return true;
    if (st.pending !== null) return false;
    const selection = this.selection(kind);
    if (st.wildcard) return this.ackedSelection[kind] === selection.version;
    // Named: the node holds every subscribed resource at its current version (a resource no longer
    // published needs no response in SotW: only listeners and clusters are removed by absence).
    return selection.resources.every((r) => st.held.get(r.name)?.version === r.version) && this.ackedSelection[kind] !== null;
  }
}

/**
 * `names` holds exactly `requested`, in the same order: a node repeats its names in one order, so
 * comparing in order (no hashing of 100 fresh strings) finds the common case; another order reads
 * as a change, which costs a rebuild of the set and nothing else.
 */
function sameNames(names: ReadonlySet<string>, requested: readonly string[]): boolean {
  if (names.size !== requested.length) return false;
  let i = 0;
  for (const n of names) if (n !== requested[i++]) return false;
  return true;
}

/** Distinct subsets framed per selection (streams of one fleet mostly lack the same few). */
const FRAME_LIMIT = 64;

/**
 * The frame of a response carrying `sent` out of `selection` under `version`: every stream due the
 * same subset of the same selection gets the same frame.
 */
function sharedFrame(selection: Selection, version: string, sent: readonly HeldResource[], frame: (nonce: string) => ResponseFrame, nextNonce: () => string): ResponseFrame {
  // The whole selection (every wildcard response, and a named one to a node that holds none of it) is
  // the common case: keyed by nothing.
  const key = sent.length === selection.resources.length ? '' : `${version}\n${resourcesKey(sent)}`;
  return memoisedFrame((selection.frames ??= new Map()), key, FRAME_LIMIT, () => frame(nextNonce()));
}
