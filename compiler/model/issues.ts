/**
 * Turns zod issues into the policy language's messages ("required", "unknown field (did you mean
 * ...)", "must be at most 65535, got 70000"): one wording for every kind, never zod's defaults.
 */
import type { z } from 'zod';
import type { FieldPath } from './types';

/** One problem inside a document, before it is placed at a file position. */
export interface Problem {
  readonly path: FieldPath;
  readonly message: string;
  /** `key` points at the key of the field (unknown fields); `value` at its value or nearest parent. */
  readonly at: 'key' | 'value';
}

type RawIssue = z.core.$ZodRawIssue;

/** Per-parse error map: messages for issues whose schema set none of its own. */
export function policyErrorMap(issue: RawIssue): string {
  const input = issue.input;
  switch (issue.code) {
    case 'invalid_type': {
      if (input === undefined && !('received' in issue)) return 'required';
      if (issue.expected === 'int') return `must be an integer, got ${describe(input)}`;
      const got = 'received' in issue && typeof issue.received === 'string' ? issue.received : describe(input);
      return `must be ${article(String(issue.expected))}, got ${got}`;
    }
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array' || issue.origin === 'set') return min <= 1 ? 'must not be empty' : `must have at least ${min} items`;
      if (issue.origin === 'string') return min <= 1 ? 'must not be empty' : `must be at least ${min} characters long`;
      return `must be ${issue.inclusive ? 'at least' : 'greater than'} ${min}, got ${describe(input)}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'array' || issue.origin === 'set') return `must have at most ${max} items`;
      if (issue.origin === 'string') return `must be at most ${max} characters long`;
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${max}, got ${describe(input)}`;
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const expected = values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
      if (input === undefined) return `required: ${expected}`;
      const hint = typeof input === 'string' ? suggest(input, issue.values.map(String)) : '';
      return `must be ${expected}, got ${describe(input)}${hint}`;
    }
    case 'invalid_union': {
      if ('discriminator' in issue && issue.discriminator) {
        const options = (('options' in issue ? (issue.options as unknown[]) : []) ?? []).map(String);
        const got = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[issue.discriminator] : undefined;
        const list = options.map((o) => JSON.stringify(o)).join(', ');
        if (got === undefined) return `required: one of ${list}`;
        const hint = typeof got === 'string' ? suggest(got, options) : '';
        return `must be one of ${list}, got ${describe(got)}${hint}`;
      }
      return 'does not match any allowed form';
    }
    case 'invalid_format':
      return `must match ${'pattern' in issue ? String(issue.pattern) : issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${String(issue.divisor)}`;
    case 'invalid_key':
      return 'invalid key';
    default:
      return 'invalid value';
  }
}

/**
 * Maps finished issues to problems. `root` and `value` let an unknown field name the field it was
 * probably meant to be.
 */
export function toProblems(issues: readonly z.core.$ZodIssue[], root: z.ZodType, value: unknown): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    // zod's safe-integer bound duplicates our own bound on the same field: keep ours.
    const safeBound =
      (issue.code === 'too_big' && Number(issue.maximum) >= Number.MAX_SAFE_INTEGER) ||
      (issue.code === 'too_small' && Number(issue.minimum) <= Number.MIN_SAFE_INTEGER);
    if (safeBound && issues.some((o) => o !== issue && samePath(o.path, issue.path))) continue;
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(root, path, value);
      for (const key of issue.keys) out.push({ path: [...path, key], message: `unknown field${suggest(key, known)}`, at: 'key' });
    } else if (issue.code === 'invalid_key') {
      const inner = issue.issues[0]?.message ?? 'invalid key';
      out.push({ path, message: `invalid key: ${inner}`, at: 'key' });
    } else {
      out.push({ path, message: issue.message, at: 'value' });
    }
  }
  return out;
}

function samePath(a: readonly PropertyKey[], b: readonly PropertyKey[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** ` (did you mean "x"?)` when one candidate is close to the text, else ''. */
export function suggest(text: string, candidates: readonly string[]): string {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === text.toLowerCase() ? 0 : editDistance(text.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(text.length / 3)));
  return best !== null && bestDistance <= limit && best !== text ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return Infinity;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? Infinity;
}

/** Walks the schema along `path` (following the data through discriminated unions) to an object's keys. */
function knownKeys(root: z.ZodType, path: FieldPath, value: unknown): string[] {
  // zod 4 keeps the structure in `_zod.def`; the public API has no generic walker.
  type Def = { type: string; shape?: Record<string, unknown>; innerType?: unknown; in?: unknown; element?: unknown; valueType?: unknown; options?: unknown[]; discriminator?: string };
  const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;
  const unwrap = (s: unknown): unknown => {
    for (let i = 0; i < 20; i++) {
      const d = defOf(s);
      if (d.innerType) s = d.innerType;
      else if (d.type === 'pipe' && d.in) s = d.in;
      else return s;
    }
    return s;
  };
  const pick = (s: unknown, data: unknown): unknown => {
    const d = defOf(s);
    if (d.type !== 'union' || !d.discriminator || typeof data !== 'object' || data === null) return s;
    const tag = (data as Record<string, unknown>)[d.discriminator];
    return (
      d.options?.find((o) => {
        const lit = defOf(unwrap(defOf(unwrap(o)).shape?.[d.discriminator ?? ''])) as { values?: unknown[] };
        return lit.values?.includes(tag);
      }) ?? s
    );
  };
  let schema: unknown = root;
  let data: unknown = value;
  try {
    schema = pick(unwrap(schema), data);
    for (const seg of path) {
      const d = defOf(unwrap(schema));
      if (d.type === 'object') schema = d.shape?.[String(seg)];
      else if (d.type === 'array') schema = d.element;
      else if (d.type === 'record') schema = d.valueType;
      else return [];
      data = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[String(seg)] : undefined;
      if (!schema) return [];
      schema = pick(unwrap(schema), data);
    }
    const d = defOf(unwrap(schema));
    return d.type === 'object' ? Object.keys(d.shape ?? {}) : [];
  } catch {
    return [];
  }
}

/** A short description of a YAML value for messages: `string "abc"`, `number 5`, `a list`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : `${value}`;
  if (typeof value === 'boolean') return `${value}`;
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

function article(expected: string): string {
  switch (expected) {
    case 'object':
      return 'a mapping';
    case 'array':
      return 'a list';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    default:
      return expected;
  }
}
