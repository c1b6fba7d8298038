/**
 * Lockdown semantics, pure and memo-free: which lockdowns are active at an instant, what the
 * active ones of an environment add up to (the overlay), and what that overlay makes of a route's
 * access, rate limits and answer. The IR builder applies it (routes.ts, services.ts,
 * rate-limits.ts); memo.ts only remembers the results.
 */
import type { LockdownAction } from '../model/schema';
import { subjectOf, type LockdownDocument } from '../model/types';
import { sortedUnique } from '../text-order';
import type { AccessRuleIR, LockdownSummaryIR, NetworkRuleIR, RateLimitIR, RevokedTokensIR, RouteAccessIR, RouteIR } from './ir';
import { sortNetworks } from './networks';

/** The lockdown action of one type. */
export type ActionOf<T extends LockdownAction['type']> = Extract<LockdownAction, { type: T }>;

/** An action with the lockdown it comes from (`Lockdown/<name>`). */
export interface Provenanced<A> {
  readonly action: A;
  readonly provenance: string;
}

/** True while `createdAt <= now < expiresAt`. */
export function isLockdownActive(l: LockdownDocument, nowMs: number): boolean {
  return Date.parse(l.spec.createdAt) <= nowMs && nowMs < Date.parse(l.spec.expiresAt);
}

export function activeLockdowns(lockdowns: readonly LockdownDocument[], env: string, nowMs: number): LockdownDocument[] {
  return lockdowns.filter((l) => l.spec.environments.includes(env) && isLockdownActive(l, nowMs));
}

/** Earliest start or expiry of any lockdown strictly after `now`. */
export function nextChange(lockdowns: readonly LockdownDocument[], nowMs: number): string | null {
  let next = Infinity;
  for (const l of lockdowns) {
    for (const t of [Date.parse(l.spec.createdAt), Date.parse(l.spec.expiresAt)]) if (t > nowMs && t < next) next = t;
  }
  return Number.isFinite(next) ? new Date(next).toISOString() : null;
}

/**
 * What an environment's active lockdowns add up to. Lockdowns come sorted by name: where two
 * disable a route or require a role on it, the first one's wins.
 */
export interface LockdownOverlay {
  /** disableRoute, per route: the answer it gets instead of its service. */
  readonly disabled: ReadonlyMap<string, NonNullable<RouteIR['disabled']>>;
  /** requireRole, per route: the one rule that replaces the route's rules. */
  readonly roles: ReadonlyMap<string, AccessRuleIR>;
  /** blockNetworks without routes: denied on every route. */
  readonly blockAll: readonly NetworkRuleIR[];
  /** blockNetworks with routes, per route. */
  readonly blockRoute: ReadonlyMap<string, readonly NetworkRuleIR[]>;
  readonly quarantines: readonly Provenanced<ActionOf<'quarantineEndpoint'>>[];
  readonly failovers: readonly Provenanced<ActionOf<'forceFailover'>>[];
  readonly tightens: readonly Provenanced<ActionOf<'tightenRateLimit'>>[];
  readonly revokes: readonly Provenanced<ActionOf<'revokeTokens'>>[];
}

/** The overlay of `lockdowns` (the active ones of one environment, sorted by name). */
export function lockdownOverlay(lockdowns: readonly LockdownDocument[]): LockdownOverlay {
  const actions = lockdowns.flatMap((l) => l.spec.actions.map((action) => ({ action, provenance: subjectOf(l) })));
  const ofType = <T extends LockdownAction['type']>(type: T) => actions.filter((a): a is Provenanced<ActionOf<T>> => a.action.type === type);
  const disabled = new Map<string, NonNullable<RouteIR['disabled']>>();
  for (const { action, provenance } of ofType('disableRoute')) {
    if (!disabled.has(action.route)) disabled.set(action.route, { status: action.status, body: action.body, provenance });
  }
  const roles = new Map<string, AccessRuleIR>();
  for (const { action, provenance } of ofType('requireRole')) {
    const rule: AccessRuleIR = { methods: [], roles: sortedUnique(action.roles), provenance };
    for (const route of action.routes) if (!roles.has(route)) roles.set(route, rule);
  }
  const blocks = ofType('blockNetworks');
  const blockAll = blocks.filter((b) => !b.action.routes).flatMap((b) => b.action.cidrs.map((cidr) => ({ cidr, provenance: b.provenance })));
  const blockRoute = new Map<string, NetworkRuleIR[]>();
  for (const { action, provenance } of blocks) {
    for (const route of new Set(action.routes ?? [])) {
      const list = blockRoute.get(route) ?? [];
      list.push(...action.cidrs.map((cidr) => ({ cidr, provenance })));
      blockRoute.set(route, list);
    }
  }
  return {
    disabled,
    roles,
    blockAll,
    blockRoute,
    quarantines: ofType('quarantineEndpoint'),
    failovers: ofType('forceFailover'),
    tightens: ofType('tightenRateLimit'),
    revokes: ofType('revokeTokens'),
  };
}

/** True when the overlay (with the environment's changed limits) touches any route. */
export function touchesRoutes(overlay: LockdownOverlay, limits: ReadonlyMap<string, RateLimitIR>): boolean {
  return overlay.blockAll.length > 0 || overlay.blockRoute.size > 0 || overlay.roles.size > 0 || overlay.disabled.size > 0 || limits.size > 0;
}

/** What the overlay does to one route, or null when it leaves the route alone. */
export interface RouteOverlay {
  readonly disabled: RouteIR['disabled'];
  /** requireRole's rule for this route, if any. */
  readonly role: AccessRuleIR | null;
  /** Networks this route's lockdowns block (every-route blocks first). */
  readonly denied: readonly NetworkRuleIR[];
  /** True when a blockNetworks names this route (not only every-route blocks). */
  readonly blockedHere: boolean;
  /** The route's limits, changed ones replaced; null when none of them changed. */
  readonly rateLimits: readonly RateLimitIR[] | null;
}

/** The overlay's effect on `ir` (a base route); `limits` are the environment's changed limits. */
export function routeOverlay(ir: RouteIR, overlay: LockdownOverlay, limits: ReadonlyMap<string, RateLimitIR>): RouteOverlay | null {
  const changedLimits = limits.size > 0 && ir.rateLimits.some((l) => limits.has(l.name));
  const blockedHere = overlay.blockRoute.get(ir.name);
  const role = overlay.roles.get(ir.name) ?? null;
  const disabled = overlay.disabled.get(ir.name) ?? null;
  if (!changedLimits && overlay.blockAll.length === 0 && !blockedHere && !role && !disabled) return null;
  return {
    disabled,
    role,
    denied: blockedHere ? [...overlay.blockAll, ...blockedHere] : overlay.blockAll,
    blockedHere: blockedHere !== undefined,
    rateLimits: changedLimits ? ir.rateLimits.map((l) => limits.get(l.name) ?? l) : null,
  };
}

/**
 * A route's access under a lockdown: a required role replaces its rules (and requires a token from
 * any of `providerNames`), and blocked networks join its denied ones.
 */
export function overlaidAccess(access: RouteAccessIR, role: AccessRuleIR | null, providerNames: readonly string[], denied: readonly NetworkRuleIR[]): RouteAccessIR {
  let overlaid = role ? { ...access, authentication: 'jwt' as const, providers: providerNames, rules: [role] } : access;
  if (denied.length) overlaid = { ...overlaid, deniedNetworks: sortNetworks([...overlaid.deniedNetworks, ...denied]) };
  return overlaid;
}

/** The environment's revoked tokens: the Access documents' and those of active revokeTokens. */
export function revokedTokens(base: RevokedTokensIR, revokes: readonly Provenanced<ActionOf<'revokeTokens'>>[]): RevokedTokensIR {
  if (revokes.length === 0) return base;
  return {
    jtis: sortedUnique([...base.jtis, ...revokes.flatMap((r) => r.action.jtis)]),
    subjects: sortedUnique([...base.subjects, ...revokes.flatMap((r) => r.action.subjects)]),
  };
}

export function summaryOf(l: LockdownDocument): LockdownSummaryIR {
  return {
    name: l.name,
    reason: l.spec.reason,
    owner: l.spec.owner,
    createdAt: l.spec.createdAt,
    expiresAt: l.spec.expiresAt,
    actions: l.spec.actions.map((a) => a.type),
  };
}
