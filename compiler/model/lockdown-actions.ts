/**
 * Cross-reference checks of Lockdown actions (part of the second stage, validate.ts): one validator
 * per action type, in one table, each told the action, where it sits and the environments the
 * lockdown applies to. The validator lends its reporting and name index (LockdownChecks).
 */
import type { Kind, LockdownAction, RateUnit } from './schema';
import type { EnvironmentDocument, FieldPath, LockdownDocument, PolicyDocument, RateLimitDocument, ServiceDocument } from './types';

/** What the validator lends the action checks. */
export interface LockdownChecks {
  report(from: LockdownDocument, path: FieldPath, message: string): void;
  checkRef(from: LockdownDocument, kind: Kind, name: string, path: FieldPath): boolean;
  checkRefList(from: LockdownDocument, kind: Kind, names: readonly string[], path: FieldPath): void;
  find<K extends Kind>(kind: K, name: string): PolicyDocument<K> | undefined;
  /** The validator's "does not tighten" check, shared with Trigger. */
  checkTightens(from: LockdownDocument, path: FieldPath, a: { requests: number; per?: RateUnit | undefined }, limit: RateLimitDocument, env: EnvironmentDocument): void;
  endpointsOf(service: ServiceDocument, env: EnvironmentDocument): readonly { readonly address: string; readonly port: number; readonly tier: number }[];
  /** False only when no Access document defines a JWT provider and every Access document was read. */
  hasProviders(): boolean;
  /** Records that action `index` of `from` requires roles on `route` (overlaps are checked afterwards). */
  claimRoles(from: LockdownDocument, index: number, route: string): void;
}

/** Where an action sits: its lockdown, its index and path, and the environments it applies to. */
export interface ActionSite {
  readonly lockdown: LockdownDocument;
  readonly index: number;
  readonly path: FieldPath;
  readonly envs: readonly EnvironmentDocument[];
}

type ActionOf<T extends LockdownAction['type']> = Extract<LockdownAction, { type: T }>;
type ActionCheck<T extends LockdownAction['type']> = (a: ActionOf<T>, site: ActionSite, c: LockdownChecks) => void;

/** The service an action names, when it exists (a missing one is reported). */
function serviceOf(a: { readonly service: string }, site: ActionSite, c: LockdownChecks): ServiceDocument | undefined {
  return c.checkRef(site.lockdown, 'Service', a.service, [...site.path, 'service']) ? c.find('Service', a.service) : undefined;
}

/** `address:port`, IPv6 addresses in brackets. */
export function formatEndpoint(e: { readonly address: string; readonly port: number }): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** Per action type: what must hold besides the schema (names resolve, the action can apply in every environment). */
export const LOCKDOWN_ACTION_CHECKS: { readonly [T in LockdownAction['type']]: ActionCheck<T> } = {
  tightenRateLimit: (a, site, c) => {
    const limit = c.checkRef(site.lockdown, 'RateLimit', a.rateLimit, [...site.path, 'rateLimit']) ? c.find('RateLimit', a.rateLimit) : undefined;
    if (limit) for (const env of site.envs) c.checkTightens(site.lockdown, site.path, a, limit, env);
  },
  blockNetworks: (a, site, c) => {
    if (a.routes) c.checkRefList(site.lockdown, 'Route', a.routes, [...site.path, 'routes']);
  },
  revokeTokens: () => {},
  disableRoute: (a, site, c) => {
    c.checkRef(site.lockdown, 'Route', a.route, [...site.path, 'route']);
  },
  requireRole: (a, site, c) => {
    c.checkRefList(site.lockdown, 'Route', a.routes, [...site.path, 'routes']);
    if (!c.hasProviders()) c.report(site.lockdown, [...site.path, 'type'], 'requireRole needs a JWT provider, but no Access document defines one');
    for (const route of new Set(a.routes)) c.claimRoles(site.lockdown, site.index, route);
  },
  quarantineEndpoint: (a, site, c) => {
    const service = serviceOf(a, site, c);
    if (!service) return;
    for (const env of site.envs) {
      if (!c.endpointsOf(service, env).some((e) => e.address === a.address && e.port === a.port)) {
        c.report(site.lockdown, [...site.path, 'address'], `Service/${a.service} has no endpoint ${formatEndpoint(a)} in Environment/${env.name}`);
      }
    }
  },
  forceFailover: (a, site, c) => {
    const service = serviceOf(a, site, c);
    if (!service) return;
    for (const env of site.envs) {
      const tiers = [...new Set(c.endpointsOf(service, env).map((e) => e.tier))].sort((x, y) => x - y);
      if (!tiers.includes(a.tier)) {
        c.report(site.lockdown, [...site.path, 'tier'], `Service/${a.service} has no tier ${a.tier} in Environment/${env.name} (tiers: ${tiers.join(', ')})`);
      }
    }
  },
};

/** Runs the check of `a`'s type. */
export function checkLockdownAction(a: LockdownAction, site: ActionSite, c: LockdownChecks): void {
  (LOCKDOWN_ACTION_CHECKS[a.type] as ActionCheck<LockdownAction['type']>)(a as never, site, c);
}
