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

  add(key: string, n = 1): void {
    this.total += n;
    const s = this.slots.get(key);
    if (s !== undefined) {
      s.count += n;
      return;
    }
    if (this.slots.size >= 2 * this.capacity) this.prune();
    this.slots.set(key, { count: this.floor + n, error: this.floor });
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

  private prune(): void {
    const sorted = [...this.slots].sort((a, b) => b[1].count - a[1].count);
    for (let i = this.capacity; i < sorted.length; i++) {
      const [key, s] = sorted[i] as [string, Slot];
      if (s.count > this.floor) this.floor = s.count;
      this.slots.delete(key);
    }
  }
}
