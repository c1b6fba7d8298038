/**
 * Identity-memo plumbing of the IR builder: IR pieces of earlier builds keyed by document identity
 * (documents are immutable; the incremental compiler hands the same objects for unchanged files),
 * so a repeated build of a slowly changing model returns the same objects, and the translator's
 * identity memos keep hitting. Holds no semantics: every memoised value is what the pure builders
 * (access.ts, rate-limits.ts, services.ts, lockdowns.ts, routes.ts) would make afresh.
 */
import type { AccessDocument, RateLimitDocument, RouteDocument, ServiceDocument } from '../model/types';
import type { AccessIndex } from './access';
import type { RateLimitIR, RouteAccessIR, RouteIR, ServiceIR } from './ir';
import type { LimitIndex } from './rate-limits';

/**
 * IR pieces of earlier builds, keyed by document identity (documents are immutable; the incremental
 * compiler hands the same objects for unchanged files). Opaque to callers.
 */
export interface IrMemo {
  readonly services: WeakMap<ServiceDocument, ServiceIR>;
  readonly rateLimits: WeakMap<RateLimitDocument, RateLimitIR>;
  readonly routes: WeakMap<RouteDocument, MemoRoute>;
  access: { readonly accesses: readonly AccessDocument[]; readonly index: AccessIndex } | null;
  limits: { readonly rateLimits: readonly RateLimitDocument[]; readonly index: LimitIndex } | null;
  order: { readonly keys: ReadonlyMap<string, string>; readonly names: readonly string[]; readonly position: ReadonlyMap<string, number> } | null;
  /** The base routes array of the last build, reused while it holds the same route objects. */
  routeIRs: readonly RouteIR[] | null;
  /** Per environment name: what overrides and lockdowns made of base objects in the last build. */
  readonly environments: Map<string, EnvironmentMemo>;
}

/**
 * What overrides and active lockdowns made of each base object in one environment's last build,
 * with a key spelling the overlay that applied: the same base object under the same overlay gets
 * the same object back, so the translator's identity memos keep hitting while a lockdown is active.
 * One entry per base object (the latest), so lockdowns that come and go do not accumulate entries.
 */
export interface EnvironmentMemo {
  readonly routes: WeakMap<RouteIR, Keyed<RouteIR>>;
  readonly services: WeakMap<ServiceDocument, Keyed<ServiceIR>>;
  readonly rateLimits: WeakMap<RateLimitDocument, Keyed<RateLimitIR>>;
  /** Overlaid accesses (see `overlaidAccessOf`). */
  accesses: AccessTables;
  /** The last build's base routes, the environment's routes made from them, and the overlay that made them. */
  last: { readonly overlay: string; readonly base: readonly RouteIR[]; readonly routes: readonly RouteIR[] } | null;
}

export interface Keyed<V> {
  readonly key: string;
  readonly value: V;
}

/**
 * Overlaid accesses by (base access, overlay key); several keys per base access, since routes share
 * accesses. Kept while the environment's overlay stays the same; when it changes, a new table
 * starts and takes from the old one what the new overlay still makes (e.g. the every-route blocks
 * when a lockdown adds a disabled route), so lockdowns that come and go do not accumulate entries.
 */
export interface AccessTables {
  readonly overlay: string;
  readonly previous: WeakMap<RouteAccessIR, Map<string, RouteAccessIR>>;
  readonly current: WeakMap<RouteAccessIR, Map<string, RouteAccessIR>>;
}

/** What a route's base IR was made from, and its match-order key. */
export interface MemoRoute {
  readonly service: ServiceDocument | undefined;
  readonly access: RouteAccessIR;
  readonly limits: readonly RateLimitIR[];
  readonly ir: RouteIR;
  readonly key: string;
}

export function createIrMemo(): IrMemo {
  return {
    services: new WeakMap(),
    rateLimits: new WeakMap(),
    routes: new WeakMap(),
    access: null,
    limits: null,
    order: null,
    routeIRs: null,
    environments: new Map(),
  };
}

export function createEnvironmentMemo(): EnvironmentMemo {
  return { routes: new WeakMap(), services: new WeakMap(), rateLimits: new WeakMap(), accesses: { overlay: '', previous: new WeakMap(), current: new WeakMap() }, last: null };
}

/** The object made last time from `base` when it was made under the same `key`, else a new one. */
export function keyed<K extends object, V>(table: WeakMap<K, Keyed<V>>, base: K, key: string, make: () => V): V {
  const known = table.get(base);
  if (known !== undefined && known.key === key) return known.value;
  const value = make();
  table.set(base, { key, value });
  return value;
}

/** The value made for `key` the first time, made now if there is none. */
export function cached<K extends object, V>(map: WeakMap<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

/** True when both arrays hold the very same objects in the same order. */
export function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** `next`, or `last` when it holds the very same objects (so identity memos downstream hit). */
export function sameArray<T>(last: readonly T[] | null, next: readonly T[]): readonly T[] {
  return last !== null && sameItems(last, next) ? last : next;
}
