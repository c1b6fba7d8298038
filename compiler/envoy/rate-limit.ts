/**
 * Rate limits per route with Envoy's local rate limit filter: one descriptor per limit, per-key
 * buckets through dynamic descriptors (entries with an empty value), two filter instances (enforce
 * and shadow). Part of the Envoy translator (IR → Envoy resources).
 *
 * Envoy facts this relies on (local_ratelimit, 1.40):
 * - `rate_limits` inside the per-route config produce the request's descriptors; an action that
 *   finds nothing (a missing header) drops that whole descriptor.
 * - A configured descriptor entry without a value is a wildcard: each distinct request value gets
 *   its own token bucket, kept in an LRU of `max_dynamic_descriptors` per wildcard descriptor
 *   (default 20, which an attacker with 21 addresses defeats by eviction).
 * - Every matching descriptor consumes a token (tightest first); the default bucket is consumed
 *   only when none matched if `always_consume_default_token_bucket` is false.
 * - Buckets count per Envoy instance: N Envoys admit up to N x the limit.
 */
import type { RateLimitIR, RouteIR } from '../ir/ir';
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
interface KeyRule {
  readonly actions: readonly JsonObject[];
  readonly entries: readonly JsonObject[];
}

/** The rules for one limit. Keys a request may lack get a second rule so they never escape the limit. */
function keyRules(limit: RateLimitIR): KeyRule[] {
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
      // The client address after X-Forwarded-For processing, as RBAC sees it.
      return [rule({ remote_address: {} }, { key: 'remote_address' })];
    case 'client-network':
      return [
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

/** Filter-level config of one instance: no token bucket, so nothing is limited unless a route says so. */
export function rateLimitConfig(mode: RateLimitMode): JsonObject {
  return typed(TYPE.localRateLimit, { stat_prefix: `portcullis_ratelimit.${mode}` });
}

/**
 * Per-route config of the `mode` instance, or null when the route has no limit in that mode.
 * `maxDynamicDescriptors` is the listener's `rateLimitMaxDynamicDescriptors`.
 */
export function rateLimitPerRoute(route: RouteIR, mode: RateLimitMode, maxDynamicDescriptors: number): JsonObject | null {
  if (route.disabled !== null) return null;
  const limits = route.rateLimits.filter((l) => l.mode === mode);
  if (limits.length === 0) return null;
  const rateLimits: JsonObject[] = [];
  const descriptors: JsonObject[] = [];
  for (const limit of limits) {
    for (const r of keyRules(limit)) {
      rateLimits.push({ actions: [...r.actions] });
      descriptors.push({ entries: [...r.entries], token_bucket: tokenBucket(limit) });
    }
  }
  return typed(TYPE.localRateLimit, {
    // Per route and mode, so the monitor can tell which route is limited and whether it was for real.
    stat_prefix: `portcullis_ratelimit.${route.name}.${mode}`,
    token_bucket: UNUSED_DEFAULT_BUCKET,
    always_consume_default_token_bucket: false,
    filter_enabled: fractionalPercent(100),
    filter_enforced: fractionalPercent(mode === 'enforce' ? 100 : 0),
    max_dynamic_descriptors: maxDynamicDescriptors,
    rate_limits: rateLimits,
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
