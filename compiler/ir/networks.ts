/**
 * Client networks in the IR: one order and one entry per network, for allow and deny lists and
 * lockdown blocks alike. Part of the IR builder; pure.
 */
import { parseCidr } from '../model/cidr';
import { compareText } from '../text-order';
import type { NetworkRuleIR } from './ir';

/** Sorted by network (IPv4 first, then by address, then prefix length), one entry per network (the first provenance wins). */
export function sortNetworks(list: readonly NetworkRuleIR[]): NetworkRuleIR[] {
  if (list.length === 0) return [];
  const sorted = [...list].sort((a, b) => compareCidr(a.cidr, b.cidr) || compareText(a.provenance, b.provenance));
  return sorted.filter((n, i) => i === 0 || sorted[i - 1]?.cidr !== n.cidr);
}

function compareCidr(a: string, b: string): number {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x.ok || !y.ok) return compareText(a, b); // not reached: the model holds canonical CIDRs
  const n = x.network;
  const m = y.network;
  if (n.family !== m.family) return n.family - m.family;
  for (let i = 0; i < n.bytes.length; i++) if (n.bytes[i] !== m.bytes[i]) return (n.bytes[i] ?? 0) - (m.bytes[i] ?? 0);
  return n.prefixLength - m.prefixLength;
}
