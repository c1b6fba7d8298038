/**
 * Trigger documents → TriggerIR (part of the IR builder), and the pure `instantiateLockdown` that
 * fills a trigger's Lockdown template when it fires (the bot writes the result as a Lockdown file).
 */
import { isIP } from 'node:net';
import { canonicalAddress, parseCidr } from '../model/cidr';
import { UNIT_SECONDS, type RateUnit } from '../model/schema';
import { PLACEHOLDER_PATTERN } from '../model/trigger-schema';
import { subjectOf, type TriggerDocument } from '../model/types';
import { sortedUnique } from '../text-order';
import type { LockdownActionTemplateIR, TriggerConditionIR, TriggerIR } from './ir';

/** The triggers that watch `environment`, sorted by name (the model's order). */
export function triggersFor(triggers: readonly TriggerDocument[], environment: string): TriggerIR[] {
  return triggers.filter((t) => !t.spec.environments || t.spec.environments.includes(environment)).map(triggerToIR);
}

const irCache = new WeakMap<TriggerDocument, TriggerIR>();

function triggerToIR(t: TriggerDocument): TriggerIR {
  const known = irCache.get(t);
  if (known) return known;
  const s = t.spec;
  const routes = sortedUnique(s.routes ?? []);
  const ir: TriggerIR = {
    name: t.name,
    description: s.description ?? '',
    routes,
    statuses: sortedUnique(s.responses.statuses),
    causes: sortedUnique(s.responses.causes),
    key: s.key,
    networkPrefix: { ipv4: s.network.ipv4PrefixLength, ipv6: s.network.ipv6PrefixLength },
    condition: conditionToIR(s.condition),
    forMs: s.for,
    severity: s.severity,
    lockdown: {
      durationMs: s.lockdown.duration,
      owner: s.lockdown.owner,
      reviewers: s.lockdown.reviewers,
      reason: s.lockdown.reason ?? defaultReason(t.name, s.key, routes.length === 1),
      environments: s.lockdown.environments ? sortedUnique(s.lockdown.environments) : null,
      actions: s.lockdown.actions,
    },
    provenance: subjectOf(t),
  };
  irCache.set(t, ir);
  return ir;
}

type RateSpec = { readonly above: number; readonly per?: RateUnit | undefined; readonly window?: number | undefined };
const windowOf = (r: RateSpec): number => r.window ?? UNIT_SECONDS[r.per ?? 'minute'] * 1000;

function conditionToIR(c: TriggerDocument['spec']['condition']): TriggerConditionIR {
  if (c.rate) return { kind: 'rate', above: c.rate.above, windowMs: windowOf(c.rate) };
  if (c.share) return { kind: 'share', abovePercent: c.share.above, minRequests: c.share.minRequests, windowMs: c.share.window };
  const b = c.baseline;
  if (!b) throw new Error('IR bug: a validated condition has rate, share or baseline');
  return { kind: 'baseline', multiple: b.multiple, windowMs: b.window, floor: { above: b.minRate.above, windowMs: windowOf(b.minRate) }, warmUpMs: b.warmUp };
}

const KEY_PHRASE = { none: '', clientNetwork: ' from {{network}}', clientIp: ' from {{ip}}', tokenSubject: ' by subject {{sub}}', tokenId: ' by token {{jti}}' } as const;

function defaultReason(name: string, key: TriggerIR['key'], oneRoute: boolean): string {
  return `Trigger ${name} fired${oneRoute ? ' on {{route}}' : ''}${KEY_PHRASE[key]} in {{environment}}`;
}

// ---------------------------------------------------------------------------------------------
// instantiateLockdown

/** What fired: the environment, the offending key (absent for key none) and the route when known. */
export interface TriggerFiring {
  readonly environment: string;
  readonly key?: string | undefined;
  readonly route?: string | undefined;
}

/** A Lockdown `spec` as plain data, ready to be written as YAML (docs/kinds/lockdown.md). */
export interface LockdownSpecData {
  readonly reason: string;
  readonly owner: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly environments: readonly string[];
  readonly actions: readonly Record<string, unknown>[];
}

/**
 * Fills `trigger`'s Lockdown template for one firing at `createdAt`. Pure. The key must have the
 * trigger key's shape (a canonical CIDR for clientNetwork, an IP for clientIp, a token without white
 * space for tokenSubject/tokenId); anything else is a caller bug and throws a RangeError, so a
 * malformed value from traffic can never reach a Lockdown file.
 */
export function instantiateLockdown(trigger: TriggerIR, firing: TriggerFiring, createdAt: Date): LockdownSpecData {
  const key = checkedKey(trigger, firing.key);
  const route = trigger.routes.length === 1 ? (trigger.routes[0] as string) : (firing.route ?? '');
  const values: Record<string, string> = {
    environment: firing.environment,
    route,
    network: trigger.key === 'clientNetwork' ? key : '',
    ip: trigger.key === 'clientIp' ? key : '',
    sub: trigger.key === 'tokenSubject' ? key : '',
    jti: trigger.key === 'tokenId' ? key : '',
  };
  const fill = (text: string): string => text.replace(PLACEHOLDER_PATTERN, (_, name: string) => values[name] || (name === 'route' ? 'several routes' : ''));
  return {
    reason: fill(trigger.lockdown.reason).slice(0, 2000),
    owner: trigger.lockdown.owner,
    createdAt: createdAt.toISOString(),
    expiresAt: new Date(createdAt.getTime() + trigger.lockdown.durationMs).toISOString(),
    environments: trigger.lockdown.environments ?? [firing.environment],
    actions: trigger.lockdown.actions.map((a) => fillAction(a, fill, values.ip ?? '')),
  };
}

function fillAction(a: LockdownActionTemplateIR, fill: (text: string) => string, ip: string): Record<string, unknown> {
  const list = (xs: readonly string[]) => [...new Set(xs.map(fill))];
  switch (a.type) {
    case 'blockNetworks': {
      // An address becomes its host network (/32 or /128): blockNetworks takes CIDRs.
      const host = `${ip}/${ip.includes(':') ? 128 : 32}`;
      const cidrs = [...new Set(a.cidrs.map((c) => (c === '{{ip}}' ? host : fill(c))))];
      return { ...a, cidrs, ...(a.routes ? { routes: list(a.routes) } : {}) };
    }
    case 'revokeTokens':
      return { ...a, jtis: list(a.jtis), subjects: list(a.subjects) };
    case 'disableRoute':
      return { ...a, route: fill(a.route), body: fill(a.body) };
    case 'requireRole':
      return { ...a, routes: list(a.routes) };
    default:
      return { ...a };
  }
}

function checkedKey(trigger: TriggerIR, key: string | undefined): string {
  if (trigger.key === 'none') return '';
  const bad = (why: string) => new RangeError(`instantiateLockdown: Trigger/${trigger.name} key ${trigger.key}: ${why}`);
  if (key === undefined || key === '') throw bad('no key value given');
  switch (trigger.key) {
    case 'clientNetwork': {
      const parsed = parseCidr(key);
      if (!parsed.ok || parsed.network.cidr !== key) throw bad('not a canonical CIDR');
      return key;
    }
    case 'clientIp':
      if (!isIP(key) || canonicalAddress(key) !== key) throw bad('not a canonical IP address');
      return key;
    default:
      if (!/^\S{1,256}$/.test(key)) throw bad('must be 1-256 characters without white space');
      return key;
  }
}
