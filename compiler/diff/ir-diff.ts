/**
 * Structural diff of two environments' IR for `portcullis plan`: the changes as paths keyed by
 * domain names (`routes[orders-list].timeoutMs`), not array indexes; policy-changes.ts groups them
 * in the policy's terms, and the plan folds them as details. Pure: IR in, changes out.
 */
import type { EnvironmentIR } from '../ir/ir';

export interface IrChange {
  readonly op: 'add' | 'remove' | 'change';
  /** Dotted path inside the environment, e.g. `routes[orders-list].rateLimits[login-per-ip].requests`. */
  readonly path: string;
  readonly before?: unknown;
  readonly after?: unknown;
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

/** Environment fields worth showing; `name` is the heading already. */
export function comparable(env: EnvironmentIR): Json {
  const { name: _name, ...rest } = env;
  return rest;
}
