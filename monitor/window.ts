/**
 * Sliding windows over request start times: a ring of fixed-width buckets, each holding a count and,
 * for keyed windows, a heavy-hitter summary. Entries arrive out of order (Envoy batches per worker):
 * a late entry lands in its own bucket while that bucket is still in the ring; older ones are dropped
 * and counted. Memory: buckets × (1 + 2 × capacity) entries at most.
 */
import { SpaceSaving, type HeavyHitter } from './space-saving';

/** Statuses and token use of one key over a window, summed over its buckets. */
export interface WindowDetail {
  readonly statuses: Map<number, number>;
  withToken: number;
}

interface Bucket {
  /** Bucket number (start time / bucketMs); -1 = empty. */
  epoch: number;
  count: number;
  keys: SpaceSaving | null;
}

export interface WindowQuery {
  /** Matching entries in the window. */
  readonly total: number;
  /** Keys by merged count, highest first (keyed windows only). */
  readonly top: readonly HeavyHitter[];
}

export class SlidingWindow {
  private readonly buckets: Bucket[];
  /** Entries too old for the ring or too far in the future (clock skew beyond one bucket span). */
  dropped = 0;

  constructor(
    readonly bucketMs: number,
    readonly bucketCount: number,
    /** Heavy hitters per bucket; 0 = count only. */
    readonly capacity: number,
  ) {
    this.buckets = Array.from({ length: bucketCount }, () => ({ epoch: -1, count: 0, keys: null }));
  }

  /** Longest window this ring answers exactly. */
  get spanMs(): number {
    return this.bucketMs * this.bucketCount;
  }

  /** Whether an entry that started at `startMs`, seen at `nowMs`, falls in the ring. */
  accepts(startMs: number, nowMs: number): boolean {
    const epoch = Math.floor(startMs / this.bucketMs);
    const nowEpoch = Math.floor(nowMs / this.bucketMs);
    return epoch > nowEpoch - this.bucketCount && epoch <= nowEpoch + 1;
  }

  /** Keys tracked over every bucket (memory: at most buckets × 2 × capacity). */
  get trackedKeys(): number {
    let n = 0;
    for (const b of this.buckets) n += b.keys?.size ?? 0;
    return n;
  }

  /** Counts one entry that started at `startMs`, seen at `nowMs`. */
  add(startMs: number, nowMs: number, key: string | null, n = 1, status?: number, withToken = false): void {
    const epoch = Math.floor(startMs / this.bucketMs);
    if (!this.accepts(startMs, nowMs)) {
      this.dropped += n;
      return;
    }
    const b = this.buckets[epoch % this.bucketCount] as Bucket;
    if (b.epoch !== epoch) {
      if (b.epoch > epoch) {
        this.dropped += n; // the slot already holds a newer bucket
        return;
      }
      b.epoch = epoch;
      b.count = 0;
      b.keys = this.capacity > 0 ? new SpaceSaving(this.capacity) : null;
    }
    b.count += n;
    if (key !== null && b.keys) b.keys.add(key, n, status, withToken);
  }

  /** Totals over the last `windowMs` before `nowMs` (whole buckets; the current one included). */
  query(nowMs: number, windowMs: number, limit = 0): WindowQuery {
    const nowEpoch = Math.floor(nowMs / this.bucketMs);
    const span = Math.min(this.bucketCount, Math.max(1, Math.ceil(windowMs / this.bucketMs)));
    let total = 0;
    const merged = limit > 0 ? new Map<string, { count: number; error: number }>() : null;
    for (const b of this.buckets) {
      if (b.epoch < 0 || b.epoch <= nowEpoch - span || b.epoch > nowEpoch + 1) continue;
      total += b.count;
      if (merged && b.keys) {
        for (const h of b.keys.top()) {
          const m = merged.get(h.key);
          if (m) {
            m.count += h.count;
            m.error += h.error;
          } else merged.set(h.key, { count: h.count, error: h.error });
        }
      }
    }
    if (!merged) return { total, top: [] };
    const top = [...merged].map(([key, v]) => ({ key, count: v.count, error: v.error }));
    top.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
    return { total, top: top.slice(0, limit) };
  }

  /**
   * Every non-empty bucket (epoch, count, heavy hitters), emptying the ring: what a replica has
   * counted since the last call (monitor/fleet-share.ts publishes it).
   */
  take(): { epoch: number; count: number; top: readonly HeavyHitter[] }[] {
    const out: { epoch: number; count: number; top: readonly HeavyHitter[] }[] = [];
    for (const b of this.buckets) {
      if (b.epoch < 0 || b.count === 0) continue;
      out.push({ epoch: b.epoch, count: b.count, top: b.keys?.top() ?? [] });
      b.epoch = -1;
      b.count = 0;
      b.keys = null;
    }
    return out;
  }

  /** Bucket numbers a query of `windowMs` at `nowMs` reads (oldest first). */
  epochs(nowMs: number, windowMs: number): number[] {
    const nowEpoch = Math.floor(nowMs / this.bucketMs);
    const span = Math.min(this.bucketCount, Math.max(1, Math.ceil(windowMs / this.bucketMs)));
    const out: number[] = [];
    for (let e = nowEpoch - span + 1; e <= nowEpoch + 1; e++) out.push(e);
    return out;
  }

  /** Statuses and token use recorded for `key` in the window (what the summaries kept). */
  detail(nowMs: number, windowMs: number, key: string): WindowDetail {
    const out: WindowDetail = { statuses: new Map(), withToken: 0 };
    for (const b of this.live(nowMs, windowMs)) {
      const d = b.keys?.detail(key);
      if (!d) continue;
      for (const [status, n] of d.statuses) out.statuses.set(status, (out.statuses.get(status) ?? 0) + n);
      out.withToken += d.withToken;
    }
    return out;
  }

  private live(nowMs: number, windowMs: number): Bucket[] {
    const nowEpoch = Math.floor(nowMs / this.bucketMs);
    const span = Math.min(this.bucketCount, Math.max(1, Math.ceil(windowMs / this.bucketMs)));
    return this.buckets.filter((b) => b.epoch >= 0 && b.epoch > nowEpoch - span && b.epoch <= nowEpoch + 1);
  }

  /** Estimated count of one key over the window (0 when not among the heavy hitters). */
  estimate(nowMs: number, windowMs: number, key: string): number {
    const nowEpoch = Math.floor(nowMs / this.bucketMs);
    const span = Math.min(this.bucketCount, Math.max(1, Math.ceil(windowMs / this.bucketMs)));
    let n = 0;
    for (const b of this.buckets) {
      if (b.epoch < 0 || b.epoch <= nowEpoch - span || b.epoch > nowEpoch + 1 || !b.keys) continue;
      n += b.keys.estimate(key);
    }
    return n;
  }
}
