/**
 * Bot: how fast it writes to GitHub. Octokit's throttling plugin spaces every write 1 s apart (and
 * notification-triggering writes — PRs, comments, review requests — 3 s), which puts 5–7 s between an
 * alert and its PR. GitHub asks for that spacing when making *many* content-creating requests; its
 * documented secondary limit is 80 per minute. A token bucket keeps to both: a short burst (the
 * handful of writes one incident needs) goes out at once, then one write per refill interval
 * (at most 60 per minute). It plugs into the plugin's `throttle.write` / `throttle.notifications`
 * (Bottleneck.Group's `key(id).schedule(options, fn, ...args)` shape).
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface Pacing {
  /** Writes that may go out back to back. */
  readonly burst: number;
  /** One more write allowed per this many ms (GitHub: ≥ 1000 for sustained writes). */
  readonly refillMs: number;
}

export const DEFAULT_WRITE_PACING: Pacing = { burst: 5, refillMs: 1000 };
export const DEFAULT_NOTIFICATION_PACING: Pacing = { burst: 3, refillMs: 3000 };

export class TokenBucket {
  private tokens: number;
  private last: number;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly pacing: Pacing, private readonly now: () => number = Date.now) {
    this.tokens = pacing.burst;
    this.last = now();
  }

  /** Runs `fn(...args)` once a token is free (weight 0, octokit's retries, takes none). */
  schedule<T>(options: { weight?: number } | undefined, fn: (...a: any[]) => Promise<T>, ...args: any[]): Promise<T> {
    const turn = this.chain.then(() => this.take(options?.weight === 0 ? 0 : 1));
    this.chain = turn.catch(() => undefined);
    return turn.then(() => fn(...args));
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.pacing.burst, this.tokens + (t - this.last) / Math.max(1, this.pacing.refillMs));
    this.last = t;
  }

  private async take(weight: number): Promise<void> {
    if (!weight) return;
    this.refill();
    if (this.tokens < 1) {
      await new Promise((resolve) => setTimeout(resolve, Math.ceil((1 - this.tokens) * this.pacing.refillMs)));
      this.refill();
    }
    this.tokens = Math.max(0, this.tokens - 1);
  }
}

/** A `Bottleneck.Group` look-alike with one bucket for every key. */
export function pacingGroup(pacing: Pacing): { key(id?: string): TokenBucket } {
  const bucket = new TokenBucket(pacing);
  return { key: () => bucket };
}
