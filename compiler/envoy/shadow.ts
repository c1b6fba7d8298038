/**
 * Shadow overlays (ShadowOverlayIR) as Envoy RBAC `shadow_rules` in the per-route config of the
 * roles RBAC instance, the one after jwt_authn (so jti, sub and role principals can read the
 * verified payload): Envoy evaluates them and writes the result to dynamic metadata, enforcing
 * nothing. Only the route configuration changes (RDS), never the listener. Part of the Envoy
 * translator.
 *
 * What Envoy 1.40 writes (checked on a real Envoy): namespace `envoy.filters.http.rbac` (whatever
 * the filter instance's name), keys `<shadow_rules_stat_prefix>shadow_effective_policy_id` (the
 * first matching policy by name; absent when none matched) and `<prefix>shadow_engine_result`
 * (`denied` / `allowed`). The access logger reads the policy id (access-log.ts).
 */
import type { EnvironmentIR, ShadowRouteIR } from '../ir/ir';
import { remoteIp } from './client-networks';
import type { JsonObject } from './resources';
import { anyOf, claimIn, hasAnyRole, verifiedBy, type RbacContext } from './rbac';

/** Prefix of the shadow result's metadata keys (and shadow stats), so they cannot clash with other RBAC data. */
export const SHADOW_RULES_PREFIX = 'portcullis_shadow.';
/** Dynamic metadata namespace RBAC writes its shadow result to. */
export const SHADOW_METADATA_NAMESPACE = 'envoy.filters.http.rbac';
export const SHADOW_POLICY_KEY = `${SHADOW_RULES_PREFIX}shadow_effective_policy_id`;

/** Envoy's policy name for overlay `name`: the access logs carry it back to the monitor. */
export const shadowPolicyName = (name: string): string => `shadow ${name}`;

/** The overlay's name from a logged policy id, or null when it names none. */
export function overlayOfPolicy(policy: string): string | null {
  return policy.startsWith('shadow ') ? policy.slice('shadow '.length) : null;
}

/** One overlay's policies per route: route name → (policy name → what it would refuse there). */
export type ShadowRoutes = ReadonlyMap<string, ReadonlyArray<{ readonly overlay: string; readonly route: ShadowRouteIR }>>;

/** The overlays of `env` by route (empty without overlays). */
export function shadowRoutes(env: EnvironmentIR): ShadowRoutes {
  const byRoute = new Map<string, { overlay: string; route: ShadowRouteIR }[]>();
  for (const o of env.shadowOverlays ?? []) {
    for (const r of o.routes) {
      const list = byRoute.get(r.route) ?? [];
      list.push({ overlay: o.name, route: r });
      byRoute.set(r.route, list);
    }
  }
  return byRoute;
}

/** What `r` would refuse as RBAC principals (any of them matches: a policy's principals are OR'ed). */
function principals(r: ShadowRouteIR, ctx: RbacContext): JsonObject[] {
  if (r.disabled) return [{ any: true }];
  const out: JsonObject[] = r.deniedNetworks.map(remoteIp);
  if (r.revokedTokens.jtis.length > 0) out.push(claimIn('jti', r.revokedTokens.jtis));
  if (r.revokedTokens.subjects.length > 0) out.push(claimIn('sub', r.revokedTokens.subjects));
  if (r.requiredRoles !== null) {
    // A required role replaces the route's rules and accepts a token of any provider (lockdowns.ts).
    const withRole = [...ctx.rolesClaims].map(([provider, claim]) => ({ and_ids: { ids: [verifiedBy(provider), hasAnyRole(claim, r.requiredRoles ?? [])] } }));
    out.push(withRole.length === 0 ? { any: true } : { not_id: anyOf(withRole) });
  }
  return out;
}

/**
 * `perRoute` (the route's RBACPerRoute of the roles instance) with the shadow rules of the overlays
 * on `route`, or as it is when none applies there.
 */
export function withShadowRules(perRoute: JsonObject, overlays: ShadowRoutes, route: string, ctx: RbacContext): JsonObject {
  const mine = overlays.get(route);
  if (mine === undefined || mine.length === 0) return perRoute;
  const policies: Record<string, JsonObject> = {};
  for (const { overlay, route: r } of mine) policies[shadowPolicyName(overlay)] = { permissions: [{ any: true }], principals: principals(r, ctx) };
  const rbac = (perRoute['rbac'] as JsonObject | undefined) ?? {};
  return { ...perRoute, rbac: { ...rbac, shadow_rules: { action: 'DENY', policies }, shadow_rules_stat_prefix: SHADOW_RULES_PREFIX } };
}
