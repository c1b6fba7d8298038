/**
 * What the monitor keeps for one environment: per route, sliding windows of heavy hitters by client
 * network, client address, token subject and token id (the evidence behind /monitor/top and
 * /monitor/blast-radius), and one TriggerState per Trigger watching the environment.
 */
import type { EnvironmentIR } from '../compiler/ir/ir';
import { parseCidr, type Network } from '../compiler/model/cidr';
import { compareText } from '../compiler/text-order';
import type { AccessEntry } from './als-decode';
import { causeOf, codeClass, type Cause } from './cause';
import { clientAddress, networkOf } from './network';
import { ShadowCounts } from './shadow-counts';
import { TriggerState, type EntryKeys } from './trigger-state';
import { SlidingWindow } from './window';

export const KEY_DIMENSIONS = ['clientNetwork', 'clientIp', 'tokenSubject', 'tokenId'] as const;
export type KeyDimension = (typeof KEY_DIMENSIONS)[number];

/** Sizes of the evidence windows (per route and dimension). */
export interface EvidenceSizing {
  /** Bucket width (default 10 s). */
  readonly bucketMs: number;
  /** Buckets kept (default 30: windows up to 5 minutes). */
  readonly buckets: number;
  /** Heavy hitters per bucket (default 64). */
  readonly capacity: number;
}

export const DEFAULT_EVIDENCE: EvidenceSizing = { bucketMs: 10_000, buckets: 30, capacity: 64 };

interface RouteWindows {
  readonly total: SlidingWindow;
  /** Heavy hitters per dimension, each with its statuses and token use (what blast-radius reports). */
  readonly byKey: Record<KeyDimension, SlidingWindow>;
}

/** One counted response, as the metrics see it. */
export interface Counted {
  readonly route: string;
  readonly codeClass: string;
  readonly cause: Cause;
  /** False when its start time lies outside the evidence windows (too old, or ahead of the clock). */
  readonly inWindow: boolean;
}

export class EnvironmentMonitor {
  readonly triggers: TriggerState[];
  /** What the environment's shadow overlays would have refused (kept across policy updates). */
  readonly shadows: ShadowCounts;
  private readonly routes = new Map<string, RouteWindows>();
  private readonly known: ReadonlySet<string>;
  private readonly disabled: ReadonlySet<string>;
  private readonly lockdownBlocks = new Map<string, Network[]>();
  /** The evidence windows' ring (what `inWindow` means). */
  private readonly span: SlidingWindow;

  constructor(
    readonly env: EnvironmentIR,
    private readonly sizing: EvidenceSizing,
    nowMs: number,
    previous: EnvironmentMonitor | null,
  ) {
    this.span = new SlidingWindow(sizing.bucketMs, sizing.buckets, 0);
    this.known = new Set(env.routes.map((r) => r.name));
    this.disabled = new Set(env.routes.filter((r) => r.disabled?.provenance.startsWith('Lockdown/')).map((r) => r.name));
    for (const r of env.routes) {
      const blocks = r.access.deniedNetworks.filter((n) => n.provenance.startsWith('Lockdown/')).map((n) => parseCidr(n.cidr));
      const nets = blocks.flatMap((p) => (p.ok ? [p.network] : []));
      if (nets.length) this.lockdownBlocks.set(r.name, nets);
    }
    // A trigger that did not change keeps its windows and baseline across a policy update.
    const kept = new Map((previous?.triggers ?? []).map((t) => [JSON.stringify(t.ir), t]));
    this.triggers = env.triggers.map((ir) => kept.get(JSON.stringify(ir)) ?? new TriggerState(ir, env.name, nowMs));
    if (previous) for (const [name, w] of previous.routes) if (this.known.has(name)) this.routes.set(name, w);
    this.shadows = previous?.shadows ?? new ShadowCounts();
    this.shadows.update(env.shadowOverlays ?? [], nowMs);
  }

  /** The route name as counted: unknown names (another policy version, a hostile stream) become "". */
  routeOf(name: string): string {
    return this.known.has(name) ? name : '';
  }

  ingest(e: AccessEntry, nowMs: number): Counted {
    const route = this.routeOf(e.route);
    const ip = clientAddress(e.clientIp);
    let cause = causeOf(e.details);
    if (route !== '' && (cause === 'rbac' || cause === 'other') && this.isLockdown(route, cause, ip)) cause = 'lockdown';
    const cls = codeClass(e.status);
    const keys: EntryKeys = {
      clientNetwork: networkOf(ip, 24, 56),
      clientIp: ip,
      tokenSubject: e.sub,
      tokenId: e.jti,
    };
    for (const t of this.triggers) {
      const p = t.ir.networkPrefix;
      const k = p.ipv4 === 24 && p.ipv6 === 56 ? keys : { ...keys, clientNetwork: networkOf(ip, p.ipv4, p.ipv6) };
      t.add(e.startMs, nowMs, route, e.status, cls, cause, k);
    }
    if (route !== '') this.countEvidence(route, e, keys, nowMs);
    this.shadows.ingest(e, route, nowMs);
    return { route, codeClass: cls, cause, inWindow: this.span.accepts(e.startMs, nowMs) };
  }

  private isLockdown(route: string, cause: Cause, ip: string): boolean {
    if (cause === 'other') return this.disabled.has(route);
    const nets = this.lockdownBlocks.get(route);
    if (!nets || ip === '') return false;
    const p = parseCidr(ip);
    return p.ok && nets.some((n) => n.family === p.network.family && sameNetwork(n, p.network.bytes));
  }

  private countEvidence(route: string, e: AccessEntry, keys: EntryKeys, nowMs: number): void {
    let w = this.routes.get(route);
    if (!w) {
      const { bucketMs, buckets, capacity } = this.sizing;
      const keyed = () => new SlidingWindow(bucketMs, buckets, capacity);
      w = {
        total: new SlidingWindow(bucketMs, buckets, 0),
        byKey: { clientNetwork: keyed(), clientIp: keyed(), tokenSubject: keyed(), tokenId: keyed() },
      };
      this.routes.set(route, w);
    }
    w.total.add(e.startMs, nowMs, null);
    for (const d of KEY_DIMENSIONS) {
      const k = keys[d];
      if (k === '') continue;
      w.byKey[d].add(e.startMs, nowMs, k, 1, e.status, e.sub !== '');
    }
  }

  /** Keys tracked by every window of the environment: bounded by routes and triggers, not by clients. */
  get trackedKeys(): number {
    let n = 0;
    for (const w of this.routes.values()) for (const d of KEY_DIMENSIONS) n += w.byKey[d].trackedKeys;
    for (const t of this.triggers) n += t.trackedKeys;
    return n;
  }

  /** The top keys of one dimension on a route (or every route when `route` is null). */
  top(route: string | null, by: KeyDimension, windowMs: number, limit: number, nowMs: number): { total: number; top: { key: string; count: number; share: number }[] } {
    const windows = route === null ? [...this.routes.values()] : [this.routes.get(route)].filter((w): w is RouteWindows => w !== undefined);
    let total = 0;
    const merged = new Map<string, number>();
    for (const w of windows) {
      total += w.total.query(nowMs, windowMs).total;
      for (const h of w.byKey[by].query(nowMs, windowMs, limit * 4).top) merged.set(h.key, (merged.get(h.key) ?? 0) + h.count);
    }
    const top = [...merged]
      .sort((a, b) => b[1] - a[1] || compareText(a[0], b[0]))
      .slice(0, limit)
      .map(([key, count]) => ({ key, count, share: total ? Math.round((count / total) * 10_000) / 10_000 : 0 }));
    return { total, top };
  }

  /** What refusing `key` (of dimension `by`) would have refused in the window, from the counts kept. */
  blastRadius(route: string | null, by: KeyDimension, key: string, windowMs: number, nowMs: number) {
    const names = route === null ? [...this.routes.keys()].sort() : [route];
    const byStatus: Record<string, number> = {};
    const byRoute: { route: string; requests: number }[] = [];
    let requests = 0;
    let withToken = 0;
    const ips = new Set<string>();
    const ipsWithToken = new Set<string>();
    for (const name of names) {
      const w = this.routes.get(name);
      if (!w) continue;
      const n = w.byKey[by].estimate(nowMs, windowMs, key);
      if (n > 0) byRoute.push({ route: name, requests: n });
      requests += n;
      const d = w.byKey[by].detail(nowMs, windowMs, key);
      for (const [status, count] of d.statuses) byStatus[String(status)] = (byStatus[String(status)] ?? 0) + count;
      withToken += d.withToken;
      if (by === 'clientNetwork' || by === 'clientIp') {
        for (const h of w.byKey.clientIp.query(nowMs, windowMs, Number.MAX_SAFE_INTEGER).top) {
          if (by === 'clientIp' ? h.key !== key : networkOf(h.key, 24, 56) !== key) continue;
          ips.add(h.key);
          if (w.byKey.clientIp.detail(nowMs, windowMs, h.key).withToken > 0) ipsWithToken.add(h.key);
        }
      }
    }
    // Per address: the distinct addresses the window tracked, and those of them that sent a verified
    // token at least once. A token key is one client.
    const byAddress = by === 'clientNetwork' || by === 'clientIp';
    const clients = byAddress ? ips.size : requests > 0 ? 1 : 0;
    return {
      requests,
      clients,
      byStatus,
      withValidToken: { requests: withToken, clients: byAddress ? ipsWithToken.size : withToken > 0 ? 1 : 0 },
      byRoute: byRoute.sort((a, b) => b.requests - a.requests),
    };
  }
}

function sameNetwork(n: Network, bytes: Uint8Array): boolean {
  let bits = n.prefixLength;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((bytes[i] as number) & mask) !== (n.bytes[i] as number)) return false;
  }
  return true;
}
