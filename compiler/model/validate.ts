/**
 * Cross-reference validation, the second stage: loaded documents → the policy model. Checks what no
 * single document can: names unique per kind, every reference resolves, no contradictions (a network
 * both allowed and denied, a "tightening" that loosens). Every error is collected, then reported at once.
 */
import { compareDiagnostics, type Diagnostic, type Result } from '../result';
import { compareText } from '../text-order';
import { networkContains, parseCidr, type Network } from './cidr';
import { suggest } from './issues';
import { rawReferences } from './references';
import type { Declaration, LoadedFile } from './load';
import { UNIT_SECONDS, type EndpointSpec, type Kind, type RateUnit } from './schema';
import {
  formatPath,
  subjectOf,
  type AccessDocument,
  type AnyPolicyDocument,
  type DocSource,
  type EnvironmentDocument,
  type FieldPath,
  type LockdownDocument,
  type PolicyDocument,
  type PolicyModel,
  type RateLimitDocument,
  type ServiceDocument,
} from './types';
import { checkLockdownAction, formatEndpoint, type LockdownChecks } from './lockdown-actions';
import { checkTriggers, type TriggerChecks } from './validate-trigger';
import { locate, parseYamlFile, type Position, type YamlFile } from './yaml-source';

/** Places a field of a document in its file (parses the file's YAML lazily, on the error path only). */
export interface Locator {
  locate(source: DocSource, path: FieldPath, at?: 'key' | 'value'): Position;
}

export function createLocator(texts: ReadonlyMap<string, string>): Locator {
  const parsed = new Map<string, YamlFile>();
  return {
    locate(source, path, at = 'value') {
      let yaml = parsed.get(source.file);
      if (!yaml) {
        yaml = parseYamlFile(source.file, texts.get(source.file) ?? '');
        parsed.set(source.file, yaml);
      }
      return locate(yaml, source.index, path, at);
    },
  };
}

interface Subject {
  readonly kind: Kind;
  readonly name: string;
  readonly source: DocSource;
}

/** Validates the loaded files together; load errors and cross-reference errors come back sorted, together. */
export function validateModel(files: readonly LoadedFile[], locator: Locator): Result<PolicyModel> {
  const v = new Validator(locator);
  return v.run(files);
}

class Validator {
  private readonly errors: Diagnostic[] = [];
  private readonly byKind = new Map<Kind, Map<string, AnyPolicyDocument>>();
  private readonly invalid = new Set<string>();
  /** A file had a document we could not read: "unknown name" and "nothing defines X" would be guesses. */
  private absencesUnknown = false;

  constructor(private readonly locator: Locator) {}

  run(files: readonly LoadedFile[]): Result<PolicyModel> {
    // Files by path, documents in file order: everything below sees documents in source order.
    const ordered = [...files].sort((a, b) => compareText(a.path, b.path));
    const loadErrors = ordered.flatMap((f) => f.errors);
    const docs = ordered.flatMap((f) => f.documents);
    const invalid = ordered.flatMap((f) => f.invalid);
    this.absencesUnknown = ordered.some((f) => f.unreadable);
    this.indexNames(docs, invalid);

    const services = this.docsOf('Service');
    const routes = this.docsOf('Route');
    const rateLimits = this.docsOf('RateLimit');
    const accesses = this.docsOf('Access');
    const environments = this.docsOf('Environment');
    const lockdowns = this.docsOf('Lockdown');
    const triggers = this.docsOf('Trigger');

    for (const s of services) this.checkEndpoints(s, s.spec.endpoints, ['spec', 'endpoints']);
    this.checkRoutes(docs.filter((d): d is PolicyDocument<'Route'> => d.kind === 'Route' && this.byKind.get('Route')?.get(d.name) === d));
    for (const l of rateLimits) this.checkRefList(l, 'Route', l.spec.routes, ['spec', 'routes']);
    for (const l of rateLimits) this.checkRateLimitScope(l, environments);
    this.checkAccess(accesses, routes.length);
    this.checkEnvironments(environments);
    this.checkLockdowns(lockdowns, accesses);
    checkTriggers(triggers, this.triggerChecks(accesses, environments));
    for (const d of invalid) this.checkRawReferences(d);

    const all = [...loadErrors, ...this.errors].sort(compareDiagnostics);
    if (all.length > 0) return { ok: false, errors: all };
    return { ok: true, value: { services, routes, rateLimits, accesses, environments, lockdowns, triggers } };
  }

  // -------------------------------------------------------------------------------------------
  // names and references

  /** First definition wins (by file, then position); later ones are errors naming the first. */
  /** `docs` and `invalid` are in source order. First definition wins; later ones are errors naming the first. */
  private indexNames(docs: readonly AnyPolicyDocument[], invalid: readonly Declaration[]): void {
    const invalidFirst = new Map<string, Declaration>();
    for (const d of invalid) {
      this.invalid.add(subjectOf(d));
      if (!invalidFirst.has(subjectOf(d))) invalidFirst.set(subjectOf(d), d);
    }
    const duplicate = (later: Subject, first: Subject) => {
      const at = this.locator.locate(first.source, ['metadata', 'name']);
      this.report(later, ['metadata', 'name'], `duplicate ${later.kind} name "${later.name}": also defined at ${first.source.file}:${at.line}:${at.column}`);
    };
    for (const doc of docs) {
      let map = this.byKind.get(doc.kind);
      if (!map) this.byKind.set(doc.kind, (map = new Map()));
      const first = map.get(doc.name) ?? (invalid.length ? invalidFirst.get(subjectOf(doc)) : undefined);
      if (first && compareSource(first.source, doc.source) < 0) {
        duplicate(doc, first);
        continue;
      }
      map.set(doc.name, doc);
    }
    // An invalid document defined after another of the same name is a duplicate too.
    for (const d of invalid) {
      const valid = this.byKind.get(d.kind)?.get(d.name);
      const candidates: (Subject | undefined)[] = [valid, invalidFirst.get(subjectOf(d))];
      const first = candidates.filter((x): x is Subject => x !== undefined).sort((a, b) => compareSource(a.source, b.source))[0];
      if (first && first !== d && compareSource(first.source, d.source) < 0) duplicate(d, first);
    }
  }

  private docsOf<K extends Kind>(kind: K): PolicyDocument<K>[] {
    const map = this.byKind.get(kind);
    if (!map) return [];
    // The default sort compares strings by UTF-16 code units, like compareText, without a JS callback.
    return [...map.keys()].sort().map((n) => map.get(n)) as unknown as PolicyDocument<K>[];
  }

  private find<K extends Kind>(kind: K, name: string): PolicyDocument<K> | undefined {
    return this.byKind.get(kind)?.get(name) as PolicyDocument<K> | undefined;
  }

  /** True when `name` is a known document of `kind`; reports an unknown one (unless it exists but is invalid). */
  private checkRef(from: Subject, kind: Kind, name: string, path: FieldPath, at: 'key' | 'value' = 'value'): boolean {
    if (this.byKind.get(kind)?.has(name)) return true;
    if (!this.invalid.has(`${kind}/${name}`) && !this.absencesUnknown) {
      this.report(from, path, `unknown ${kind} "${name}"${suggest(name, [...(this.byKind.get(kind)?.keys() ?? [])])}`, at);
    }
    return false;
  }

  /** References of a document that failed its schema but is readable: reported with its structural errors. */
  private checkRawReferences(d: Declaration): void {
    for (const r of rawReferences(d.kind, d.value)) this.checkRef(d, r.kind, r.name, r.path, r.at);
  }

  private checkRefList(from: Subject, kind: Kind, names: readonly string[], path: FieldPath): void {
    const known = this.byKind.get(kind);
    const seen = new Set<string>();
    for (let i = 0; i < names.length; i++) {
      const n = names[i] as string;
      if (seen.has(n)) this.report(from, [...path, i], `"${n}" is listed twice`);
      seen.add(n);
      if (!known?.has(n)) this.checkRef(from, kind, n, [...path, i]); // paths only built on the error path
    }
  }

  // -------------------------------------------------------------------------------------------
  // per kind

  private checkEndpoints(from: Subject, endpoints: readonly EndpointSpec[], path: FieldPath): void {
    const seen = new Map<string, number>();
    endpoints.forEach((e, i) => {
      const key = `${e.address}:${e.port}`;
      const first = seen.get(key);
      if (first !== undefined) this.report(from, [...path, i], `duplicate endpoint ${formatEndpoint(e)} (also ${formatPath([...path, first]).replace(/^spec\./, '')})`);
      else seen.set(key, i);
    });
    const tiers = [...new Set(endpoints.map((e) => e.tier))].sort((a, b) => a - b);
    const missing = tiers.length ? range(tiers[tiers.length - 1] ?? 0).filter((t) => !tiers.includes(t)) : [];
    if (missing.length) {
      this.report(from, path, `tiers must be contiguous from 0: found ${tiers.join(', ')}, missing ${missing.join(', ')}`);
    }
  }

  /** `routes` in source order, so the second of two identical routes is the one reported. */
  private checkRoutes(routes: readonly PolicyDocument<'Route'>[]): void {
    const byMatch = new Map<string, PolicyDocument<'Route'>>();
    for (const r of routes) {
      this.checkRef(r, 'Service', r.spec.service, ['spec', 'service']);
      const key = matchKey(r);
      const first = byMatch.get(key);
      if (first) this.report(r, ['spec', 'path'], `same host, path, methods and headers as Route/${first.name}: the second route could never match`);
      else byMatch.set(key, r);
    }
  }

  private checkAccess(accesses: readonly AccessDocument[], routeCount: number): void {
    const providers = new Map<string, AccessDocument>();
    const publicBy = new Map<string, { doc: AccessDocument; index: number }>();
    const tokenBy = new Map<string, { doc: AccessDocument; index: number }>();
    const tokenRules: { doc: AccessDocument; index: number }[] = [];
    interface NetEntry {
      readonly doc: AccessDocument;
      readonly path: FieldPath;
      readonly network: Network;
      readonly routes: ReadonlySet<string> | null;
    }
    const allows: NetEntry[] = [];
    const denies: NetEntry[] = [];
    for (const a of accesses) {
      a.spec.providers.forEach((p, i) => {
        const first = providers.get(p.name);
        if (first) this.report(a, ['spec', 'providers', i, 'name'], `duplicate JWT provider "${p.name}" (also in Access/${first.name})`);
        else providers.set(p.name, a);
      });
      a.spec.rules.forEach((rule, i) => {
        this.checkRefList(a, 'Route', rule.routes, ['spec', 'rules', i, 'routes']);
        if (rule.public !== true) tokenRules.push({ doc: a, index: i });
        for (const route of rule.routes) {
          const map = rule.public === true ? publicBy : tokenBy;
          if (!map.has(route)) map.set(route, { doc: a, index: i });
        }
      });
      for (const side of ['allow', 'deny'] as const) {
        a.spec.networks[side].forEach((n, i) => {
          const path = ['spec', 'networks', side, i];
          if (n.routes) this.checkRefList(a, 'Route', n.routes, [...path, 'routes']);
          const parsed = parseCidr(n.cidr);
          if (parsed.ok) (side === 'allow' ? allows : denies).push({ doc: a, path, network: parsed.network, routes: n.routes ? new Set(n.routes) : null });
        });
      }
    }
    if (providers.size === 0 && !this.absencesUnknown && ![...this.invalid].some((s) => s.startsWith('Access/'))) {
      // A rule that needs a token, and nothing to check tokens against.
      for (const at of tokenRules) {
        this.report(at.doc, ['spec', 'rules', at.index], 'this rule requires a JWT, but no Access document defines a provider');
      }
    }
    for (const [route, pub] of publicBy) {
      const tok = tokenBy.get(route);
      if (tok) {
        this.report(pub.doc, ['spec', 'rules', pub.index, 'public'],
          `Route/${route} is public here but requires a token in ${subjectOf(tok.doc)} spec.rules[${tok.index}]: a route is either public or not`);
      }
    }
    for (const allow of allows) {
      for (const deny of denies) {
        if (!networkContains(deny.network, allow.network)) continue;
        const shared = sharedRoute(allow.routes, deny.routes, routeCount);
        if (shared === null) continue;
        this.report(allow.doc, [...allow.path, 'cidr'],
          `${allow.network.cidr} is both allowed and denied${shared ? ` on Route/${shared}` : ''} (denied by ${subjectOf(deny.doc)} ${formatPath(deny.path)}: ${deny.network.cidr})`);
      }
    }
  }

  /** A fleet limit needs every environment's rate-limit service; onServiceFailure means nothing locally. */
  private checkRateLimitScope(limit: RateLimitDocument, environments: readonly EnvironmentDocument[]): void {
    if (limit.spec.scope === 'instance') {
      if (limit.spec.onServiceFailure !== undefined) this.report(limit, ['spec', 'onServiceFailure'], 'only applies with scope: fleet (an instance limit needs no service)');
      return;
    }
    const without = environments.filter((e) => e.spec.rateLimitService === undefined).map((e) => `Environment/${e.name}`);
    if (without.length > 0) {
      this.report(limit, ['spec', 'scope'], `fleet limits need a rate-limit service, and ${without.join(', ')} sets no spec.rateLimitService (docs/kinds/rate-limit.md)`);
    }
  }

  private checkEnvironments(environments: readonly EnvironmentDocument[]): void {
    const fleets = new Map<string, EnvironmentDocument>();
    for (const env of environments) {
      env.spec.fleets.forEach((fleet, i) => {
        const first = fleets.get(fleet);
        if (first === env) this.report(env, ['spec', 'fleets', i], `fleet "${fleet}" is listed twice`);
        else if (first) this.report(env, ['spec', 'fleets', i], `fleet "${fleet}" is already in Environment/${first.name}: a fleet belongs to one environment`);
        else fleets.set(fleet, env);
      });
      for (const [service, o] of Object.entries(env.spec.overrides.services)) {
        const path = ['spec', 'overrides', 'services', service];
        if (this.checkRef(env, 'Service', service, path, 'key')) this.checkEndpoints(env, o.endpoints, [...path, 'endpoints']);
      }
      for (const limit of Object.keys(env.spec.overrides.rateLimits)) {
        this.checkRef(env, 'RateLimit', limit, ['spec', 'overrides', 'rateLimits', limit], 'key');
      }
    }
  }

  private checkLockdowns(lockdowns: readonly LockdownDocument[], accesses: readonly AccessDocument[]): void {
    const hasProviders = accesses.some((a) => a.spec.providers.length > 0);
    const roleClaims: { doc: LockdownDocument; index: number; route: string; envs: readonly string[] }[] = [];
    const checks: LockdownChecks = {
      report: (from, path, message) => this.report(from, path, message),
      checkRef: (from, kind, name, path) => this.checkRef(from, kind, name, path),
      checkRefList: (from, kind, names, path) => this.checkRefList(from, kind, names, path),
      find: (kind, name) => this.find(kind, name),
      checkTightens: (from, path, a, limit, env) => this.checkTightens(from, path, a, limit, env),
      endpointsOf: effectiveEndpoints,
      hasProviders: () => hasProviders || this.absencesUnknown || [...this.invalid].some((s) => s.startsWith('Access/')),
      claimRoles: (doc, index, route) => roleClaims.push({ doc, index, route, envs: doc.spec.environments }),
    };
    for (const l of lockdowns) {
      const s = l.spec;
      if (Date.parse(s.expiresAt) <= Date.parse(s.createdAt)) {
        this.report(l, ['spec', 'expiresAt'], `must be after createdAt (${s.createdAt})`);
      }
      this.checkRefList(l, 'Environment', s.environments, ['spec', 'environments']);
      const envs = s.environments.map((e) => this.find('Environment', e)).filter((e): e is EnvironmentDocument => e !== undefined);
      s.actions.forEach((a, index) => checkLockdownAction(a, { lockdown: l, index, path: ['spec', 'actions', index], envs }, checks));
    }
    // Two role requirements on one route at the same time cannot both be honoured by "any rule
    // matches": refuse, and ask for one lockdown that says what is meant.
    for (let i = 0; i < roleClaims.length; i++) {
      for (let j = 0; j < i; j++) {
        const a = roleClaims[j];
        const b = roleClaims[i];
        if (!a || !b || a.route !== b.route) continue;
        const env = b.envs.find((e) => a.envs.includes(e));
        if (!env || !overlaps(a.doc, b.doc)) continue;
        const other = a.doc === b.doc ? `spec.actions[${a.index}]` : `Lockdown/${a.doc.name}`;
        this.report(b.doc, ['spec', 'actions', b.index, 'routes'],
          `Route/${b.route} already requires roles from ${other} in Environment/${env} at overlapping times: merge them into one requireRole`);
      }
    }
  }

  /** What validate-trigger.ts needs of this validator. */
  private triggerChecks(accesses: readonly AccessDocument[], environments: readonly EnvironmentDocument[]): TriggerChecks {
    const providers = accesses.some((a) => a.spec.providers.length > 0) || this.absencesUnknown || [...this.invalid].some((s) => s.startsWith('Access/'));
    return {
      report: (from, path, message) => this.report(from, path, message),
      checkRef: (from, kind, name, path) => this.checkRef(from, kind, name, path),
      checkRefList: (from, kind, names, path) => this.checkRefList(from, kind, names, path),
      find: (kind, name) => this.find(kind, name),
      environments: () => environments,
      hasProviders: () => providers,
      checkTightens: (from, path, a, limit, env) => this.checkTightens(from, path, a, limit, env),
      endpointsOf: effectiveEndpoints,
    };
  }

  private checkTightens(
    l: Subject,
    path: FieldPath,
    a: { requests: number; per?: RateUnit | undefined },
    limit: RateLimitDocument,
    env: EnvironmentDocument,
  ): void {
    const o = env.spec.overrides.rateLimits[limit.name];
    const oldRequests = o?.requests ?? limit.spec.requests;
    const oldPer = o?.per ?? limit.spec.per;
    const newPer = a.per ?? oldPer;
    // Compare requests/second exactly: new/newUnit vs old/oldUnit, cross-multiplied.
    const lhs = a.requests * UNIT_SECONDS[oldPer];
    const rhs = oldRequests * UNIT_SECONDS[newPer];
    const looser = lhs > rhs || (lhs === rhs && limit.spec.mode === 'enforce');
    if (looser) {
      this.report(l, [...path, 'requests'],
        `does not tighten RateLimit/${limit.name} in Environment/${env.name}: ${a.requests}/${newPer} is not below ${oldRequests}/${oldPer}`);
    }
  }

  private report(from: Subject, path: FieldPath, message: string, where: 'key' | 'value' = 'value'): void {
    const at = this.locator.locate(from.source, path, where);
    this.errors.push({ file: from.source.file, line: at.line, column: at.column, subject: `${from.kind}/${from.name}`, path: formatPath(path), message });
  }
}

const matchKeys = new WeakMap<PolicyDocument<'Route'>, string>();

/** What a route matches (host, path, methods, headers) as one string; memoised per (immutable) document. */
function matchKey(r: PolicyDocument<'Route'>): string {
  let key = matchKeys.get(r);
  if (key === undefined) {
    const s = r.spec;
    const p = s.path.exact !== undefined ? `exact:${s.path.exact}` : s.path.prefix !== undefined ? `prefix:${s.path.prefix}` : `regex:${s.path.regex}`;
    const headers = s.headers.length ? s.headers.map((h) => JSON.stringify([h.name, h.exact, h.prefix, h.regex, h.present, h.invert])).sort().join('\u0000') : '';
    const methods = s.methods ? [...new Set(s.methods)].sort().join(',') : '';
    key = `${s.host}\u0000${p}\u0000${methods}\u0000${headers}`;
    matchKeys.set(r, key);
  }
  return key;
}

/** The endpoints a service has in an environment (the override replaces the list). */
export function effectiveEndpoints(service: ServiceDocument, env: EnvironmentDocument): readonly EndpointSpec[] {
  return env.spec.overrides.services[service.name]?.endpoints ?? service.spec.endpoints;
}

function overlaps(a: LockdownDocument, b: LockdownDocument): boolean {
  return Date.parse(a.spec.createdAt) < Date.parse(b.spec.expiresAt) && Date.parse(b.spec.createdAt) < Date.parse(a.spec.expiresAt);
}

/** A route both sets select ('' when both select every route), or null when they are disjoint. */
function sharedRoute(a: ReadonlySet<string> | null, b: ReadonlySet<string> | null, routeCount: number): string | null {
  if (a === null && b === null) return routeCount > 0 ? '' : null;
  if (a === null) return [...(b ?? [])].sort()[0] ?? null;
  if (b === null) return [...a].sort()[0] ?? null;
  return [...a].filter((r) => b.has(r)).sort()[0] ?? null;
}

function compareSource(a: DocSource, b: DocSource): number {
  return compareText(a.file, b.file) || a.index - b.index;
}

function range(maxInclusive: number): number[] {
  return Array.from({ length: maxInclusive + 1 }, (_, i) => i);
}
