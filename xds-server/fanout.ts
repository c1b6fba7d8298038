/**
 * Publication work spread over the event loop (issue 14 item 2): after a publication every stream of
 * a fleet has a response to write, and writing to 1,000 streams in one go held the event loop for
 * over a second (ACKs, health checks and scrapes all waited). Here each stream's push is a task;
 * tasks run in slices of at most `maxTasks` tasks or `maxMs` milliseconds, whichever comes first,
 * and the next slice waits for setImmediate, so I/O (ACKs, other requests) runs between slices.
 */

export interface SliceLimits {
  /** Tasks run in one slice at most. */
  readonly maxTasks: number;
  /** A slice stops starting tasks once it has run this long (a task is not interrupted). */
  readonly maxMs: number;
}

/** At ~50 µs per stream write, 64 streams are ≈ 3 ms; 10 ms bounds a slice of slow writes. */
export const PUBLICATION_SLICE: SliceLimits = { maxTasks: 64, maxMs: 10 };

/** CPU time of the main thread (process.threadCpuUsage, Node ≥ 22.19; before, the whole process's), in ms. */
function mainThreadCpuMs(): number {
  const usage = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

export class SlicedQueue {
  /** Pending tasks by key, in the order their keys were first queued. */
  private readonly tasks = new Map<object, () => void>();
  private scheduled = false;
  /** Slices run so far, and the most tasks any of them ran (for tests and the bench). */
  slices = 0;
  largestSlice = 0;
  /** Longest slice (ms of main-thread CPU) since the last takeLongestMs(). */
  private longestMs = 0;

  constructor(
    private readonly onError: (key: object, error: unknown) => void,
    private readonly limits: SliceLimits = PUBLICATION_SLICE,
    private readonly schedule: (run: () => void) => void = (run) => void setImmediate(run),
    private readonly clock: () => number = () => performance.now(),
    private readonly cpuClock: () => number = mainThreadCpuMs,
  ) {}

  get size(): number {
    return this.tasks.size;
  }

  /** Queues `task` under `key`; a key already queued keeps its place and runs the newer task once. */
  add(key: object, task: () => void): void {
    this.tasks.set(key, task);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.runSlice());
    }
  }

  /**
   * The longest slice since the previous call, in ms of main-thread CPU (what the server spent;
   * on a loaded machine the wall-clock stall can be longer, which the event-loop gauge shows); resets it.
   */
  takeLongestMs(): number {
    const ms = this.longestMs;
    this.longestMs = 0;
    return ms;
  }

  /** Drops every pending task (shutdown). */
  clear(): void {
    this.tasks.clear();
  }

  private runSlice(): void {
    this.scheduled = false;
    const start = this.clock();
    const cpuStart = this.cpuClock();
    let ran = 0;
    for (const [key, task] of this.tasks) {
      this.tasks.delete(key);
      try {
        task();
      } catch (e) {
        this.onError(key, e);
      }
      ran++;
      if (ran >= this.limits.maxTasks || this.clock() - start >= this.limits.maxMs) break;
    }
    this.slices++;
    this.largestSlice = Math.max(this.largestSlice, ran);
    this.longestMs = Math.max(this.longestMs, this.cpuClock() - cpuStart);
    if (this.tasks.size > 0 && !this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.runSlice());
    }
  }
}
