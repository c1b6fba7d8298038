/**
 * Heavy hitters in bounded memory: Space-Saving (Metwally et al. 2005) with batched eviction. Up to
 * 2 × capacity keys are tracked; when full, the `capacity` largest stay and the rest go, and a new
 * key starts at the largest evicted count (its `error`). A key's estimate is an upper bound that
 * overcounts by at most `error`; a key whose true count exceeds total / capacity is never lost.
 * Batching makes an insert amortised O(log capacity) even on a stream of distinct keys.
 */

export interface HeavyHitter {
  readonly key: string;
  /** Estimated count (upper bound). */
  readonly count: number;
  /** Possible overcount: the true count is in [count - error, count]. */
  readonly error: number;
}

interface Slot {
  count: number;
  error: number;
  /** Per status code, when the caller records details (the evidence windows do). */
  statuses: Map<number, number> | null;
  /** Requests that carried a verified token. */
  withToken: number;
}

/** What one key's requests were, as far as the summary kept them (since the key entered it). */
export interface KeyDetail {
  readonly statuses: ReadonlyMap<number, number>;
  readonly withToken: number;
}

export class SpaceSaving {
  private readonly slots = new Map<string, Slot>();
  /** Largest count evicted so far: where a new key starts. */
  private floor = 0;
  /** Sum of every increment. */
  total = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('SpaceSaving capacity must be at least 1');
  }

  get size(): number {
    return this.slots.size;
  }

  /** Counts `n` for `key`; with `status`, also what the requests were (for blast-radius evidence). */
  add(key: string, n = 1, status?: number, withToken = false): void {
    this.total += n;
    let s = this.slots.get(key);
    if (s === undefined) {
      if (this.slots.size >= 2 * this.capacity) this.prune();
      s = { count: this.floor, error: this.floor, statuses: null, withToken: 0 };
      this.slots.set(key, s);
    }
    s.count += n;
    if (status !== undefined) {
      const m = (s.statuses ??= new Map());
      m.set(status, (m.get(status) ?? 0) + n);
      if (withToken) s.withToken += n;
    }
  }

  /** The recorded details of `key`, or null when it is not tracked. */
  detail(key: string): KeyDetail | null {
    const s = this.slots.get(key);
    return s ? { statuses: s.statuses ?? new Map(), withToken: s.withToken } : null;
  }

  /** Estimated count of `key`: an upper bound (the floor when the key is not tracked). */
  estimate(key: string): number {
    return this.slots.get(key)?.count ?? 0;
  }

  /** Entries by count, highest first (ties by key, so results are stable). */
  top(limit = this.capacity): HeavyHitter[] {
    const all: HeavyHitter[] = [];
    for (const [key, s] of this.slots) all.push({ key, count: s.count, error: s.error });
    all.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return all.slice(0, limit);
  }

  /** Every tracked (key, count). */
  *entries(): IterableIterator<[string, number]> {
    for (const [key, s] of this.slots) yield [key, s.count];
  }

  /** Keeps the `capacity` largest; the largest count evicted becomes the floor. */
  private prune(): void {
    const counts = new Float64Array(this.slots.size);
    let i = 0;
    for (const s of this.slots.values()) counts[i++] = s.count;
    counts.sort();
    // Keep keys strictly above the cut; of the keys at the cut, keep as many as fit.
    const cut = counts[counts.length - this.capacity] as number;
    let room = this.capacity - countAbove(counts, cut);
    for (const [key, s] of this.slots) {
      if (s.count > cut) continue;
      if (s.count === cut && room > 0) {
        room--;
        continue;
      }
      if (s.count > this.floor) this.floor = s.count;
      this.slots.delete(key);
    }
  }
}

function countAbove(sorted: Float64Array, cut: number): number {
  let n = 0;
  for (let i = sorted.length - 1; i >= 0 && (sorted[i] as number) > cut; i--) n++;
  return n;
}
