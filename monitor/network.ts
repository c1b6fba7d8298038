/**
 * Client addresses → the keys the monitor counts by: the canonical address, and its network (/24 and
 * /56 by default, the prefix a Trigger sets). On the ingest path, so IPv4 avoids any allocation but
 * the result string.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { canonicalAddress } from '../compiler/model/cidr';

/** `::ffff:192.0.2.1` (an IPv4 client on a dual-stack listener) → `192.0.2.1`; '' when not an IP. */
export function clientAddress(raw: string): string {
  if (raw.startsWith('::ffff:') && raw.includes('.')) return isIPv4(raw.slice(7)) ? raw.slice(7) : '';
  if (isIPv4(raw)) return raw;
  if (isIPv6(raw)) return canonicalAddress(raw);
  return '';
}

/** The network of a canonical address `ip` (from `clientAddress`), e.g. 203.0.113.0/24. */
export function networkOf(ip: string, ipv4Prefix: number, ipv6Prefix: number): string {
  if (ip === '') return '';
  if (!ip.includes(':')) {
    let value = 0;
    let part = 0;
    for (let i = 0; i < ip.length; i++) {
      const c = ip.charCodeAt(i);
      if (c === 46) {
        value = value * 256 + part;
        part = 0;
      } else part = part * 10 + (c - 48);
    }
    value = value * 256 + part;
    const masked = ipv4Prefix === 0 ? 0 : (value - (value % 2 ** (32 - ipv4Prefix)));
    return `${Math.floor(masked / 16777216)}.${Math.floor(masked / 65536) % 256}.${Math.floor(masked / 256) % 256}.${masked % 256}/${ipv4Prefix}`;
  }
  const groups = expandIpv6(ip);
  for (let g = 0; g < 8; g++) {
    const keep = Math.max(0, Math.min(16, ipv6Prefix - g * 16));
    groups[g] = keep === 0 ? 0 : (groups[g] as number) & (0xffff << (16 - keep)) & 0xffff;
  }
  return `${canonicalAddress(groups.map((x) => x.toString(16)).join(':'))}/${ipv6Prefix}`;
}

function expandIpv6(ip: string): number[] {
  const [head = '', tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const parts = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return parts.map((p) => parseInt(p, 16) || 0);
}
