/**
 * Access rules with Envoy's RBAC filter (envoy.filters.http.rbac), three instances:
 * - client networks, before jwt_authn: see client-networks.ts.
 * - roles, per route and after jwt_authn: ALLOW policies whose principals check the roles in the
 *   verified JWT payload, and the methods each rule allows.
 * - revoked tokens: one DENY policy set for the whole route configuration (revocations hold on
 *   every token route of an environment), so revoking a token changes one small block of RDS
 *   instead of every route, and the routes stay untouched.
 * Part of the Envoy translator (IR → Envoy resources).
 */
import type { AccessRuleIR, EnvironmentIR, RevokedTokensIR, RouteAccessIR, RouteIR } from '../ir/ir';
import { JWT_METADATA_NAMESPACE, JWT_PAYLOAD_KEY, TYPE, jwtHeaderKey, typed } from './common';
import type { JsonObject } from './resources';

/** What a route's RBAC reads from its environment besides the route itself. */
export interface RbacContext {
  /** Roles claim of each JWT provider, by provider name. */
  readonly rolesClaims: ReadonlyMap<string, string>;
}

export function rbacContext(env: EnvironmentIR): RbacContext {
  return { rolesClaims: new Map(env.jwtProviders.map((p) => [p.name, p.rolesClaim])) };
}

/** Filter-level config: no rules, i.e. no enforcement. Every route sets its own (see rbacPerRoute). */
export function rbacConfig(): JsonObject {
  return typed(TYPE.rbac, {});
}

/**
 * Filter-level config of the revoked-tokens instance: no rules (the route configuration carries
 * them, see revokedTokensPerRoute), and its own stat prefix so its denials are counted apart.
 */
export function revokedTokensConfig(): JsonObject {
  return typed(TYPE.rbac, { rules_stat_prefix: 'revoked_tokens.' });
}

/** A matcher on jwt_authn's dynamic metadata at `path`. */
function jwtMetadataMatcher(path: readonly string[], value: JsonObject): JsonObject {
  return { sourced_metadata: { metadata_matcher: { filter: JWT_METADATA_NAMESPACE, path: path.map((key) => ({ key })), value } } };
}

/** A matcher on one claim of the verified JWT payload (dynamic metadata written by jwt_authn). */
function claimMatcher(claim: string, value: JsonObject): JsonObject {
  return jwtMetadataMatcher([JWT_PAYLOAD_KEY, claim], value);
}

/**
 * `provider` verified the token: its header is in metadata (see jwt.ts). Checked on `alg`, which
 * every JWS header carries: a present_match only matches a primitive value, not the header struct.
 */
export function verifiedBy(provider: string): JsonObject {
  return jwtMetadataMatcher([jwtHeaderKey(provider), 'alg'], { present_match: true });
}

function exact(value: string): JsonObject {
  return { string_match: { exact: value } };
}

/** One of `values`, as a single value matcher. */
function oneOf(values: readonly string[]): JsonObject {
  return values.length === 1 ? exact(values[0] as string) : { or_match: { value_matchers: values.map(exact) } };
}

/** The claim holds one of `roles`: as the claim itself (a string) or as an element (a list of strings). */
export function hasAnyRole(rolesClaim: string, roles: readonly string[]): JsonObject {
  const role = oneOf(roles);
  return claimMatcher(rolesClaim, { or_match: { value_matchers: [{ list_match: { one_of: role } }, role] } });
}

/** The claim equals one of `values`. */
export function claimIn(claim: string, values: readonly string[]): JsonObject {
  return claimMatcher(claim, oneOf(values));
}

export function anyOf(ids: readonly JsonObject[]): JsonObject {
  return ids.length === 1 ? (ids[0] as JsonObject) : { or_ids: { ids: [...ids] } };
}

function methodsPermission(methods: readonly string[]): JsonObject {
  if (methods.length === 0) return { any: true };
  const one = (m: string): JsonObject => ({ header: { name: ':method', string_match: { exact: m } } });
  return methods.length === 1 ? one(methods[0] as string) : { or_rules: { rules: methods.map(one) } };
}

/** The accepted providers of this route with their roles claims (providers may name different claims). */
function rolesClaimsOf(access: RouteAccessIR, ctx: RbacContext): Array<{ provider: string; claim: string }> {
  const out: Array<{ provider: string; claim: string }> = [];
  for (const provider of access.providers) {
    const claim = ctx.rolesClaims.get(provider);
    if (claim !== undefined) out.push({ provider, claim });
  }
  return out;
}

function rulePolicy(rule: AccessRuleIR, rolesClaims: ReadonlyArray<{ provider: string; claim: string }>): JsonObject {
  // Any of the roles, read from the roles claim of the provider that verified the token: all
  // providers write one payload key, so a claim alone could come from any of them (a `corp` token
  // carrying `groups: [admin]` must not pass as a `partner` admin).
  const principal =
    rule.roles.length > 0
      ? anyOf(rolesClaims.map(({ provider, claim }) => ({ and_ids: { ids: [verifiedBy(provider), hasAnyRole(claim, rule.roles)] } })))
      : { any: true };
  return { permissions: [methodsPermission(rule.methods)], principals: [principal] };
}

/**
 * The route's roles-and-methods RBAC: null when the route has no rules (anyone who got past the
 * filters before may call), otherwise an ALLOW policy set. Client networks are not checked here:
 * the client-networks instance before jwt_authn already refused them.
 */
export function rbacRules(access: RouteAccessIR, ctx: RbacContext): JsonObject | null {
  if (access.rules.length === 0) return null;
  const rolesClaims = rolesClaimsOf(access, ctx);
  const policies: Record<string, JsonObject> = {};
  // Policy names sort in rule order and say which document granted the access.
  access.rules.forEach((rule, i) => {
    policies[`${String(i).padStart(3, '0')} ${rule.provenance}`] = rulePolicy(rule, rolesClaims);
  });
  const withRoles = access.rules.find((r) => r.roles.length > 0);
  if (withRoles !== undefined && rolesClaims.length === 0) {
    throw new Error(`IR bug: a rule of ${withRoles.provenance} checks roles on a route that accepts no JWT provider`);
  }
  return { action: 'ALLOW', policies };
}

/**
 * Per-route config: the route's rules, or an empty override that turns RBAC off for the route.
 * Reads only the route's access and whether it is disabled, so routes sharing an access object
 * can share the result.
 */
export function rbacPerRoute(route: Pick<RouteIR, 'access' | 'disabled'>, ctx: RbacContext): JsonObject {
  if (route.disabled !== null) return typed(TYPE.rbacPerRoute, {});
  const rules = rbacRules(route.access, ctx);
  return typed(TYPE.rbacPerRoute, rules === null ? {} : { rbac: { rules } });
}

/** The last revocation list translated: its IR object, its content, its config. */
let lastRevoked: { readonly ir: RevokedTokensIR; readonly key: string; readonly config: JsonObject | null } | undefined;

/**
 * Config of the revoked-tokens instance for a whole route configuration (RouteConfiguration
 * `typed_per_filter_config`, which applies to every route that sets none for this filter), or null
 * when nothing is revoked. A DENY on the jti or sub claim of the verified payload: routes that need
 * no token run jwt_authn disabled, so they have no payload and nothing here matches them.
 */
export function revokedTokensPerRoute(revoked: RevokedTokensIR): JsonObject | null {
  // One object per revocation list: every scope's configuration holds it (route-scopes.ts), and
  // an unchanged scope keeps its configuration's object only if this one is kept too.
  if (lastRevoked?.ir === revoked) return lastRevoked.config;
  const key = JSON.stringify([revoked.jtis, revoked.subjects]);
  if (lastRevoked?.key === key) {
    lastRevoked = { ...lastRevoked, ir: revoked };
    return lastRevoked.config;
  }
  const policies: Record<string, JsonObject> = {};
  if (revoked.jtis.length > 0) policies['revoked-jti'] = { permissions: [{ any: true }], principals: [claimIn('jti', revoked.jtis)] };
  if (revoked.subjects.length > 0) policies['revoked-sub'] = { permissions: [{ any: true }], principals: [claimIn('sub', revoked.subjects)] };
  const config = Object.keys(policies).length === 0 ? null : typed(TYPE.rbacPerRoute, { rbac: { rules: { action: 'DENY', policies } } });
  lastRevoked = { ir: revoked, key, config };
  return config;
}
