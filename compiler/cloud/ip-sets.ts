/**
 * CIDR lists → WAF IP sets (one per address family, as WAF requires) and the statement that
 * matches a client against them, reading the address where `cloud.clientIp` says it is.
 */
import { isIP } from 'node:net';
import { compareText } from '../text-order';
import type { CloudTarget, IpSetPlan, PlanNote, Subject, WafStatement } from './types';

export interface AddressFamilies {
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
}

/**
 * Splits CIDRs by family, adds /32 or /128 to bare addresses, and replaces the /0 ranges WAF refuses
 * with the two /1 halves that cover the same addresses. Sorted, de-duplicated.
 */
export function splitFamilies(cidrs: readonly string[], subject: Subject, notes: PlanNote[]): AddressFamilies {
  const v4 = new Set<string>();
  const v6 = new Set<string>();
  for (const raw of cidrs) {
    const [addr = '', len] = raw.split('/');
    const family = isIP(addr);
    if (family === 0) throw new Error(`bug: the IR holds a CIDR that is not one: ${raw}`);
    const prefix = len ?? (family === 4 ? '32' : '128');
    if (prefix === '0') {
      notes.push({ subject, message: `${raw}: AWS WAF IP sets refuse /0, so the set holds its two /1 halves instead` });
      if (family === 4) v4.add('0.0.0.0/1').add('128.0.0.0/1');
      else v6.add('::/1').add('8000::/1');
      continue;
    }
    (family === 4 ? v4 : v6).add(`${addr.toLowerCase()}/${prefix}`);
  }
  return { ipv4: [...v4].sort(compareText), ipv6: [...v6].sort(compareText) };
}

/** The IP sets for one rule: `<base>-ipv4` and/or `<base>-ipv6`, only the non-empty ones. */
export function ipSetsFor(
  base: string,
  families: AddressFamilies,
  target: CloudTarget,
  description: string,
  provenance: readonly Subject[],
): IpSetPlan[] {
  const sets: IpSetPlan[] = [];
  for (const [version, addresses] of [
    ['IPV4', families.ipv4],
    ['IPV6', families.ipv6],
  ] as const) {
    if (addresses.length === 0) continue;
    sets.push({
      name: `${base}-${version.toLowerCase()}`,
      scope: target.scope,
      region: target.region,
      ipAddressVersion: version,
      addresses,
      description,
      provenance,
    });
  }
  return sets;
}

/**
 * Matches a client address against the sets (either family). With a forwarded header the LAST
 * address is used: it is the one the trusted proxy in front of the gateway appended, while earlier
 * entries are whatever the client sent. A request without the header does not match (so deny rules
 * let it through and allow-list rules, which negate this, block it).
 */
export function ipMatch(sets: readonly IpSetPlan[], target: CloudTarget): WafStatement {
  const refs: WafStatement[] = sets.map((s) => ({
    ipSetReferenceStatement:
      target.clientIp.kind === 'forwarded-header'
        ? {
            ipSet: s.name,
            ipSetForwardedIpConfig: { headerName: target.clientIp.header, fallbackBehavior: 'NO_MATCH', position: 'LAST' },
          }
        : { ipSet: s.name },
  }));
  if (refs.length === 0) throw new Error('bug: ipMatch over no IP set');
  return refs.length === 1 ? (refs[0] as WafStatement) : { orStatement: { statements: refs } };
}
