/**
 * The names a document refers to, read from its raw YAML value: for documents that failed their
 * schema but are still readable, so `unknown Service "catalgo"` is reported in the same run as the
 * document's structural errors instead of after they are fixed.
 */
import type { Kind } from './schema';
import type { FieldPath } from './types';

export interface Reference {
  readonly kind: Kind;
  readonly name: string;
  readonly path: FieldPath;
  /** `key`: the name is a mapping key (overrides), else a value. */
  readonly at: 'key' | 'value';
}

/** Where each kind names other documents: `*` is every list item, `{}` every mapping key. */
const REFERENCE_PATHS: Readonly<Record<Kind, readonly (readonly [Kind, readonly string[]])[]>> = {
  Service: [],
  Route: [['Service', ['spec', 'service']]],
  RateLimit: [['Route', ['spec', 'routes', '*']]],
  Access: [
    ['Route', ['spec', 'rules', '*', 'routes', '*']],
    ['Route', ['spec', 'networks', 'allow', '*', 'routes', '*']],
    ['Route', ['spec', 'networks', 'deny', '*', 'routes', '*']],
  ],
  Environment: [
    ['Service', ['spec', 'overrides', 'services', '{}']],
    ['RateLimit', ['spec', 'overrides', 'rateLimits', '{}']],
  ],
  Lockdown: [
    ['Environment', ['spec', 'environments', '*']],
    ['RateLimit', ['spec', 'actions', '*', 'rateLimit']],
    ['Route', ['spec', 'actions', '*', 'route']],
    ['Route', ['spec', 'actions', '*', 'routes', '*']],
    ['Service', ['spec', 'actions', '*', 'service']],
  ],
  // Action routes are left out: they may be placeholders ({{route}}), checked once the schema passes.
  Trigger: [
    ['Environment', ['spec', 'environments', '*']],
    ['Route', ['spec', 'routes', '*']],
    ['Environment', ['spec', 'lockdown', 'environments', '*']],
    ['RateLimit', ['spec', 'lockdown', 'actions', '*', 'rateLimit']],
    ['Service', ['spec', 'lockdown', 'actions', '*', 'service']],
  ],
};

/** Every string found at a reference path of `kind` in `value` (a document that may be malformed). */
export function rawReferences(kind: Kind, value: unknown): Reference[] {
  const out: Reference[] = [];
  for (const [target, pattern] of REFERENCE_PATHS[kind]) collect(value, pattern, [], target, out);
  return out;
}

function collect(value: unknown, pattern: readonly string[], path: FieldPath, target: Kind, out: Reference[]): void {
  const [head, ...rest] = pattern;
  if (head === undefined) {
    if (typeof value === 'string') out.push({ kind: target, name: value, path, at: 'value' });
    return;
  }
  if (head === '*') {
    if (Array.isArray(value)) value.forEach((v, i) => collect(v, rest, [...path, i], target, out));
  } else if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return;
  } else if (head === '{}') {
    for (const key of Object.keys(value)) if (key !== '__proto__') out.push({ kind: target, name: key, path: [...path, key], at: 'key' });
  } else if (Object.hasOwn(value, head)) {
    collect((value as Record<string, unknown>)[head], rest, [...path, head], target, out);
  }
}
