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
import { trustsXff } from './client-address';
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

/**
 * The descriptor trees of rules that share their entries so far: one node per distinct next entry
 * (in order of first appearance), the limit's policy where a rule ends. The limit-name entry is the
 * root, its key entries below it (a client-network limit behind XFF has a `client_family` level).
 */
function descriptorTrees(rules: readonly (readonly JsonObject[])[], limit: RateLimitIR): JsonObject[] {
  const byEntry = new Map<string, { entry: JsonObject; rest: (readonly JsonObject[])[] }>();
  for (const entries of rules) {
    const entry = entryOf(entries[0] as JsonObject);
    const id = JSON.stringify(entry);
    const node = byEntry.get(id) ?? { entry, rest: [] };
    byEntry.set(id, node);
    node.rest.push(entries.slice(1));
  }
  return [...byEntry.values()].map(({ entry, rest }) => {
    const deeper = rest.filter((r) => r.length > 0);
    return {
      ...entry,
      ...(deeper.length < rest.length ? policy(limit) : {}),
      ...(deeper.length > 0 ? { descriptors: descriptorTrees(deeper, limit) } : {}),
    };
  });
}

/** One limit's tree: the limit-name entry first, its key entries below it. */
function limitDescriptor(limit: RateLimitIR, clientFromXff: boolean): JsonObject {
  const [tree, ...more] = descriptorTrees(
    keyRules(limit, clientFromXff).map((r) => r.entries),
    limit,
  );
  if (tree === undefined || more.length > 0) throw new Error(`IR bug: rate limit ${limit.name} has no single descriptor tree`);
  return tree;
}

/**
 * The environment's RateLimitConfig, or null when it has no rate-limit service. An environment
 * with a service but no fleet limit gets its domain with no descriptors (the service then admits
 * every request of that domain, and knows the domain exists).
 */
export function rateLimitServiceConfig(env: EnvironmentIR): JsonObject | null {
  const service = env.rateLimitService;
  if (service === undefined) return null;
  const xff = trustsXff(env.listener.xffNumTrustedHops);
  return { name: service.domain, domain: service.domain, descriptors: fleetLimits(env).map((l) => limitDescriptor(l, xff)) };
}
