/**
 * Route documents → RouteIR in match order, and an environment's routes: the base objects where no
 * lockdown touches them, overlaid ones (lockdowns.ts) where one does, with the identity-memo
 * bookkeeping that returns last build's objects for an unchanged route under an unchanged overlay.
 * Part of the IR builder.
 */
import type { RouteDocument, ServiceDocument } from '../model/types';
import { compareText, sortedUnique } from '../text-order';
import { accessOverlayKey, overlaidAccessOf } from './access';
import type { HeaderMatchIR, RateLimitIR, RouteAccessIR, RouteIR } from './ir';
import { routeOverlay, touchesRoutes, type LockdownOverlay } from './lockdowns';
import { keyed, sameArray, type EnvironmentMemo, type IrMemo } from './memo';

/** What an environment's routes are made from: the base routes and where each sits. */
export interface BaseRoutes {
  /**
   * The base IR of the routes (no overrides, no lockdowns) in match order: the array environments
   * without overlays share, the same array as the last build's while no route changed.
   */
  readonly routeIRs: readonly RouteIR[];
  /** Index of each route (by name) in `routeIRs`. */
  readonly position: ReadonlyMap<string, number>;
  /** The routes of each rate limit (by name). */
  readonly routesOfLimit: ReadonlyMap<string, readonly string[]>;
  /** Every JWT provider, by name: a required role accepts a token of any of them. */
  readonly providerNames: readonly string[];
}

/**
 * Routes in `compareRoutes` order, sorted through one precomputed string key per route. When no
 * route was added, removed or re-keyed since the last build, the last order is reused.
 */
export function matchOrder<T extends { readonly doc: RouteDocument; readonly key: string }>(routes: readonly T[], memo: IrMemo): T[] {
  const last = memo.order;
  if (last && last.names.length === routes.length && routes.every((r) => last.keys.get(r.doc.name) === r.key)) {
    const out = new Array<T>(routes.length);
    for (const r of routes) out[last.position.get(r.doc.name) ?? 0] = r;
    return out;
  }
  const sorted = [...routes].sort((a, b) => compareText(a.key, b.key));
  memo.order = {
    keys: new Map(sorted.map((r) => [r.doc.name, r.key])),
    names: sorted.map((r) => r.doc.name),
    position: new Map(sorted.map((r, i) => [r.doc.name, i])),
  };
  return sorted;
}

/**
 * The routes of one environment under its overlay (`limits`: its changed rate limits). Without
 * overlays, environments share the base array (the translator then translates it once).
 */
export function environmentRoutes(base: BaseRoutes, overlay: LockdownOverlay, limits: ReadonlyMap<string, RateLimitIR>, memo: EnvironmentMemo): readonly RouteIR[] {
  // Everything `rebuild` reads besides the route: while it and a base route are the same as in the
  // last build, so is the environment's route (then a lockdown on every route costs an identity
  // check per route, no lookups).
  const overlaid = touchesRoutes(overlay, limits);
  const key = overlaid
    ? JSON.stringify([overlay.blockAll, [...overlay.blockRoute], [...overlay.roles], [...overlay.disabled], [...limits], base.providerNames])
    : '';
  if (memo.accesses.overlay !== key) memo.accesses = { overlay: key, previous: memo.accesses.current, current: new WeakMap() };
  const last = memo.last;
  let routes = overlaid ? overlaidRoutes(base, overlay, limits, memo, key) : base.routeIRs;
  if (routes !== base.routeIRs) routes = sameArray(last?.routes ?? null, routes);
  memo.last = overlaid ? { overlay: key, base: base.routeIRs, routes } : null;
  return routes;
}

/** The routes under an overlay that touches some: only touched routes are rebuilt. */
function overlaidRoutes(base: BaseRoutes, overlay: LockdownOverlay, limits: ReadonlyMap<string, RateLimitIR>, memo: EnvironmentMemo, key: string): readonly RouteIR[] {
  const rebuild = routeRebuilder(base.providerNames, overlay, limits, memo);
  const last = memo.last;
  if (last && last.overlay === key && last.base.length === base.routeIRs.length) {
    if (last.base === base.routeIRs) return last.routes;
    const copy = last.routes.slice();
    base.routeIRs.forEach((ir, i) => {
      if (ir !== last.base[i]) copy[i] = rebuild(ir);
    });
    return copy;
  }
  if (overlay.blockAll.length > 0) return base.routeIRs.map(rebuild);
  const touched = new Set<string>([...overlay.blockRoute.keys(), ...overlay.roles.keys(), ...overlay.disabled.keys()]);
  for (const name of limits.keys()) for (const route of base.routesOfLimit.get(name) ?? []) touched.add(route);
  const positions = [...touched].map((name) => base.position.get(name)).filter((i): i is number => i !== undefined);
  if (positions.length === 0) return base.routeIRs;
  const copy = base.routeIRs.slice();
  for (const i of positions) {
    const ir = base.routeIRs[i];
    if (ir) copy[i] = rebuild(ir);
  }
  return copy;
}

/**
 * Base route → the environment's route: `routeOverlay`'s effect, memoised so a route whose base
 * object and overlay are the same as in the last build gets its last object.
 */
function routeRebuilder(providerNames: readonly string[], overlay: LockdownOverlay, limits: ReadonlyMap<string, RateLimitIR>, memo: EnvironmentMemo): (ir: RouteIR) => RouteIR {
  // The overlay key of routes that only every-route blocks touch (all routes but a few), made once.
  const blockAllKey = overlay.blockAll.length ? accessOverlayKey(null, providerNames, overlay.blockAll) : '';
  return (ir) => {
    const o = routeOverlay(ir, overlay, limits);
    if (o === null) return ir;
    const accessKey = !o.role && !o.blockedHere ? blockAllKey : accessOverlayKey(o.role, providerNames, o.denied);
    const rateLimits = o.rateLimits ?? ir.rateLimits;
    // JSON never holds a raw U+0001, so a key with parts cannot equal an access key alone.
    const key = !o.disabled && o.rateLimits === null ? accessKey : `${accessKey}\u0001${JSON.stringify(o.disabled)}\u0001${o.rateLimits !== null ? JSON.stringify(rateLimits) : ''}`;
    // Looked up even when the route is reused, so a new access table gets it.
    const access = overlaidAccessOf(memo.accesses, ir.access, accessKey, o.role, providerNames, o.denied);
    return keyed(memo.routes, ir, key, () => ({ ...ir, disabled: o.disabled, access, rateLimits }));
  };
}

export function routeToIR(doc: RouteDocument, service: ServiceDocument | undefined, access: RouteAccessIR, rateLimits: readonly RateLimitIR[]): RouteIR {
  const s = doc.spec;
  const path =
    s.path.exact !== undefined
      ? { kind: 'exact' as const, value: s.path.exact }
      : s.path.prefix !== undefined
        ? { kind: 'prefix' as const, value: s.path.prefix }
        : { kind: 'regex' as const, value: s.path.regex ?? '' };
  const headers: HeaderMatchIR[] = s.headers
    .map((h): HeaderMatchIR => ({
      name: h.name,
      match:
        h.present !== undefined
          ? { kind: 'present' }
          : h.exact !== undefined
            ? { kind: 'exact', value: h.exact }
            : h.prefix !== undefined
              ? { kind: 'prefix', value: h.prefix }
              : { kind: 'regex', value: h.regex ?? '' },
      invert: h.invert,
    }))
    .sort((a, b) => compareText(a.name, b.name) || compareText(JSON.stringify(a), JSON.stringify(b)));
  return {
    name: doc.name,
    host: s.host,
    match: { path, methods: sortedUnique(s.methods ?? []), headers },
    service: s.service,
    timeoutMs: s.timeout ?? service?.spec.timeouts.request ?? 15000,
    retries: s.retries ? { attempts: s.retries.attempts, perTryTimeoutMs: s.retries.perTryTimeout ?? null, on: sortedUnique(s.retries.on) } : null,
    disabled: null,
    access,
    rateLimits,
  };
}
