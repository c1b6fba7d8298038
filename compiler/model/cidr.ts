/**
 * CIDR parsing for the policy model: IPv4/IPv6 networks in canonical form (host bits clear, IPv6 per
 * RFC 5952, IPv4-mapped IPv6 as IPv4), and containment, so allow/deny overlap checks and the IR
 * compare networks exactly.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface Network {
  readonly family: 4 | 6;
  /** Network address bytes (4 or 16), host bits cleared. */
  readonly bytes: Uint8Array;
  readonly prefixLength: number;
  /** Canonical text, e.g. `203.0.113.0/24` or `2001:db8::/32`. */
  readonly cidr: string;
}

export type CidrParse =
  | { readonly ok: true; readonly network: Network }
  | { readonly ok: false; readonly message: string };

/**
 * Parses `a.b.c.d/n`, `x:y::z/n`, or a bare address (a /32 or /128). Host bits set is an error that
 * names the network the author most likely meant. An IPv4-mapped network (`::ffff:a.b.c.d/96+n`)
 * becomes its IPv4 form `a.b.c.d/n`: Envoy sees an IPv4 client as IPv4, so only that form matches
 * it (the Envoy translator adds the mapped form back for clients that arrive mapped).
 */
export function parseCidr(text: string): CidrParse {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const family = isIPv4(addressText) ? 4 : isIPv6(addressText) ? 6 : 0;
  if (family === 0) return { ok: false, message: `"${clip(text)}" is not an IPv4 or IPv6 network (e.g. 203.0.113.0/24)` };
  if (addressText.includes('%')) return { ok: false, message: `"${clip(text)}": a zone index (%...) is not allowed in a network` };
  const maxPrefix = family === 4 ? 32 : 128;
  let prefixLength = maxPrefix;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > maxPrefix) {
      return { ok: false, message: `"${clip(text)}": prefix length must be 0-${maxPrefix}` };
    }
    prefixLength = Number(prefixText);
  }
  const bytes = family === 4 ? ipv4Bytes(addressText) : ipv6Bytes(addressText);
  const masked = mask(bytes, prefixLength);
  const cidr = `${formatAddress(family, masked)}/${prefixLength}`;
  const network = ipv4Unmapped({ family, bytes: masked, prefixLength, cidr });
  if (!sameBytes(bytes, masked)) {
    return { ok: false, message: `"${clip(text)}" has host bits set; did you mean ${network.cidr}?` };
  }
  return { ok: true, network };
}

/** First 12 bytes of every IPv4-mapped IPv6 address (`::ffff:0:0/96`, RFC 4291 2.5.5.2). */
const MAPPED_PREFIX = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

/** The IPv4 network an IPv4-mapped IPv6 network of prefix >= 96 stands for; any other network as is. */
function ipv4Unmapped(n: Network): Network {
  if (n.family !== 6 || n.prefixLength < 96 || !sameBytes(n.bytes.subarray(0, 12), MAPPED_PREFIX)) return n;
  const bytes = n.bytes.slice(12);
  const prefixLength = n.prefixLength - 96;
  return { family: 4, bytes, prefixLength, cidr: `${formatAddress(4, bytes)}/${prefixLength}` };
}

/** True when `inner` lies entirely within `outer` (equal networks included). */
export function networkContains(outer: Network, inner: Network): boolean {
  if (outer.family !== inner.family || outer.prefixLength > inner.prefixLength) return false;
  return sameBytes(mask(inner.bytes, outer.prefixLength), outer.bytes);
}

/** Canonical form of an IP literal (IPv6 compressed, lower case); other text is returned as is. */
export function canonicalAddress(text: string): string {
  if (isIPv4(text)) return formatAddress(4, ipv4Bytes(text));
  if (isIPv6(text) && !text.includes('%')) return formatAddress(6, ipv6Bytes(text));
  return text;
}

function ipv4Bytes(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

/** Expands `::` and an embedded dotted quad; the text is known to be valid (node:net said so). */
function ipv6Bytes(text: string): Uint8Array {
  let groups: number[] = [];
  const parseGroups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const b = ipv4Bytes(g);
        out.push(((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0));
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const gap = text.indexOf('::');
  if (gap >= 0) {
    const head = parseGroups(text.slice(0, gap));
    const tail = parseGroups(text.slice(gap + 2));
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else groups = parseGroups(text);
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 0xff;
  });
  return bytes;
}

function mask(bytes: Uint8Array, prefixLength: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefixLength - i * 8));
    out[i] = (bytes[i] ?? 0) & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** RFC 5952: lower-case hex, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
function formatAddress(family: 4 | 6, bytes: Uint8Array): string {
  if (family === 4) return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}

function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
