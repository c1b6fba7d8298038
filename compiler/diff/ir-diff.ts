/**
 * Structural diff of two IRs for `portcullis plan`: what changes in each environment, as short
 * human lines keyed by domain names (`routes[orders-list].timeoutMs`), not array indexes.
 * Pure: IR in, changes out.
 */
import type { EnvironmentIR, PolicyIR } from '../ir/ir';

export interface IrChange {
  readonly op: 'add' | 'remove' | 'change';
  /** Dotted path inside the environment, e.g. `routes[orders-list].rateLimits[login-per-ip].requests`. */
  readonly path: string;
  readonly before?: unknown;
  readonly after?: unknown;
}

export interface EnvironmentDiff {
  readonly environment: string;
  /** `added`/`removed` when the whole environment appears or disappears. */
  readonly status: 'added' | 'removed' | 'changed' | 'unchanged';
  readonly fleets: readonly string[];
  readonly changes: readonly IrChange[];
}

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The identity of an element in a keyed IR list (services, routes, endpoints, CIDRs, ...). */
function elementKey(v: Json): string | null {
  if (!isObject(v)) return null;
  if (typeof v.name === 'string') return v.name;
  if (typeof v.cidr === 'string') return v.cidr;
  if (typeof v.address === 'string' && typeof v.port === 'number') return `${v.address}:${v.port}`;
  if (typeof v.provenance === 'string') return v.provenance;
  return null;
}

/** Appends the changes from `before` to `after` under `path` (keyed lists by element identity). */
export function diffValue(before: Json, after: Json, path: string, out: IrChange[]): void {
  if (JSON.stringify(before) === JSON.stringify(after)) return;
  if (Array.isArray(before) && Array.isArray(after)) return diffArray(before, after, path, out);
  if (isObject(before) && isObject(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const k of [...keys].sort()) diffValue(before[k], after[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (before === undefined) out.push({ op: 'add', path, after });
  else if (after === undefined) out.push({ op: 'remove', path, before });
  else out.push({ op: 'change', path, before, after });
}

function diffArray(before: readonly Json[], after: readonly Json[], path: string, out: IrChange[]): void {
  const keyed = [...before, ...after].every((v) => elementKey(v) !== null);
  if (!keyed) {
    // Lists of scalars (methods, roles, CIDR strings) read best as set changes.
    const b = new Set(before.map((v) => JSON.stringify(v)));
    const a = new Set(after.map((v) => JSON.stringify(v)));
    const allScalar = [...before, ...after].every((v) => !isObject(v) && !Array.isArray(v));
    if (!allScalar) return void out.push({ op: 'change', path, before, after });
    for (const v of b) if (!a.has(v)) out.push({ op: 'remove', path, before: JSON.parse(v) });
    for (const v of a) if (!b.has(v)) out.push({ op: 'add', path, after: JSON.parse(v) });
    return;
  }
  const b = new Map(before.map((v) => [elementKey(v)!, v]));
  const a = new Map(after.map((v) => [elementKey(v)!, v]));
  for (const [k, v] of b) if (!a.has(k)) out.push({ op: 'remove', path: `${path}[${k}]`, before: v });
  for (const [k, v] of a) {
    const old = b.get(k);
    if (old === undefined) out.push({ op: 'add', path: `${path}[${k}]`, after: v });
    else diffValue(old, v, `${path}[${k}]`, out);
  }
}

/** Changes per environment between two compiled revisions; `before` null = everything is new. */
export function diffPolicies(before: PolicyIR | null, after: PolicyIR): EnvironmentDiff[] {
  const old = new Map((before?.environments ?? []).map((e) => [e.name, e]));
  const cur = new Map(after.environments.map((e) => [e.name, e]));
  const names = [...new Set([...old.keys(), ...cur.keys()])].sort();
  return names.map((name) => {
    const b = old.get(name);
    const a = cur.get(name);
    if (!b) return { environment: name, status: 'added', fleets: a!.fleets, changes: [] };
    if (!a) return { environment: name, status: 'removed', fleets: b.fleets, changes: [] };
    const changes: IrChange[] = [];
    diffValue(comparable(b), comparable(a), '', changes);
    return { environment: name, status: changes.length ? 'changed' : 'unchanged', fleets: a.fleets, changes };
  });
}

/** Environment fields worth showing; `name` is the heading already. */
export function comparable(env: EnvironmentIR): Json {
  const { name: _name, ...rest } = env;
  return rest;
}
