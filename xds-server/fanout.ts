/**
 * Publication work spread over the event loop (issue 14 item 2). Encoding a fresh 10,000-route
 * table took ≈ 280 ms in one piece, and writing to 1,000 streams in one go held the event loop for
 * over a second (ACKs, health checks and scrapes all waited). Both now run in slices: `runInSlices`
 * steps through the encoding (snapshot.ts's encodeSteps) at most `maxMs` at a time; SlicedQueue
 * runs each stream's push as a task, tasks costing at most `maxTasks` or `maxMs` per slice. The
 * next slice waits for setImmediate, so I/O (ACKs, other requests) runs between slices.
 * `SliceTimer` keeps the longest slice's wall-clock time for the
 * `portcullis_xds_push_slice_max_seconds` gauge.
 */
import type { Variant } from './stream';

export interface SliceLimits {
  /** Cost of the tasks run in one slice at most (a task costs what it was queued with). */
  readonly maxTasks: number;
  /** A slice stops starting tasks (or steps) once it has run this long (one is not interrupted). */
  readonly maxMs: number;
}

/**
 * A slice runs at most 40 ms, so with one step's overrun no section passes the 50 ms the issue
 * allows, and at most 64 SotW pushes. Node's HTTP/2 sends a session's queued frames on a later
 * turn, and between two slices the loop reads the write completions and ACKs of every stream
 * written so far, each about as costly as a push: in slices of 64, the streams written last waited
 * for all of them (1,000 delta clients, one-route change: p99 ≈ 135 ms; in one slice of 15–30 ms,
 * 50–90 ms). So a delta push costs nothing against `maxTasks` (bounded by time only): its ACK is a
 * nonce. A SotW ACK repeats the whole subscription (100 scopes' tables: 100 names), and the ACKs of
 * 1,000 SotW streams written in one slice came back as one read of 55–85 ms; 64 per slice keep
 * that under 30 ms (PUSH_COST). A first slice of half the delta pushes (tried: p50 ≈ 0.4 × p99)
 * cost p99 ≈ 45 % on the bench (median p99 54 → 79 ms; docs/benchmarks-xds.md, 2026-12-03 11:37),
 * 20–40 % with the fleet on its own core (--pin), and ≈ 30 % with the ACKs that came in during
 * the fan-out held until after it (2026-12-03 12:52): the first half's ACKs are read before the
 * second half's frames leave.
 */
export const PUBLICATION_SLICE: SliceLimits = { maxTasks: 64, maxMs: 40 };

/** What one stream's push costs against `maxTasks`, by variant (see PUBLICATION_SLICE). */
export const PUSH_COST: Readonly<Record<Variant, number>> = { sotw: 1, delta: 0 };

const nextTurn = (run: () => void): void => void setImmediate(run);

/** The longest slice of publication work, wall clock, since the last take(). */
export class SliceTimer {
  private longestMs = 0;

  constructor(readonly clock: () => number = () => performance.now()) {}

  /** Counts a slice that began at `startMs` (this clock) and ends now. */
  ended(startMs: number): void {
    this.longestMs = Math.max(this.longestMs, this.clock() - startMs);
  }

  /** The longest slice in ms since the previous call (wall clock: on a loaded machine it includes time descheduled); resets it. */
  takeLongestMs(): number {
    const ms = this.longestMs;
    this.longestMs = 0;
    return ms;
  }
}

/**
 * Runs `steps` to the end, at most `maxMs` per slice (a step is not interrupted), the next slice
 * on a later turn of the event loop; each slice goes to `timer`. Resolves when the last step ran.
 */
export function runInSlices(steps: Iterator<unknown>, timer: SliceTimer, maxMs = PUBLICATION_SLICE.maxMs, schedule = nextTurn): Promise<void> {
  return new Promise((resolve, reject) => {
    const slice = (): void => {
      const start = timer.clock();
      try {
        for (;;) {
          if (steps.next().done) {
            timer.ended(start);
            return resolve();
          }
          if (timer.clock() - start >= maxMs) break;
        }
      } catch (e) {
        return reject(e instanceof Error ? e : new Error(String(e)));
      }
      timer.ended(start);
      schedule(slice);
    };
    schedule(slice);
  });
}

export class SlicedQueue {
  /** Pending tasks by key, in the order their keys were first queued. */
  private readonly tasks = new Map<object, { readonly run: () => void; readonly cost: number }>();
  private scheduled = false;
  /** Slices run so far, and the most tasks any of them ran (for tests and the bench). */
  slices = 0;
  largestSlice = 0;

  constructor(
    private readonly onError: (key: object, error: unknown) => void,
    private readonly limits: SliceLimits = PUBLICATION_SLICE,
    private readonly schedule: (run: () => void) => void = nextTurn,
    private readonly timer: SliceTimer = new SliceTimer(),
  ) {}

  get size(): number {
    return this.tasks.size;
  }

  /** Queues `task` under `key`; a key already queued keeps its place and runs the newer task once. */
  add(key: object, task: () => void, cost = 1): void {
    this.tasks.set(key, { run: task, cost });
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.runSlice());
    }
  }

  /** Drops every pending task (shutdown). */
  clear(): void {
    this.tasks.clear();
  }

  private runSlice(): void {
    this.scheduled = false;
    const start = this.timer.clock();
    let ran = 0;
    let spent = 0;
    for (const [key, task] of this.tasks) {
      this.tasks.delete(key);
      try {
        task.run();
      } catch (e) {
        this.onError(key, e);
      }
      ran++;
      spent += task.cost;
      if (spent >= this.limits.maxTasks || this.timer.clock() - start >= this.limits.maxMs) break;
    }
    this.slices++;
    this.largestSlice = Math.max(this.largestSlice, ran);
    this.timer.ended(start);
    if (this.tasks.size > 0 && !this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.runSlice());
    }
  }
}
