/**
 * Allowed and denied client networks with Envoy's RBAC filter (the client-networks instance, before
 * jwt_authn). Part of the Envoy translator (IR → Envoy resources).
 *
 * Each network list is emitted once per route configuration, however many routes it applies to:
 * 20,000 denied networks on 14 routes used to be 20,000 × 14 principals. A route's networks are
 * split into network sets, one per document that contributed them (a provenance) and kind (deny or
 * allow); routes sharing a document's list share its set. The route configuration carries one DENY
 * policy set with every set once, each policy guarded by a check of the route's own metadata
 * (`metadata_source: ROUTE`) listing the sets that apply to it; a route carries only that list.
 */
import { isIPv4 } from 'node:net';
import type { NetworkRuleIR, RouteAccessIR, RouteIR } from '../ir/ir';
import { FILTER, TYPE, typed } from './common';
import { contentHash } from './hash';
import type { JsonObject } from './resources';

/** The CIDRs one document denies (or allows) on a route. */
export interface NetworkSet {
  /** `deny <provenance> <hash>` / `allow <provenance> <hash>`: the RBAC policy name (stats, logs). */
  readonly id: string;
  readonly kind: 'deny' | 'allow';
  /** Matches a client inside any of the set's networks. */
  readonly principal: JsonObject;
}

/** What the client-networks instance needs from one route: its sets, and its metadata naming them. */
export interface RouteNetworks {
  readonly sets: readonly NetworkSet[];
  /** The route's `metadata`, or null when the route has no network rules (or is disabled). */
  readonly metadata: JsonObject | null;
}

const NONE: RouteNetworks = { sets: [], metadata: null };

/** The IPv4-mapped IPv6 form of a canonical IPv4 network (`192.0.2.0/24` → `::ffff:192.0.2.0/120`); null for IPv6. */
export function ipv4MappedCidr(cidr: string): string | null {
  const [address, length] = cidr.split('/');
  if (!isIPv4(address as string)) return null;
  return `::ffff:${address as string}/${96 + Number(length ?? 32)}`;
}

export function remoteIp(cidr: string): JsonObject {
  const [address, length] = cidr.split('/');
  // remote_ip is the client address after X-Forwarded-For processing (xff_num_trusted_hops), not
  // the peer of the TCP connection: the real client when Envoy sits behind trusted proxies.
  return { remote_ip: { address_prefix: address as string, prefix_len: Number(length) } };
}

/**
 * The principals matching a network. An IPv4 network also matches its IPv4-mapped IPv6 form: a
 * dual-stack proxy writes an IPv4 client as `::ffff:a.b.c.d` in X-Forwarded-For, Envoy then sees an
 * IPv6 address, and an IPv4 range never matches an IPv6 address.
 */
function cidrPrincipals(cidr: string): JsonObject[] {
  const mapped = ipv4MappedCidr(cidr);
  return mapped === null ? [remoteIp(cidr)] : [remoteIp(cidr), remoteIp(mapped)];
}

function anyOf(ids: readonly JsonObject[]): JsonObject {
  return ids.length === 1 ? (ids[0] as JsonObject) : { or_ids: { ids: [...ids] } };
}

/** The rules grouped by provenance, in order of first appearance (the IR sorts them by address). */
function byProvenance(rules: readonly NetworkRuleIR[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const r of rules) {
    const list = groups.get(r.provenance);
    if (list) list.push(r.cidr);
    else groups.set(r.provenance, [r.cidr]);
  }
  return groups;
}

function networkSets(kind: NetworkSet['kind'], rules: readonly NetworkRuleIR[]): NetworkSet[] {
  return [...byProvenance(rules)].map(([provenance, cidrs]) => ({
    // The hash tells apart two lists of one document (routes it scopes differently).
    id: `${kind} ${provenance} ${contentHash(cidrs)}`,
    kind,
    principal: anyOf(cidrs.flatMap(cidrPrincipals)),
  }));
}

/**
 * The network sets of a route and its metadata naming them. Reads only the route's access and
 * whether it is disabled (a disabled route answers every caller itself), so routes sharing an
 * access object can share the result.
 */
export function routeNetworks(route: Pick<RouteIR, 'access' | 'disabled'>): RouteNetworks {
  const access: RouteAccessIR = route.access;
  if (route.disabled !== null || (access.deniedNetworks.length === 0 && access.allowedNetworks.length === 0)) return NONE;
  const deny = networkSets('deny', access.deniedNetworks);
  const allow = networkSets('allow', access.allowedNetworks);
  const listed: Record<string, JsonObject | string[] | boolean> = {};
  if (deny.length > 0) listed['deny'] = deny.map((s) => s.id);
  if (allow.length > 0) {
    listed['allow'] = allow.map((s) => s.id);
    listed['allow_only'] = true;
  }
  return { sets: [...deny, ...allow], metadata: { filter_metadata: { [FILTER.clientNetworks]: listed } } };
}

/** The route lists `id` under `key` of its client-networks metadata. */
function routeLists(key: 'deny' | 'allow', id: string): JsonObject {
  return {
    sourced_metadata: {
      metadata_matcher: { filter: FILTER.clientNetworks, path: [{ key }], value: { list_match: { one_of: { string_match: { exact: id } } } } },
      metadata_source: 'ROUTE',
    },
  };
}

const ROUTE_HAS_ALLOW_LIST: JsonObject = {
  sourced_metadata: {
    metadata_matcher: { filter: FILTER.clientNetworks, path: [{ key: 'allow_only' }], value: { bool_match: true } },
    metadata_source: 'ROUTE',
  },
};

/**
 * Configuration-wide blocks by their set ids: an unchanged set of networks keeps its object (and
 * hash). With route scopes each scope has its own block (the sets of its routes): room for a few
 * hundred scopes, so a recompile finds them all.
 */
const blockMemo = new Map<string, JsonObject>();
const MAX_BLOCKS = 1024;

/**
 * The client-networks config of a whole route configuration (RouteConfiguration
 * `typed_per_filter_config`, which applies to every route), or null when no route has network
 * rules. One DENY policy per denied set (the route lists it and the client is inside), and one for
 * allow lists (the route has one and the client is inside none of the route's allowed sets). Deny
 * beats allow: any matching policy refuses. `sets` may repeat a set (routes share them).
 */
export function clientNetworksPerRouteConfiguration(sets: readonly NetworkSet[]): JsonObject | null {
  const unique = new Map<string, NetworkSet>();
  for (const s of sets) unique.set(s.id, s);
  if (unique.size === 0) return null;
  const ids = [...unique.keys()].sort();
  const key = ids.join('\n');
  const known = blockMemo.get(key);
  if (known !== undefined) return known;
  const policies: Record<string, JsonObject> = {};
  const allowed: JsonObject[] = [];
  for (const id of ids) {
    const set = unique.get(id) as NetworkSet;
    if (set.kind === 'deny') policies[id] = { permissions: [{ any: true }], principals: [{ and_ids: { ids: [routeLists('deny', id), set.principal] } }] };
    else allowed.push({ and_ids: { ids: [routeLists('allow', id), set.principal] } });
  }
  if (allowed.length > 0) {
    policies['outside allowed networks'] = { permissions: [{ any: true }], principals: [{ and_ids: { ids: [ROUTE_HAS_ALLOW_LIST, { not_id: anyOf(allowed) }] } }] };
  }
  const block = typed(TYPE.rbacPerRoute, { rbac: { rules: { action: 'DENY', policies } } });
  blockMemo.set(key, block);
  if (blockMemo.size > MAX_BLOCKS) blockMemo.delete(blockMemo.keys().next().value as string);
  return block;
}

/**
 * Filter-level config of the client-networks instance: no rules (the route configuration carries
 * them, see clientNetworksPerRouteConfiguration), and its own stat prefix so its denials are
 * counted apart.
 */
export function clientNetworksConfig(): JsonObject {
  return typed(TYPE.rbac, { rules_stat_prefix: 'client_networks.' });
}
