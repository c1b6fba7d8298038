/**
 * Lockdowns in shadow mode: the same documents the bot proposes, resolved per route into what they
 * would refuse (ShadowOverlayIR) instead of being applied. The IR builder attaches them to their
 * environment; the Envoy translator turns them into RBAC shadow rules. Pure.
 */
import type { LockdownDocument } from '../model/types';
import type { RevokedTokensIR, RouteIR, ShadowOverlayIR, ShadowRouteIR } from './ir';
import { lockdownOverlay, revokedTokens } from './lockdowns';
import { sortNetworks } from './networks';

const NO_TOKENS: RevokedTokensIR = { jtis: [], subjects: [] };

/** Which Lockdowns of a model run in shadow mode: Lockdown name → the one environment it is shadowed in. */
export type ShadowSelection = ReadonlyMap<string, string>;

export const NO_SHADOW: ShadowSelection = new Map();

/** The overlay of `doc` over an environment's routes (as they are, active lockdowns applied). */
export function shadowOverlayIR(doc: LockdownDocument, routes: readonly RouteIR[]): ShadowOverlayIR {
  const o = lockdownOverlay([doc]);
  const revoked = revokedTokens(NO_TOKENS, o.revokes);
  const out: ShadowRouteIR[] = [];
  for (const r of routes) {
    const denied = sortNetworks([...o.blockAll, ...(o.blockRoute.get(r.name) ?? [])]).map((n) => n.cidr);
    const disabled = o.disabled.has(r.name);
    const role = o.roles.get(r.name);
    const tokens = r.access.authentication === 'jwt' ? revoked : NO_TOKENS;
    if (denied.length === 0 && !disabled && !role && tokens.jtis.length === 0 && tokens.subjects.length === 0) continue;
    out.push({ route: r.name, deniedNetworks: denied, revokedTokens: tokens, disabled, requiredRoles: role ? role.roles : null });
  }
  const notShadowed = doc.spec.actions.flatMap((a) => {
    if (a.type === 'tightenRateLimit') return [`tightenRateLimit ${a.rateLimit}: ${a.requests}${a.per ? `/${a.per}` : ''}`];
    if (a.type === 'quarantineEndpoint') return [`quarantineEndpoint ${a.service} ${a.address}:${a.port}`];
    if (a.type === 'forceFailover') return [`forceFailover ${a.service} to tier ${a.tier}`];
    return [];
  });
  return { name: doc.name, routes: out, notShadowed };
}
