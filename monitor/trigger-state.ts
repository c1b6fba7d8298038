/**
 * One Trigger watching one environment: the windows of what it counts, the learned baseline, and
 * which keys are pending or firing. The monitor feeds it entries and asks it, once per evaluation
 * tick, which alerts are firing and which have just resolved.
 */
import type { TriggerIR } from '../compiler/ir/ir';
import { formatWindow } from '../compiler/monitor/alert-labels';
import { compareText } from '../compiler/text-order';
import type { Cause } from './cause';
import { SlidingWindow, type WindowQuery } from './window';

/** Heavy hitters tracked per bucket of a keyed trigger (2× this at most). */
const TRIGGER_CAPACITY = 256;
/** Keys considered per evaluation: more than this many offenders at once alert on the largest. */
const MAX_FIRING_KEYS = 20;

/** The key of an entry for a trigger key type ('' when the entry has none: no token, no address). */
export interface EntryKeys {
  readonly clientNetwork: string;
  readonly clientIp: string;
  readonly tokenSubject: string;
  readonly tokenId: string;
}

export interface Evidence {
  readonly window: string;
  readonly total: number;
  readonly matched: number;
  readonly top: readonly { readonly key: string; readonly count: number; readonly share: number }[];
  readonly routes: readonly { readonly route: string; readonly count: number }[];
  readonly warmingUp: boolean;
}

/** An alert as the monitor reports it (the Alertmanager client adds labels and annotations). */
export interface TriggerAlert {
  readonly key: string;
  readonly value: number;
  readonly threshold: number;
  /** Null when the condition has no baseline. */
  readonly baseline: number | null;
  readonly startsAtMs: number;
  /** Set when the condition cleared: the alert is resolved at this instant. */
  readonly endsAtMs: number | null;
  readonly evidence: Evidence;
}

/** The windows of a trigger, by the names the fleet merge stores them under. */
export type WindowName = 'matched' | 'watched' | 'byRoute';

/** What this replica counted since its last publication (monitor/fleet-share.ts). */
export type PendingWindows = Record<WindowName, SlidingWindow>;

/** Query limits per window: the most keys any evaluation reads. */
export const QUERY_LIMITS: Record<WindowName, number> = { matched: MAX_FIRING_KEYS, watched: 0, byRoute: 10 };

interface Track {
  pendingSince: number;
  firingSince: number | null;
}

export class TriggerState {
  /** Matching entries (statuses and causes), keyed by the trigger key. */
  private readonly matched: SlidingWindow;
  /** Every entry on the watched routes (the evidence's `total`). */
  private readonly watched: SlidingWindow;
  private readonly byRoute: SlidingWindow;
  private readonly routes: ReadonlySet<string> | null;
  private readonly statuses: ReadonlySet<string> | null;
  private readonly causes: ReadonlySet<Cause> | null;
  private readonly tracks = new Map<string, Track>();
  private mean = 0;
  private samples = 0;
  private lastSampleMs = 0;
  /** Matching entries since the last metrics read (portcullis_trigger_matches_total). */
  newMatches = 0;
  /** Set by startSharing: counts not yet published to the fleet merge. */
  pending: PendingWindows | null = null;
  /**
   * The fleet's merged windows for this tick (`<window>:<windowMs>` → query), set by the fleet merge
   * before evaluate; null = this replica's own view (no merge, or Redis unreachable).
   */
  merged: Map<string, WindowQuery> | null = null;
  /** The windows as read by the evaluation in progress (evaluate reads each several times). */
  private cache: { readonly nowMs: number; readonly queries: Map<string, WindowQuery> } | null = null;

  constructor(
    readonly ir: TriggerIR,
    readonly environment: string,
    /** When the monitor started watching (warm-up of a baseline counts from here). */
    readonly sinceMs: number,
  ) {
    const c = ir.condition;
    const span = c.kind === 'baseline' ? Math.max(c.windowMs, c.floor.windowMs) : c.windowMs;
    const bucketMs = Math.max(1000, Math.ceil(span / 60 / 1000) * 1000);
    const buckets = Math.ceil(span / bucketMs) + 1;
    this.matched = new SlidingWindow(bucketMs, buckets, ir.key === 'none' ? 0 : TRIGGER_CAPACITY);
    this.watched = new SlidingWindow(bucketMs, buckets, 0);
    this.byRoute = new SlidingWindow(bucketMs, buckets, 64);
    this.routes = ir.routes.length ? new Set(ir.routes) : null;
    this.statuses = ir.statuses.length ? new Set(ir.statuses) : null;
    this.causes = ir.causes.length ? new Set(ir.causes) : null;
  }

  add(startMs: number, nowMs: number, route: string, status: number, cls: string, cause: Cause, keys: EntryKeys): void {
    if (this.routes && !this.routes.has(route)) return;
    this.watched.add(startMs, nowMs, null);
    this.pending?.watched.add(startMs, nowMs, null);
    if (this.statuses && !this.statuses.has(cls) && !this.statuses.has(String(status))) return;
    if (this.causes && !this.causes.has(cause)) return;
    const key = this.ir.key === 'none' ? null : keys[this.ir.key];
    if (key === '') return; // keyed by token, and the request had none
    this.matched.add(startMs, nowMs, key);
    this.byRoute.add(startMs, nowMs, route);
    this.newMatches++;
    if (this.pending) {
      this.pending.matched.add(startMs, nowMs, key);
      this.pending.byRoute.add(startMs, nowMs, route);
    }
  }

  /** From now on, keeps what it counts for publication too (pending). */
  startSharing(): PendingWindows {
    const like = (w: SlidingWindow) => new SlidingWindow(w.bucketMs, w.bucketCount, w.capacity);
    this.pending ??= { matched: like(this.matched), watched: like(this.watched), byRoute: like(this.byRoute) };
    return this.pending;
  }

  /** Keys tracked in its windows (bounded by buckets × 2 × capacity each). */
  get trackedKeys(): number {
    const p = this.pending;
    return this.matched.trackedKeys + this.byRoute.trackedKeys + (p ? p.matched.trackedKeys + p.byRoute.trackedKeys : 0);
  }

  /** The windows' shape: bucket width and count (the same for the three). */
  get ring(): SlidingWindow {
    return this.matched;
  }

  /** The window lengths evaluation reads. */
  get spans(): number[] {
    const c = this.ir.condition;
    return c.kind === 'baseline' && c.floor.windowMs !== c.windowMs ? [c.windowMs, c.floor.windowMs] : [c.windowMs];
  }

  /**
   * A window over the last `windowMs`: the fleet's when merged, else this replica's. The fleet's
   * view never counts less than this replica saw (after Redis lost its data, counts of a tick whose
   * publication failed): each count is the larger of the two.
   */
  private query(name: WindowName, nowMs: number, windowMs: number, limit = 0): WindowQuery {
    // One evaluation reads a window several times: merge its buckets once, at the largest limit.
    const cache = this.cache?.nowMs === nowMs ? this.cache.queries : null;
    const cached = cache?.get(`${name}:${windowMs}`);
    if (cached) return { total: cached.total, top: cached.top.slice(0, limit) };
    const q = this.uncachedQuery(name, nowMs, windowMs, cache ? Math.max(limit, QUERY_LIMITS[name]) : limit);
    cache?.set(`${name}:${windowMs}`, q);
    return { total: q.total, top: q.top.slice(0, limit) };
  }

  private uncachedQuery(name: WindowName, nowMs: number, windowMs: number, limit: number): WindowQuery {
    const local = this[name].query(nowMs, windowMs, limit);
    const m = this.merged?.get(`${name}:${windowMs}`);
    if (!m) return local;
    const counts = new Map(m.top.map((h) => [h.key, h]));
    for (const h of local.top) if (h.count > (counts.get(h.key)?.count ?? 0)) counts.set(h.key, h);
    const top = [...counts.values()].sort((x, y) => y.count - x.count || compareText(x.key, y.key));
    return { total: Math.max(m.total, local.total), top: top.slice(0, limit) };
  }

  private get windowMs(): number {
    return this.ir.condition.windowMs;
  }

  /** The condition's value and threshold for each candidate key, highest first. */
  private candidates(nowMs: number): { key: string; value: number; threshold: number; baseline: number | null; warmingUp: boolean }[] {
    const c = this.ir.condition;
    const q = this.query('matched', nowMs, c.windowMs, this.ir.key === 'none' ? 0 : MAX_FIRING_KEYS);
    const rows = this.ir.key === 'none' ? [{ key: '', count: q.total }] : q.top;
    switch (c.kind) {
      case 'rate':
        return rows.map((r) => ({ key: r.key, value: r.count, threshold: c.above, baseline: null, warmingUp: false }));
      case 'share':
        if (q.total < c.minRequests) return [];
        return rows.map((r) => ({ key: r.key, value: round((100 * r.count) / q.total), threshold: c.abovePercent, baseline: null, warmingUp: false }));
      case 'baseline': {
        const warmingUp = nowMs - this.sinceMs < c.warmUpMs || this.samples === 0;
        const floorQ = c.floor.windowMs === c.windowMs ? q : this.query('matched', nowMs, c.floor.windowMs, this.ir.key === 'none' ? 0 : MAX_FIRING_KEYS);
        const floorOf = (key: string) => (this.ir.key === 'none' ? floorQ.total : (floorQ.top.find((t) => t.key === key)?.count ?? 0));
        const learned = round(this.mean);
        return rows
          .filter((r) => floorOf(r.key) > c.floor.above)
          .map((r) => ({ key: r.key, value: r.count, threshold: warmingUp ? c.floor.above : Math.max(c.floor.above, round(c.multiple * learned)), baseline: learned, warmingUp }));
      }
    }
  }

  /** Learns the baseline from the current window (not while anything fires: an attack is not normal). */
  private learn(nowMs: number): void {
    const c = this.ir.condition;
    if (c.kind !== 'baseline' || nowMs - this.lastSampleMs < 1000) return;
    if ([...this.tracks.values()].some((t) => t.firingSince !== null)) return;
    const q = this.query('matched', nowMs, c.windowMs, this.ir.key === 'none' ? 0 : 1);
    const x = this.ir.key === 'none' ? q.total : (q.top[0]?.count ?? 0);
    const tau = Math.max(c.warmUpMs, 10 * c.windowMs);
    const alpha = this.samples === 0 ? 1 : 1 - Math.exp(-(nowMs - this.lastSampleMs) / tau);
    this.mean += alpha * (x - this.mean);
    this.samples++;
    this.lastSampleMs = nowMs;
  }

  /** Firing alerts (after `for`) and alerts resolved since the last call. */
  evaluate(nowMs: number): { firing: TriggerAlert[]; resolved: TriggerAlert[]; topValue: number; threshold: number; baseline: number | null } {
    this.cache = { nowMs, queries: new Map() };
    try {
      return this.evaluateNow(nowMs);
    } finally {
      this.cache = null;
    }
  }

  private evaluateNow(nowMs: number): { firing: TriggerAlert[]; resolved: TriggerAlert[]; topValue: number; threshold: number; baseline: number | null } {
    const cands = this.candidates(nowMs).filter((k) => k.value > k.threshold);
    const firing: TriggerAlert[] = [];
    const seen = new Set<string>();
    const evidence = cands.length ? this.evidence(nowMs, cands[0]?.warmingUp ?? false) : null;
    for (const k of cands) {
      seen.add(k.key);
      let t = this.tracks.get(k.key);
      if (!t) this.tracks.set(k.key, (t = { pendingSince: nowMs, firingSince: null }));
      if (t.firingSince === null && nowMs - t.pendingSince >= this.ir.forMs) t.firingSince = nowMs;
      if (t.firingSince !== null && evidence) {
        firing.push({ key: k.key, value: k.value, threshold: k.threshold, baseline: k.baseline, startsAtMs: t.firingSince, endsAtMs: null, evidence });
      }
    }
    const resolved: TriggerAlert[] = [];
    for (const [key, t] of this.tracks) {
      if (seen.has(key)) continue;
      this.tracks.delete(key);
      if (t.firingSince !== null) {
        resolved.push({ key, value: 0, threshold: 0, baseline: null, startsAtMs: t.firingSince, endsAtMs: nowMs, evidence: this.evidence(nowMs, false) });
      }
    }
    this.learn(nowMs);
    const all = this.candidates(nowMs);
    const top = all[0];
    return { firing, resolved, topValue: top?.value ?? 0, threshold: top?.threshold ?? thresholdOf(this.ir), baseline: top?.baseline ?? (this.ir.condition.kind === 'baseline' ? round(this.mean) : null) };
  }

  private evidence(nowMs: number, warmingUp: boolean): Evidence {
    const q = this.query('matched', nowMs, this.windowMs, this.ir.key === 'none' ? 0 : 5);
    const routes = this.query('byRoute', nowMs, this.windowMs, 10).top.map((r) => ({ route: r.key, count: r.count }));
    return {
      window: formatWindow(this.windowMs),
      total: this.query('watched', nowMs, this.windowMs).total,
      matched: q.total,
      top: q.top.map((t) => ({ key: t.key, count: t.count, share: q.total ? round(t.count / q.total, 4) : 0 })),
      routes,
      warmingUp,
    };
  }
}

function thresholdOf(t: TriggerIR): number {
  const c = t.condition;
  return c.kind === 'rate' ? c.above : c.kind === 'share' ? c.abovePercent : c.floor.above;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
