/**
 * RateLimit documents → RateLimitIR: the base limits indexed by route, and what an environment's
 * overrides and active tightenings make of them. Part of the IR builder.
 */
import type { RateUnit } from '../model/schema';
import { UNIT_SECONDS } from '../model/schema';
import { subjectOf, type EnvironmentDocument, type RateLimitDocument } from '../model/types';
import type { RateLimitIR, RateLimitKeyIR, RateLimitServiceIR } from './ir';
import type { ActionOf, Provenanced } from './lockdowns';
import { cached, keyed, type EnvironmentMemo, type IrMemo } from './memo';

/** Rate limits indexed by route, and routes by rate limit. */
export interface LimitIndex {
  readonly rateLimitIR: ReadonlyMap<string, RateLimitIR>;
  /** The base RateLimitIR of each route, in document (name) order. */
  readonly irOfRoute: ReadonlyMap<string, readonly RateLimitIR[]>;
  readonly routesOfLimit: ReadonlyMap<string, readonly string[]>;
  /** RateLimitIR by content, so an unchanged limit keeps its object when its file is edited. */
  readonly interned: ReadonlyMap<string, RateLimitIR>;
}

/** The limits of a route with none. */
export const NO_LIMITS: readonly RateLimitIR[] = [];

export function indexLimits(rateLimits: readonly RateLimitDocument[], memo: IrMemo, previous: ReadonlyMap<string, RateLimitIR> = new Map()): LimitIndex {
  const interned = new Map<string, RateLimitIR>();
  const rateLimitIR = new Map(
    rateLimits.map((l) => {
      const content = JSON.stringify([l.name, l.spec.requests, l.spec.per, l.spec.mode, l.spec.key]);
      const ir = previous.get(content) ?? cached(memo.rateLimits, l, () => rateLimitToIR(l, l.spec.requests, l.spec.per, l.spec.mode, subjectOf(l)));
      interned.set(content, ir);
      return [l.name, ir];
    }),
  );
  const irOfRoute = new Map<string, RateLimitIR[]>();
  const routesOfLimit = new Map<string, string[]>();
  for (const l of rateLimits) {
    const ir = rateLimitIR.get(l.name);
    const routes = [...new Set(l.spec.routes)];
    routesOfLimit.set(l.name, routes);
    for (const route of routes) {
      const irs = irOfRoute.get(route);
      if (ir && irs) irs.push(ir);
      else if (ir) irOfRoute.set(route, [ir]);
    }
  }
  return { rateLimitIR, irOfRoute, routesOfLimit, interned };
}

/** RateLimit IR that differ from the base in this environment (override, then the tightest active lockdown). */
export function environmentRateLimits(
  documents: ReadonlyMap<string, RateLimitDocument>,
  limits: LimitIndex,
  env: EnvironmentDocument,
  tightens: readonly Provenanced<ActionOf<'tightenRateLimit'>>[],
  memo: EnvironmentMemo,
): Map<string, RateLimitIR> {
  interface Limit {
    readonly doc: RateLimitDocument;
    readonly requests: number;
    readonly unit: RateUnit;
    readonly mode: 'enforce' | 'shadow';
    readonly provenance: string;
  }
  const changed = new Map<string, Limit>();
  for (const [name, o] of Object.entries(env.spec.overrides.rateLimits)) {
    const doc = documents.get(name);
    if (doc) changed.set(name, { doc, requests: o.requests ?? doc.spec.requests, unit: o.per ?? doc.spec.per, mode: doc.spec.mode, provenance: subjectOf(doc) });
  }
  // Validation made every tightening tighter than the limit it tightens; of several, the tightest wins.
  const tightened = new Set<string>();
  for (const { action, provenance } of tightens) {
    const doc = documents.get(action.rateLimit);
    const current = changed.get(action.rateLimit) ?? limits.rateLimitIR.get(action.rateLimit);
    if (!doc || !current) continue;
    const per = action.per ?? env.spec.overrides.rateLimits[doc.name]?.per ?? doc.spec.per;
    if (tightened.has(action.rateLimit) && rate(action.requests, per) >= rate(current.requests, current.unit)) continue;
    changed.set(action.rateLimit, { doc, requests: action.requests, unit: per, mode: 'enforce', provenance });
    tightened.add(action.rateLimit);
  }
  const out = new Map<string, RateLimitIR>();
  for (const [name, l] of changed) {
    const key = JSON.stringify([l.requests, l.unit, l.mode, l.provenance]);
    out.set(name, keyed(memo.rateLimits, l.doc, key, () => rateLimitToIR(l.doc, l.requests, l.unit, l.mode, l.provenance)));
  }
  return out;
}

function rate(requests: number, per: RateUnit): number {
  return requests / UNIT_SECONDS[per];
}

function rateLimitToIR(doc: RateLimitDocument, requests: number, unit: RateUnit, mode: 'enforce' | 'shadow', provenance: string): RateLimitIR {
  const scope = doc.spec.scope;
  const onServiceFailure = scope === 'fleet' ? (doc.spec.onServiceFailure ?? 'allow') : 'allow';
  return { name: doc.name, requests, unit, key: keyToIR(doc.spec.key), mode, scope, onServiceFailure, provenance };
}

/** The environment's rate-limit service; absent when it sets none (then it has no fleet limits: validation). */
export function rateLimitServiceToIR(env: EnvironmentDocument): { rateLimitService?: RateLimitServiceIR } {
  const s = env.spec.rateLimitService;
  if (s === undefined) return {};
  return { rateLimitService: { address: s.address, port: s.port, timeoutMs: s.timeout, domain: `portcullis-${env.name}` } };
}

function keyToIR(key: RateLimitDocument['spec']['key']): RateLimitKeyIR {
  switch (key.type) {
    case 'clientIp':
      return { kind: 'client-ip' };
    case 'clientNetwork':
      return { kind: 'client-network', ipv4PrefixLength: key.ipv4PrefixLength, ipv6PrefixLength: key.ipv6PrefixLength };
    case 'header':
      return { kind: 'header', name: key.name };
    case 'jwtClaim':
      return { kind: 'jwt-claim', claim: key.claim };
    case 'route':
      return { kind: 'route' };
  }
}
