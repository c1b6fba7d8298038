/**
 * The rate-limit service's configuration (envoyproxy/ratelimit `RateLimitConfig`, served over xDS
 * like Envoy's resources): one domain per environment, one descriptor tree per fleet-scope limit,
 * built from the very descriptor entries the routes send (rate-limit.ts keyRules). Pure: IR in,
 * proto3 JSON out. Part of the Envoy translator stage.
 *
 * Service facts this relies on (envoyproxy/ratelimit with Redis):
 * - A request descriptor matches a configured tree entry by entry; an entry configured without a
 *   value is a wildcard: each distinct value is counted on its own.
 * - Counters are Redis keys made of the domain, the descriptor entries and the current window:
 *   they never name the limit's numbers, so a tightened limit keeps its counters.
 * - Windows are fixed (aligned to the clock's second, minute or hour), not token buckets.
 * - `shadow_mode` counts and reports but always answers OK.
 */
import type { EnvironmentIR, RateLimitIR } from '../ir/ir';
import { fleetLimits } from './fleet-rate-limit';
import { keyRules } from './rate-limit';
import { TYPE_URL, type JsonObject } from './resources';

/** xDS type of the service's configuration (a message of the ratelimit config API, not Envoy's). */
export const RATE_LIMIT_CONFIG_TYPE_URL = TYPE_URL.ratelimit;

const UNIT: Readonly<Record<RateLimitIR['unit'], string>> = { second: 'SECOND', minute: 'MINUTE', hour: 'HOUR' };

function policy(limit: RateLimitIR): JsonObject {
  return {
    rate_limit: { unit: UNIT[limit.unit], requests_per_unit: limit.requests },
    ...(limit.mode === 'shadow' ? { shadow_mode: true } : {}),
  };
}

function entryOf(e: JsonObject): JsonObject {
  return { key: e['key'] as string, ...(e['value'] === undefined ? {} : { value: e['value'] as string }) };
}

/** One limit's tree: the limit-name entry first, its key entries below it. */
function limitDescriptor(limit: RateLimitIR): JsonObject {
  const rules = keyRules(limit);
  const [first] = rules;
  if (first === undefined) throw new Error(`IR bug: rate limit ${limit.name} has no descriptor`);
  const top = entryOf(first.entries[0] as JsonObject);
  // A one-entry rule (key `route`) is limited at the top; otherwise each rule's second entry is.
  if (first.entries.length === 1) return { ...top, ...policy(limit) };
  return { ...top, descriptors: rules.map((r) => ({ ...entryOf(r.entries[1] as JsonObject), ...policy(limit) })) };
}

/**
 * The environment's RateLimitConfig, or null when it has no rate-limit service. An environment
 * with a service but no fleet limit gets its domain with no descriptors (the service then admits
 * every request of that domain, and knows the domain exists).
 */
export function rateLimitServiceConfig(env: EnvironmentIR): JsonObject | null {
  const service = env.rateLimitService;
  if (service === undefined) return null;
  return { name: service.domain, domain: service.domain, descriptors: fleetLimits(env).map(limitDescriptor) };
}
