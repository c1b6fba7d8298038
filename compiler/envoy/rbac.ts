/**
 * Access rules per route (envoy.filters.http.rbac): ALLOW policies whose principals check the roles
 * in the verified JWT payload, refuse revoked tokens and denied networks, and require allowed
 * networks. Deny beats allow because every allow policy carries every deny as a negated condition.
 * Part of the Envoy translator (IR → Envoy resources).
 */
import type { AccessRuleIR, EnvironmentIR, NetworkRuleIR, RevokedTokensIR, RouteIR } from '../ir/ir';
import { JWT_METADATA_NAMESPACE, JWT_PAYLOAD_KEY, TYPE, typed } from './common';
import type { JsonObject } from './resources';

/** What a route's RBAC reads from its environment besides the route itself. */
export interface RbacContext {
  /** Roles claim of each JWT provider, by provider name. */
  readonly rolesClaims: ReadonlyMap<string, string>;
  readonly revokedTokens: RevokedTokensIR;
}

export function rbacContext(env: EnvironmentIR): RbacContext {
  return { rolesClaims: new Map(env.jwtProviders.map((p) => [p.name, p.rolesClaim])), revokedTokens: env.revokedTokens };
}

/** Filter-level config: no rules, i.e. no enforcement. Every route sets its own (see rbacPerRoute). */
export function rbacConfig(): JsonObject {
  return typed(TYPE.rbac, {});
}

/** A matcher on one claim of the verified JWT payload (dynamic metadata written by jwt_authn). */
function claimMatcher(claim: string, value: JsonObject): JsonObject {
  return {
    sourced_metadata: {
      metadata_matcher: {
        filter: JWT_METADATA_NAMESPACE,
        path: [{ key: JWT_PAYLOAD_KEY }, { key: claim }],
        value,
      },
    },
  };
}

function exact(value: string): JsonObject {
  return { string_match: { exact: value } };
}

/** One of `values`, as a single value matcher. */
function oneOf(values: readonly string[]): JsonObject {
  return values.length === 1 ? exact(values[0] as string) : { or_match: { value_matchers: values.map(exact) } };
}

/** The claim holds one of `roles`: as the claim itself (a string) or as an element (a list of strings). */
function hasAnyRole(rolesClaim: string, roles: readonly string[]): JsonObject {
  const role = oneOf(roles);
  return claimMatcher(rolesClaim, { or_match: { value_matchers: [{ list_match: { one_of: role } }, role] } });
}

/** The claim equals one of `values`. */
function claimIn(claim: string, values: readonly string[]): JsonObject {
  return claimMatcher(claim, oneOf(values));
}

function cidr(rule: NetworkRuleIR): JsonObject {
  const [address, length] = rule.cidr.split('/');
  // remote_ip is the client address after X-Forwarded-For processing (xff_num_trusted_hops), not
  // the peer of the TCP connection: the real client when Envoy sits behind trusted proxies.
  return { remote_ip: { address_prefix: address as string, prefix_len: Number(length) } };
}

function anyOf(ids: readonly JsonObject[]): JsonObject {
  return ids.length === 1 ? (ids[0] as JsonObject) : { or_ids: { ids: [...ids] } };
}

function allOf(ids: readonly JsonObject[]): JsonObject {
  if (ids.length === 0) return { any: true };
  return ids.length === 1 ? (ids[0] as JsonObject) : { and_ids: { ids: [...ids] } };
}

function methodsPermission(methods: readonly string[]): JsonObject {
  if (methods.length === 0) return { any: true };
  const one = (m: string): JsonObject => ({ header: { name: ':method', string_match: { exact: m } } });
  return methods.length === 1 ? one(methods[0] as string) : { or_rules: { rules: methods.map(one) } };
}

/** Conditions every request to the route must meet whatever rule lets it in. */
function commonConditions(route: RouteIR, ctx: RbacContext): JsonObject[] {
  const ids: JsonObject[] = [];
  if (route.access.authentication === 'jwt') {
    const { jtis, subjects } = ctx.revokedTokens;
    if (jtis.length > 0) ids.push({ not_id: claimIn('jti', jtis) });
    if (subjects.length > 0) ids.push({ not_id: claimIn('sub', subjects) });
  }
  if (route.access.deniedNetworks.length > 0) ids.push({ not_id: anyOf(route.access.deniedNetworks.map(cidr)) });
  if (route.access.allowedNetworks.length > 0) ids.push(anyOf(route.access.allowedNetworks.map(cidr)));
  return ids;
}

/** Claims holding roles on this route: one per accepted provider (providers may name different claims). */
function rolesClaimsOf(route: RouteIR, ctx: RbacContext): string[] {
  const claims = new Set<string>();
  for (const provider of route.access.providers) {
    const claim = ctx.rolesClaims.get(provider);
    if (claim !== undefined) claims.add(claim);
  }
  return [...claims].sort();
}

function rulePolicy(rule: AccessRuleIR, common: readonly JsonObject[], rolesClaims: readonly string[]): JsonObject {
  const ids = [...common];
  if (rule.roles.length > 0) {
    // Any of the roles, found in any of the roles claims of the accepted providers.
    ids.unshift(anyOf(rolesClaims.map((claim) => hasAnyRole(claim, rule.roles))));
  }
  return { permissions: [methodsPermission(rule.methods)], principals: [allOf(ids)] };
}

/**
 * The route's RBAC: null when nothing needs checking (a public route with no network rules, or a
 * token route with no rules, networks or revocations), otherwise an ALLOW policy set.
 */
export function rbacRules(route: RouteIR, ctx: RbacContext): JsonObject | null {
  const rolesClaims = rolesClaimsOf(route, ctx);
  const common = commonConditions(route, ctx);
  const policies: Record<string, JsonObject> = {};
  if (route.access.rules.length > 0) {
    // Policy names sort in rule order and say which document granted the access.
    route.access.rules.forEach((rule, i) => {
      policies[`${String(i).padStart(3, '0')} ${rule.provenance}`] = rulePolicy(rule, common, rolesClaims);
    });
  } else if (common.length > 0) {
    // No rule restricts who may call: everyone may, except what the common conditions refuse.
    policies['allow-unless-denied'] = { permissions: [{ any: true }], principals: [allOf(common)] };
  } else {
    return null;
  }
  if (route.access.rules.some((r) => r.roles.length > 0) && rolesClaims.length === 0) {
    throw new Error(`IR bug: route ${route.name} checks roles but accepts no JWT provider`);
  }
  return { action: 'ALLOW', policies };
}

/** Per-route config: the route's rules, or an empty override that turns RBAC off for the route. */
export function rbacPerRoute(route: RouteIR, ctx: RbacContext): JsonObject {
  if (route.disabled !== null) return typed(TYPE.rbacPerRoute, {});
  const rules = rbacRules(route, ctx);
  return typed(TYPE.rbacPerRoute, rules === null ? {} : { rbac: { rules } });
}
