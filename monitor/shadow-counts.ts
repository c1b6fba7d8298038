/**
 * What each shadow overlay of an environment would have refused, counted from the RBAC shadow
 * result the access logs carry (the `shadow_policy` tag, compiler/envoy/shadow.ts): per overlay,
 * requests and distinct clients it would have blocked, by status and by route, how many carried a
 * verified token, and the requests it did not match. Bounded memory: a fixed set of windows per
 * overlay, distinct clients through heavy-hitter summaries (exact below their capacity), at most
 * MAX_OVERLAYS overlays kept (ended ones are kept for one span, so their last figures stay readable).
 */
import type { ShadowOverlayIR } from '../compiler/ir/ir';
import { overlayOfPolicy } from '../compiler/envoy/shadow';
import type { AccessEntry } from './als-decode';
import { SlidingWindow } from './window';

/** Bucket width and count of the shadow windows: 10 s buckets over 30 minutes (a shadow's default lifetime). */
export const SHADOW_BUCKET_MS = 10_000;
export const SHADOW_BUCKETS = 180;
/** Client addresses per bucket summary: distinct-client counts are exact up to this many per bucket. */
const CLIENT_CAPACITY = 128;
/** Overlays (active and ended) kept per environment. */
export const MAX_OVERLAYS = 32;

export interface ShadowFigures {
  readonly overlay: string;
  readonly active: boolean;
  /** When the monitor first saw it in the served policy; requests that started earlier are not counted. */
  readonly since: string;
  readonly endedAt: string | null;
  /** Actions Envoy could not evaluate in shadow (counted nowhere: see the history figures). */
  readonly notShadowed: readonly string[];
  readonly wouldBlock: {
    readonly requests: number;
    readonly clients: number;
    readonly byStatus: Record<string, number>;
    readonly withValidToken: { readonly requests: number; readonly clients: number };
    readonly byRoute: readonly { readonly route: string; readonly requests: number }[];
  };
  readonly unaffected: { readonly requests: number };
}

class OverlayCounts {
  endedAtMs: number | null = null;
  notShadowed: readonly string[];
  private readonly blocked = this.window(0);
  private readonly clients = this.window(CLIENT_CAPACITY);
  private readonly statuses = this.window(16);
  private readonly routes = this.window(64);
  private readonly withToken = this.window(0);
  private readonly tokenClients = this.window(CLIENT_CAPACITY);
  private readonly unaffected = this.window(0);

  constructor(
    readonly name: string,
    readonly sinceMs: number,
    ir: ShadowOverlayIR,
  ) {
    this.notShadowed = ir.notShadowed;
  }

  private window(capacity: number): SlidingWindow {
    return new SlidingWindow(SHADOW_BUCKET_MS, SHADOW_BUCKETS, capacity);
  }

  count(e: AccessEntry, route: string, matched: boolean, nowMs: number): void {
    if (!matched) return this.unaffected.add(e.startMs, nowMs, null);
    this.blocked.add(e.startMs, nowMs, null);
    this.clients.add(e.startMs, nowMs, e.clientIp || '-');
    this.statuses.add(e.startMs, nowMs, String(e.status));
    this.routes.add(e.startMs, nowMs, route);
    if (e.sub !== '') {
      this.withToken.add(e.startMs, nowMs, null);
      this.tokenClients.add(e.startMs, nowMs, e.clientIp || '-');
    }
  }

  figures(windowMs: number, nowMs: number): ShadowFigures {
    const keys = (w: SlidingWindow) => w.query(nowMs, windowMs, Number.MAX_SAFE_INTEGER).top;
    return {
      overlay: this.name,
      active: this.endedAtMs === null,
      since: new Date(this.sinceMs).toISOString(),
      endedAt: this.endedAtMs === null ? null : new Date(this.endedAtMs).toISOString(),
      notShadowed: this.notShadowed,
      wouldBlock: {
        requests: this.blocked.query(nowMs, windowMs).total,
        clients: keys(this.clients).length,
        byStatus: Object.fromEntries(keys(this.statuses).map((h) => [h.key, h.count])),
        withValidToken: { requests: this.withToken.query(nowMs, windowMs).total, clients: keys(this.tokenClients).length },
        byRoute: keys(this.routes).map((h) => ({ route: h.key, requests: h.count })),
      },
      unaffected: { requests: this.unaffected.query(nowMs, windowMs).total },
    };
  }
}

/** The shadow overlays of one environment and their counts (carried across policy updates). */
export class ShadowCounts {
  private readonly overlays = new Map<string, OverlayCounts>();
  private active: OverlayCounts[] = [];

  /** The overlays of the newly served policy: new ones start counting now, gone ones end now. */
  update(overlays: readonly ShadowOverlayIR[], nowMs: number): void {
    const live = new Set(overlays.map((o) => o.name));
    for (const c of this.overlays.values()) if (c.endedAtMs === null && !live.has(c.name)) c.endedAtMs = nowMs;
    for (const o of overlays) {
      const known = this.overlays.get(o.name);
      if (known && known.endedAtMs === null) known.notShadowed = o.notShadowed;
      // A name started again after it ended counts afresh.
      else this.overlays.set(o.name, new OverlayCounts(o.name, nowMs, o));
    }
    for (const c of [...this.overlays.values()]) {
      if (c.endedAtMs !== null && (nowMs - c.endedAtMs > SHADOW_BUCKET_MS * SHADOW_BUCKETS || this.overlays.size > MAX_OVERLAYS)) this.overlays.delete(c.name);
    }
    this.active = [...this.overlays.values()].filter((c) => c.endedAtMs === null);
  }

  /** Counts one entry of the environment for every active overlay (`route` as the monitor counts it). */
  ingest(e: AccessEntry, route: string, nowMs: number): void {
    if (this.active.length === 0) return;
    const overlay = overlayOfPolicy(e.shadowPolicy);
    for (const c of this.active) if (e.startMs >= c.sinceMs) c.count(e, route, overlay === c.name, nowMs);
  }

  figures(name: string, windowMs: number, nowMs: number): ShadowFigures | null {
    return this.overlays.get(name)?.figures(windowMs, nowMs) ?? null;
  }

  names(): string[] {
    return [...this.overlays.keys()].sort();
  }
}
