/**
 * Requests whose trusted X-Forwarded-For entry is not an IP address get 400, on listeners that trust
 * X-Forwarded-For. Part of the Envoy translator (IR → Envoy resources): routes put first in every
 * virtual host, answered by Envoy itself.
 *
 * Why: Envoy takes the client address from the entry `xff_num_trusted_hops` from the right; when
 * that entry does not parse as an IP (`198.51.100.7:5555`, `198.51.100.007`, an empty entry after a
 * trailing comma, `garbage`, fewer entries than trusted hops) it silently falls back to the TCP
 * peer, i.e. the proxy in front, and every client-network rule then judges the proxy: a deny list
 * fails open. Refusing such requests keeps deny lists closed and makes a proxy writing an odd
 * format visible at once. A request without X-Forwarded-For keeps the TCP peer as its client.
 *
 * How: route header matchers on X-Forwarded-For. A route sees the header after Envoy appended the
 * peer, so the trusted entry is followed by `hops` entries. Each regex must stay within Envoy's RE2
 * program size limit (100) up to 16 hops, which rules out one regex for "an IPv6 address"; the test
 * is split into accepted shapes (one route: none of them matches) and specific faults (one route
 * each). Together they accept exactly the addresses inet_pton parses, except two forms no proxy
 * writes (a `::` standing for one group at an end of an 8-colon address, and an embedded IPv4
 * address after 5 other groups and `::` not at the start): those get 400 too, never a fallback.
 */
import type { JsonObject } from './resources';

const HEADER = 'x-forwarded-for';
const HEX = '[0-9A-Fa-f]+';
/** A dotted quad of any digits: the octet faults are their own rule (OCTET_FAULT). */
const QUAD = '[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+';
/** An octet inet_pton refuses: a leading zero, four digits or more, above 255. */
const OCTET_FAULT = '(?:0[0-9]|[0-9]{4}|25[6-9]|2[6-9][0-9]|[3-9][0-9]{2})';

/** The trusted entry (`body`, without white space around it) followed by `hops` more entries. */
function trustedEntry(body: string, hops: number): string {
  return `^(?:.*,)?[ \\t]*${body}[ \\t]*(?:,[^,]*){${hops}}$`;
}

/** A header matcher on X-Forwarded-For; `invert`: the regex must not match. */
export interface XffMatcher {
  readonly regex?: string;
  readonly contains?: string;
  readonly invert: boolean;
}

/** One rejecting route: every matcher holds. */
export interface XffRejectRule {
  readonly name: string;
  readonly matchers: readonly XffMatcher[];
}

/** The rules for a listener trusting `hops` (1-16) proxies: a request matching any of them gets 400. */
export function xffRejectRules(hops: number): XffRejectRule[] {
  const shapes = [
    QUAD, // IPv4
    `${HEX}(?::${HEX}){7}`, // 8 groups
    `(?:${HEX}(?::${HEX})*)?::(?:${HEX}(?::${HEX})*)?`, // with ::
    `(?:${HEX}(?::${HEX})*)?::(?:${HEX}:)*${QUAD}`, // with :: and an embedded IPv4 address
    `${HEX}(?::${HEX}){5}:${QUAD}`, // 6 groups and an embedded IPv4 address
  ];
  const any = (body: string) => `^(?:.*,)?${body}(?:,[^,]*){${hops}}$`;
  return [
    // Present (Envoy appended the peer to it: a comma) and none of the shapes.
    { name: 'not-an-address', matchers: [{ contains: ',', invert: false }, ...shapes.map((s) => ({ regex: trustedEntry(s, hops), invert: true }))] },
    // The shapes take hex runs of any length: a group has at most 4 digits.
    { name: 'long-group', matchers: [{ regex: any('[^,]*[0-9A-Fa-f]{5}[^,]*'), invert: false }] },
    // At most 8 groups: 7 colons, or 7 with a `::` (8 at an end of the address: refused, see above).
    { name: 'too-many-groups', matchers: [{ regex: any('[^,:]*(?::[^,:]*){8,}'), invert: false }] },
    // An embedded IPv4 address counts as 2 groups: `a::b:c:d:e:f:1.2.3.4` has 8 with the `::`.
    { name: 'too-many-groups-ipv4', matchers: [{ regex: trustedEntry('[0-9A-Fa-f](?:[^,:]*:){7,}[^,:]*\\.[^,:]*', hops), invert: false }] },
    // Dotted quads: leading zeros, more than 3 digits, octets above 255.
    { name: 'bad-octet', matchers: [{ regex: trustedEntry(`(?:[^,]*:)?(?:[0-9]+\\.)+${OCTET_FAULT}[0-9]*(?:\\.[0-9]+)*`, hops), invert: false }] },
    { name: 'bad-first-octet', matchers: [{ regex: trustedEntry(`(?:[^,]*:)?${OCTET_FAULT}[0-9]*(?:\\.[0-9]+)+`, hops), invert: false }] },
  ];
}

const routesByHops = new Map<number, readonly JsonObject[]>();

/** The rejecting routes (none when the listener trusts no X-Forwarded-For); one array per hop count. */
export function malformedXffRoutes(hops: number): readonly JsonObject[] {
  if (hops === 0) return [];
  let routes = routesByHops.get(hops);
  if (routes === undefined) {
    routes = xffRejectRules(hops).map((rule): JsonObject => {
      const headers = rule.matchers.map((m): JsonObject => {
        const stringMatch: JsonObject = m.regex === undefined ? { contains: m.contains as string } : { safe_regex: { regex: m.regex } };
        return { name: HEADER, string_match: stringMatch, ...(m.invert ? { invert_match: true } : {}) };
      });
      return {
        name: `portcullis/x-forwarded-for/${rule.name}`,
        match: { prefix: '/', headers },
        direct_response: { status: 400, body: { inline_string: 'X-Forwarded-For: the client address is not an IP address\n' } },
      };
    });
    routesByHops.set(hops, routes);
  }
  return routes;
}
