/**
 * The client address as per-client rate limits (`clientIp`, `clientNetwork`) count it, on listeners
 * that trust X-Forwarded-For: an IPv4-mapped IPv6 client (`::ffff:198.51.100.7`, however spelt) is
 * the IPv4 client it stands for, with the IPv4 prefix. Part of the Envoy translator (IR → Envoy
 * resources): a Lua filter that writes the normalised address into dynamic metadata, the route
 * metadata and per-route config that switch it on, and the rate-limit actions that read it.
 *
 * Envoy facts this relies on (1.40):
 * - The client taken from X-Forwarded-For is parsed as written: a mapped entry becomes an IPv6
 *   address (`[::ffff:198.51.100.7]:0`), so `remote_address` and `masked_remote_address` give it a
 *   key of its own, and `masked_remote_address` masks it with the IPv6 prefix (every mapped client
 *   in `::/56`). `represent_ipv4_remote_address_as_ipv4_mapped_ipv6` covers the TCP peer only, and
 *   a TCP peer on a dual-stack listener is already IPv4: only listeners trusting XFF need this.
 * - No rate-limit action rewrites a value (CEL descriptors lack string functions): hence Lua, whose
 *   `streamInfo():downstreamRemoteAddress()` is the address after XFF processing.
 * - A `metadata` action whose key is absent drops its whole descriptor: that is how the IPv6 rule
 *   of a network limit is skipped for IPv4 clients and the IPv4 rule for IPv6 ones.
 * - An HTTP filter `disabled` in the chain runs only on routes whose `typed_per_filter_config`
 *   enables it, so routes without such limits pay nothing, and enabling it is a route change.
 * - Lua reads route metadata filed under its filter name (`handle:metadata()`).
 */
import type { RateLimitIR, RouteIR } from '../ir/ir';
import { FILTER, TYPE, typed } from './common';
import type { JsonObject } from './resources';

/** Dynamic-metadata namespace the script writes, and route-metadata namespace it reads. */
const NAMESPACE = FILTER.clientAddress;
/** Name of the script in the filter's `source_codes`, which routes enable by name. */
const SCRIPT_NAME = 'client_address';

/**
 * Writes `address` (IPv4 clients, mapped or not, as a dotted quad; IPv6 clients as Envoy prints
 * them) and, for IPv4 clients, `ipv4_<n>` (the client's /n network) for every n the route lists in
 * `ipv4_prefixes`; for IPv6 clients `family` = `ipv6` (Envoy masks those itself). Envoy prints a
 * mapped address in lower case with a dotted tail whatever the entry's spelling.
 */
const SCRIPT = `-- Portcullis (compiler/envoy/client-address.ts): the client address as rate limits key it.
local NS = "${NAMESPACE}"
local function quad(n)
  return string.format("%d.%d.%d.%d", math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end
function envoy_on_request(handle)
  local info = handle:streamInfo()
  local meta = info:dynamicMetadata()
  local remote = info:downstreamRemoteAddress()
  local a, b, c, d = string.match(remote, "^%[::ffff:(%d+)%.(%d+)%.(%d+)%.(%d+)%]:%d+$")
  if a == nil then a, b, c, d = string.match(remote, "^(%d+)%.(%d+)%.(%d+)%.(%d+):%d+$") end
  if a == nil then
    meta:set(NS, "address", string.match(remote, "^%[(.*)%]:%d+$") or remote)
    meta:set(NS, "family", "ipv6")
    return
  end
  local n = ((tonumber(a) * 256 + tonumber(b)) * 256 + tonumber(c)) * 256 + tonumber(d)
  meta:set(NS, "address", quad(n))
  local prefixes = handle:metadata():get("ipv4_prefixes")
  if prefixes == nil then return end
  for p in string.gmatch(prefixes, "%d+") do
    local size = 2 ^ (32 - tonumber(p))
    meta:set(NS, "ipv4_" .. p, quad(math.floor(n / size) * size) .. "/" .. p)
  end
end
`;

/** True when the client is taken from X-Forwarded-For: only then can it arrive IPv4-mapped. */
export const trustsXff = (xffNumTrustedHops: number): boolean => xffNumTrustedHops > 0;

const keyedByClient = (limit: RateLimitIR): boolean => limit.key.kind === 'client-ip' || limit.key.kind === 'client-network';

/** True for an enabled route with a per-client limit on a listener trusting XFF: it runs the script. */
function runsScript(route: RouteIR, xffNumTrustedHops: number): boolean {
  return trustsXff(xffNumTrustedHops) && route.disabled === null && route.rateLimits.some(keyedByClient);
}

/**
 * Filter config of the chain's client-address slot, or null when the listener trusts no
 * X-Forwarded-For (the slot is then left out). Disabled by default: routes switch it on.
 */
export function clientAddressConfig(xffNumTrustedHops: number): JsonObject | null {
  if (!trustsXff(xffNumTrustedHops)) return null;
  return typed(TYPE.lua, { stat_prefix: SCRIPT_NAME, source_codes: { [SCRIPT_NAME]: { inline_string: SCRIPT } } });
}

/** The route's per-filter config switching the script on, or null when it does not need it. */
export function clientAddressPerRoute(route: RouteIR, xffNumTrustedHops: number): JsonObject | null {
  if (!runsScript(route, xffNumTrustedHops)) return null;
  return typed(TYPE.filterConfig, { config: typed(TYPE.luaPerRoute, { name: SCRIPT_NAME }) });
}

/** The route metadata the script reads (`ipv4_prefixes` of the route's network limits), or null. */
export function clientAddressMetadata(route: RouteIR, xffNumTrustedHops: number): JsonObject | null {
  if (!runsScript(route, xffNumTrustedHops)) return null;
  const prefixes = new Set<number>();
  for (const l of route.rateLimits) if (l.key.kind === 'client-network') prefixes.add(l.key.ipv4PrefixLength);
  if (prefixes.size === 0) return null;
  return { ipv4_prefixes: [...prefixes].sort((a, b) => a - b).join(' ') };
}

/** A descriptor action reading `key` of the script's output, as entry `descriptorKey`. */
function scriptOutput(key: string, descriptorKey: string): JsonObject {
  return { metadata: { descriptor_key: descriptorKey, metadata_key: { key: NAMESPACE, path: [{ key }] }, source: 'DYNAMIC' } };
}

/** One way a limit's key becomes descriptor entries after the limit's name: the actions and the entries they yield. */
export interface ClientKeyRule {
  readonly actions: readonly JsonObject[];
  readonly entries: readonly JsonObject[];
}

/**
 * The rules of a per-client limit on a listener trusting XFF. The entry keys are those Envoy's own
 * actions write (`remote_address`, `masked_remote_address`), so an IPv4 client keeps the key it
 * has without XFF. A network limit has two rules, of which each request yields exactly one: IPv4
 * clients by the script's /n network, IPv6 clients by Envoy's mask behind a `client_family` entry.
 */
export function clientKeyRules(key: Extract<RateLimitIR['key'], { kind: 'client-ip' | 'client-network' }>): ClientKeyRule[] {
  if (key.kind === 'client-ip') return [{ actions: [scriptOutput('address', 'remote_address')], entries: [{ key: 'remote_address' }] }];
  const masked: JsonObject = { masked_remote_address: { v4_prefix_mask_len: key.ipv4PrefixLength, v6_prefix_mask_len: key.ipv6PrefixLength } };
  return [
    { actions: [scriptOutput(`ipv4_${key.ipv4PrefixLength}`, 'masked_remote_address')], entries: [{ key: 'masked_remote_address' }] },
    {
      actions: [scriptOutput('family', 'client_family'), masked],
      entries: [{ key: 'client_family', value: 'ipv6' }, { key: 'masked_remote_address' }],
    },
  ];
}
