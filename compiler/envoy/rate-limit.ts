/**
 * Rate limits with Envoy's local rate limit filter: one descriptor per limit in the listener's filter
 * config, per-key buckets through dynamic descriptors (entries with an empty value), routes picking
 * their limits with route-action `rate_limits`, two filter instances (enforce and shadow). Part of
 * the Envoy translator (IR → Envoy resources).
 *
 * Envoy facts this relies on (local_ratelimit, 1.40):
 * - Without a per-route config the filter uses its own config (descriptors, buckets) and builds the
 *   request's descriptors from the route action's `rate_limits` of its `stage`; an action that
 *   finds nothing (a missing header) drops that whole descriptor.
 * - Buckets belong to the config object that holds them: a per-route config is rebuilt on every
 *   RDS update (fresh buckets); the filter-level config only when the listener changes.
 * - A configured descriptor entry without a value is a wildcard: each distinct request value gets
 *   its own token bucket, kept in an LRU of `max_dynamic_descriptors` per wildcard descriptor
 *   (default 20, which an attacker with 21 addresses defeats by eviction).
 * - Every matching descriptor consumes a token (tightest first); the default bucket is consumed
 *   only when none matched if `always_consume_default_token_bucket` is false.
 * - Buckets count per Envoy instance: N Envoys admit up to N x the limit.
 * - A limit is one bucket per key across every route it names (as the WAF rule it becomes).
 */
import type { EnvironmentIR, RateLimitIR, RouteIR } from '../ir/ir';
import { compareText } from '../text-order';
import { clientKeyRules, trustsXff } from './client-address';
import { JWT_METADATA_NAMESPACE, JWT_PAYLOAD_KEY, TYPE, duration, fractionalPercent, typed } from './common';
import type { JsonObject } from './resources';

export type RateLimitMode = RateLimitIR['mode'];

/** First entry of every descriptor: the limit's name, so two limits on one route never share a bucket. */
const LIMIT_KEY = 'portcullis_limit';
/** Descriptor value for a jwt-claim key when the token lacks the claim: those callers share one bucket. */
export const ABSENT_CLAIM = '(absent)';
/**
 * Never consumed: every request yields a matching descriptor for every limit (see keyRules), and
 * `always_consume_default_token_bucket` is false. Envoy still requires a per-route bucket, and a 1 s
 * fill interval divides every descriptor's interval as the filter demands.
 */
const UNUSED_DEFAULT_BUCKET: JsonObject = { max_tokens: 4294967295, tokens_per_fill: 4294967295, fill_interval: '1s' };

const UNIT_MS: Record<RateLimitIR['unit'], number> = { second: 1000, minute: 60_000, hour: 3_600_000 };

/** Header set on requests a shadow limit would have refused (upstreams and tests can see it). */
export const SHADOW_HEADER = 'x-portcullis-shadow-rate-limited';

/** How a request becomes descriptors for one limit: the actions, and the matching descriptor entries. */
export interface KeyRule {
  readonly actions: readonly JsonObject[];
  readonly entries: readonly JsonObject[];
}

/**
 * The rules for one limit. Keys a request may lack get a second rule so they never escape the
 * limit. `clientFromXff`: the listener takes the client from X-Forwarded-For, where it may arrive
 * IPv4-mapped; per-client keys then come from the client-address script (client-address.ts).
 */
export function keyRules(limit: RateLimitIR, clientFromXff: boolean): KeyRule[] {
  const nameAction: JsonObject = { generic_key: { descriptor_key: LIMIT_KEY, descriptor_value: limit.name } };
  const nameEntry: JsonObject = { key: LIMIT_KEY, value: limit.name };
  const rule = (action: JsonObject | null, entry: JsonObject | null): KeyRule => ({
    actions: action === null ? [nameAction] : [nameAction, action],
    entries: entry === null ? [nameEntry] : [nameEntry, entry],
  });
  const key = limit.key;
  switch (key.kind) {
    case 'route':
      return [rule(null, null)];
    case 'client-ip':
    case 'client-network':
      if (clientFromXff) return clientKeyRules(key).map((r) => ({ actions: [nameAction, ...r.actions], entries: [nameEntry, ...r.entries] }));
      // The TCP peer (a dual-stack listener sees IPv4 peers as IPv4), as RBAC sees it.
      return key.kind === 'client-ip'
        ? [rule({ remote_address: {} }, { key: 'remote_address' })]
        : [
            rule(
              { masked_remote_address: { v4_prefix_mask_len: key.ipv4PrefixLength, v6_prefix_mask_len: key.ipv6PrefixLength } },
              { key: 'masked_remote_address' },
            ),
          ];
    case 'header': {
      const header = key.name.toLowerCase();
      return [
        rule({ request_headers: { header_name: header, descriptor_key: 'request_header' } }, { key: 'request_header' }),
        // Without the header the descriptor above is dropped; callers without it share one bucket
        // instead of going unlimited.
        rule(
          {
            header_value_match: {
              descriptor_key: 'request_header_absent',
              descriptor_value: header,
              expect_match: false,
              headers: [{ name: header, present_match: true }],
            },
          },
          { key: 'request_header_absent', value: header },
        ),
      ];
    }
    case 'jwt-claim':
      return [
        rule(
          {
            metadata: {
              descriptor_key: 'jwt_claim',
              metadata_key: { key: JWT_METADATA_NAMESPACE, path: [{ key: JWT_PAYLOAD_KEY }, { key: key.claim }] },
              // Missing or non-string claims: one shared bucket rather than no limit.
              default_value: ABSENT_CLAIM,
              source: 'DYNAMIC',
            },
          },
          { key: 'jwt_claim' },
        ),
      ];
  }
}

function tokenBucket(limit: RateLimitIR): JsonObject {
  // A full bucket of `requests` refilled once per unit: at most `requests` per unit, bursts allowed.
  return { max_tokens: limit.requests, tokens_per_fill: limit.requests, fill_interval: duration(UNIT_MS[limit.unit]) };
}

/** Route-action `rate_limits` stage of each local instance: each filter reads only its own stage. */
export const LOCAL_STAGE: Readonly<Record<RateLimitMode, number>> = { enforce: 0, shadow: 1 };

/** True for limits counted by the rate-limit service (IR inputs written before scopes count as instance). */
export const isFleet = (limit: RateLimitIR): boolean => limit.scope === 'fleet';

/** The limits on the environment's enabled routes that `pick` selects, one per name, sorted by name. */
export function environmentLimits(env: EnvironmentIR, pick: (limit: RateLimitIR) => boolean): RateLimitIR[] {
  const byName = new Map<string, RateLimitIR>();
  for (const route of env.routes) {
    if (route.disabled !== null) continue;
    for (const limit of route.rateLimits) {
      if (!pick(limit)) continue;
      const seen = byName.get(limit.name);
      if (seen !== undefined && JSON.stringify(seen) !== JSON.stringify(limit)) {
        throw new Error(`IR bug: rate limit ${limit.name} differs between routes of environment ${env.name}`);
      }
      byName.set(limit.name, limit);
    }
  }
  return [...byName.values()].sort((a, b) => compareText(a.name, b.name));
}

/**
 * Filter-level config of the `mode` instance, in the listener: every local limit of the
 * environment as a descriptor with its token bucket. The buckets live as long as this config, so
 * a route-configuration update (any route, access or lockdown change that leaves the limits alone)
 * keeps them; a per-route config would be rebuilt, buckets and all, on every RDS update. Routes
 * select descriptors with their route-action `rate_limits` (rateLimitActions). With no limit in
 * that mode the instance is disabled (filter_enabled unset = 0 %).
 */
export function rateLimitConfig(env: EnvironmentIR, mode: RateLimitMode): JsonObject {
  const statPrefix = `portcullis_ratelimit.${mode}`;
  const limits = environmentLimits(env, (l) => !isFleet(l) && l.mode === mode);
  if (limits.length === 0) return typed(TYPE.localRateLimit, { stat_prefix: statPrefix });
  const xff = trustsXff(env.listener.xffNumTrustedHops);
  const descriptors = limits.flatMap((limit) =>
    keyRules(limit, xff).map((r) => ({ entries: [...r.entries], token_bucket: tokenBucket(limit) })),
  );
  return typed(TYPE.localRateLimit, {
    stat_prefix: statPrefix,
    stage: LOCAL_STAGE[mode],
    token_bucket: UNUSED_DEFAULT_BUCKET,
    always_consume_default_token_bucket: false,
    filter_enabled: fractionalPercent(100),
    filter_enforced: fractionalPercent(mode === 'enforce' ? 100 : 0),
    max_dynamic_descriptors: env.listener.rateLimitMaxDynamicDescriptors,
    descriptors,
    ...(mode === 'enforce'
      ? { enable_x_ratelimit_headers: 'DRAFT_VERSION_03' }
      : {
          request_headers_to_add_when_not_enforced: [
            { header: { key: SHADOW_HEADER, value: 'true' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
          ],
        }),
  });
}

/**
 * The per-route config of the `mode` instance for a route with no limit in that mode: the filter
 * switched off, or null when the route has such a limit. Without it the listener-level default
 * bucket would count the route's requests and answer x-ratelimit headers for a limit nobody set.
 * Holds no bucket, so it costs nothing to rebuild on RDS updates.
 */
export function rateLimitOff(route: RouteIR, mode: RateLimitMode): JsonObject | null {
  if (route.disabled === null && route.rateLimits.some((l) => !isFleet(l) && l.mode === mode)) return null;
  return typed(TYPE.filterConfig, { disabled: true });
}

/** Route-action `rate_limits` stage of each fleet instance (by failure mode), after the local ones. */
export const FLEET_STAGE: Readonly<Record<RateLimitIR['onServiceFailure'], number>> = { allow: 2, deny: 3 };

/** The filter instance (by stage) that counts a limit. */
function stageOf(limit: RateLimitIR): number {
  return isFleet(limit) ? FLEET_STAGE[limit.onServiceFailure] : LOCAL_STAGE[limit.mode];
}

/**
 * The route-action `rate_limits` of a route: per limit, the actions that build its descriptors, at
 * the stage of the filter instance that counts it (local or fleet). Empty for a disabled route (it
 * has no route action).
 */
export function rateLimitActions(route: RouteIR, xffNumTrustedHops: number): JsonObject[] {
  if (route.disabled !== null) return [];
  const xff = trustsXff(xffNumTrustedHops);
  return route.rateLimits.flatMap((limit) => keyRules(limit, xff).map((r) => ({ stage: stageOf(limit), actions: [...r.actions] })));
}
