/**
 * Cross-reference validation of `Trigger` documents (part of the second stage, validate.ts): every
 * name resolves, every placeholder is one the trigger's key can fill, every proposed action can apply.
 */
import type { Kind, RateUnit, TriggerActionTemplate } from './schema';
import { PLACEHOLDER_PATTERN, PLACEHOLDERS, type Placeholder } from './trigger-schema';
import type { EnvironmentDocument, FieldPath, PolicyDocument, RateLimitDocument, ServiceDocument, TriggerDocument } from './types';

/** What the validator lends this module (its reporting and name index). */
export interface TriggerChecks {
  report(from: TriggerDocument, path: FieldPath, message: string): void;
  checkRef(from: TriggerDocument, kind: Kind, name: string, path: FieldPath): boolean;
  checkRefList(from: TriggerDocument, kind: Kind, names: readonly string[], path: FieldPath): void;
  find<K extends Kind>(kind: K, name: string): PolicyDocument<K> | undefined;
  environments(): readonly EnvironmentDocument[];
  /** False when no Access document defines a JWT provider (and none is unreadable). */
  hasProviders(): boolean;
  /** The validator's "does not tighten" check, shared with Lockdown. */
  checkTightens(from: TriggerDocument, path: FieldPath, a: { requests: number; per?: RateUnit | undefined }, limit: RateLimitDocument, env: EnvironmentDocument): void;
  endpointsOf(service: ServiceDocument, env: EnvironmentDocument): readonly { readonly address: string; readonly port: number; readonly tier: number }[];
}

export function checkTriggers(triggers: readonly TriggerDocument[], c: TriggerChecks): void {
  for (const t of triggers) checkTrigger(t, c);
}

function checkTrigger(t: TriggerDocument, c: TriggerChecks): void {
  const s = t.spec;
  if (s.environments) c.checkRefList(t, 'Environment', s.environments, ['spec', 'environments']);
  if (s.routes) c.checkRefList(t, 'Route', s.routes, ['spec', 'routes']);
  if (s.lockdown.environments) c.checkRefList(t, 'Environment', s.lockdown.environments, ['spec', 'lockdown', 'environments']);
  if (s.condition.share && s.key === 'none') {
    c.report(t, ['spec', 'condition', 'share'], 'share is the part of the traffic from one key: set key (clientNetwork, clientIp, tokenSubject or tokenId)');
  }
  if ((s.key === 'tokenSubject' || s.key === 'tokenId') && !c.hasProviders()) {
    c.report(t, ['spec', 'key'], `key ${s.key} needs verified tokens, but no Access document defines a JWT provider`);
  }
  if (s.lockdown.reason) checkPlaceholders(t, s.lockdown.reason, ['spec', 'lockdown', 'reason'], false, c);
  const envNames = s.lockdown.environments ?? s.environments ?? c.environments().map((e) => e.name);
  const envs = envNames.map((e) => c.find('Environment', e)).filter((e): e is EnvironmentDocument => e !== undefined);
  s.lockdown.actions.forEach((a, i) => {
    const path = ['spec', 'lockdown', 'actions', i];
    walkStrings(a, path, (text, at) => checkPlaceholders(t, text, at, true, c));
    checkAction(t, a, path, envs, c);
  });
}

/** `{{network}}` needs key clientNetwork, ...; `{{route}}` in an action needs exactly one watched route. */
function checkPlaceholders(t: TriggerDocument, text: string, path: FieldPath, inAction: boolean, c: TriggerChecks): void {
  for (const m of text.matchAll(PLACEHOLDER_PATTERN)) {
    const p = m[1] as Placeholder;
    const needs = PLACEHOLDERS[p];
    if (needs === undefined) continue; // the schema reported it
    if (needs !== null && needs !== t.spec.key) {
      c.report(t, path, `{{${p}}} needs key: ${needs} (this trigger's key is ${t.spec.key})`);
    } else if (p === 'route' && inAction && t.spec.routes?.length !== 1) {
      c.report(t, path, '{{route}} in an action needs exactly one route in spec.routes (which route fired is not known otherwise)');
    }
  }
}

function walkStrings(value: unknown, path: FieldPath, visit: (text: string, path: FieldPath) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, [...path, i], visit));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) walkStrings(v, [...path, k], visit);
}

const isPlaceholder = (s: string): boolean => s.startsWith('{{');

function checkAction(t: TriggerDocument, a: TriggerActionTemplate, path: FieldPath, envs: readonly EnvironmentDocument[], c: TriggerChecks): void {
  const routeRefs = (routes: readonly string[] | undefined, at: FieldPath) =>
    routes?.forEach((r, j) => {
      if (!isPlaceholder(r)) c.checkRef(t, 'Route', r, [...at, j]);
    });
  switch (a.type) {
    case 'tightenRateLimit': {
      const limit = c.checkRef(t, 'RateLimit', a.rateLimit, [...path, 'rateLimit']) ? c.find('RateLimit', a.rateLimit) : undefined;
      if (limit) for (const env of envs) c.checkTightens(t, path, a, limit, env);
      break;
    }
    case 'blockNetworks':
      routeRefs(a.routes, [...path, 'routes']);
      break;
    case 'revokeTokens':
      if (!c.hasProviders()) c.report(t, [...path, 'type'], 'revokeTokens needs a JWT provider, but no Access document defines one');
      break;
    case 'disableRoute':
      if (!isPlaceholder(a.route)) c.checkRef(t, 'Route', a.route, [...path, 'route']);
      break;
    case 'requireRole':
      routeRefs(a.routes, [...path, 'routes']);
      if (!c.hasProviders()) c.report(t, [...path, 'type'], 'requireRole needs a JWT provider, but no Access document defines one');
      break;
    case 'quarantineEndpoint':
    case 'forceFailover': {
      const service = c.checkRef(t, 'Service', a.service, [...path, 'service']) ? c.find('Service', a.service) : undefined;
      if (!service) break;
      for (const env of envs) {
        const endpoints = c.endpointsOf(service, env);
        if (a.type === 'quarantineEndpoint' && !endpoints.some((e) => e.address === a.address && e.port === a.port)) {
          c.report(t, [...path, 'address'], `Service/${a.service} has no endpoint ${a.address}:${a.port} in Environment/${env.name}`);
        }
        if (a.type === 'forceFailover' && !endpoints.some((e) => e.tier === a.tier)) {
          c.report(t, [...path, 'tier'], `Service/${a.service} has no tier ${a.tier} in Environment/${env.name}`);
        }
      }
      break;
    }
  }
}
