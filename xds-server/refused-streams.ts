/**
 * ADS streams the server refused before sending any config (unknown fleet, fleet removed, no node),
 * remembered per (node, fleet) so `/status` can name the Envoys that get nothing. Envoy retries a
 * refused stream every few seconds, so an entry not refreshed for `ttlMs` is a node that went away.
 */

export type RefusalReason = 'unknown_fleet' | 'fleet_removed' | 'no_node';
export const REFUSAL_REASONS: readonly RefusalReason[] = ['unknown_fleet', 'fleet_removed', 'no_node'];

/** One node whose streams are being refused, as `/status` shows it. */
export interface RefusedStream {
  /** `node.id` ('' when the request carried no node). */
  readonly node: string;
  /** The fleet it asked for (`node.cluster`). */
  readonly fleet: string;
  readonly reason: RefusalReason;
  /** The gRPC status message the node got. */
  readonly message: string;
  readonly peer: string;
  readonly firstAt: string;
  readonly lastAt: string;
  /** Streams refused since `firstAt`. */
  readonly count: number;
}

export class RefusedStreams {
  private readonly entries = new Map<string, RefusedStream>();

  constructor(
    private readonly ttlMs = 10 * 60_000,
    /** At most this many nodes are remembered (the oldest refusal is forgotten first). */
    private readonly capacity = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  record(r: { node: string; fleet: string; reason: RefusalReason; message: string; peer: string }): void {
    const key = `${r.node}\0${r.fleet}`;
    const at = new Date(this.now()).toISOString();
    const old = this.entries.get(key);
    this.entries.delete(key);
    this.entries.set(key, { ...r, firstAt: old?.firstAt ?? at, lastAt: at, count: (old?.count ?? 0) + 1 });
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  /** The node got its config: it is no longer refused. */
  forget(node: string): void {
    for (const [key, e] of this.entries) if (e.node === node) this.entries.delete(key);
  }

  /** Current refusals, most recent first; expired ones are dropped. */
  list(): RefusedStream[] {
    const cutoff = this.now() - this.ttlMs;
    for (const [key, e] of this.entries) if (Date.parse(e.lastAt) < cutoff) this.entries.delete(key);
    return [...this.entries.values()].reverse();
  }
}
