/**
 * `policySchemaJson()`: the JSON Schema editors use. Checked with a small validator for the keywords
 * the schema uses, against the bundled policies (all valid) and a few mistakes (all refused).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KINDS, policySchemaJson } from '../../compiler';

type Schema = Record<string, unknown>;

/** Returns the first violation, or null. Supports exactly the keywords zod emits for our schemas. */
function violation(schema: Schema, value: unknown, at = '$'): string | null {
  if ('const' in schema && value !== schema.const) return `${at}: not ${JSON.stringify(schema.const)}`;
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) return `${at}: not in enum`;
  for (const sub of (schema.allOf as Schema[] | undefined) ?? []) {
    const bad = violation(sub, value, at);
    if (bad) return bad;
  }
  if (schema.if && violation(schema.if as Schema, value, at) === null && schema.then) {
    const bad = violation(schema.then as Schema, value, at);
    if (bad) return bad;
  }
  if (Array.isArray(schema.oneOf)) {
    const matches = schema.oneOf.filter((s) => violation(s as Schema, value, at) === null).length;
    if (matches !== 1) return `${at}: matches ${matches} of oneOf`;
  }
  const type = schema.type ?? (schema.properties ? 'object' : undefined); // an `if` has properties but no type
  if (type === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${at}: not an object`;
    const record = value as Record<string, unknown>;
    for (const r of (schema.required as string[] | undefined) ?? []) if (!(r in record)) return `${at}.${r}: required`;
    const props = (schema.properties as Record<string, Schema> | undefined) ?? {};
    for (const [k, v] of Object.entries(record)) {
      const names = schema.propertyNames as Schema | undefined;
      if (names) {
        const bad = violation(names, k, `${at}[key ${k}]`);
        if (bad) return bad;
      }
      const sub = props[k] ?? (typeof schema.additionalProperties === 'object' ? (schema.additionalProperties as Schema) : undefined);
      if (!sub) {
        if (schema.additionalProperties === false) return `${at}.${k}: not allowed`;
        continue;
      }
      const bad = violation(sub, v, `${at}.${k}`);
      if (bad) return bad;
    }
  } else if (type === 'array') {
    if (!Array.isArray(value)) return `${at}: not an array`;
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) return `${at}: too few items`;
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) return `${at}: too many items`;
    for (const [i, v] of value.entries()) {
      const bad = violation(schema.items as Schema, v, `${at}[${i}]`);
      if (bad) return bad;
    }
  } else if (type === 'string') {
    if (typeof value !== 'string') return `${at}: not a string`;
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) return `${at}: does not match ${schema.pattern}`;
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) return `${at}: too short`;
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) return `${at}: too long`;
  } else if (type === 'integer' || type === 'number') {
    if (typeof value !== 'number' || (type === 'integer' && !Number.isInteger(value))) return `${at}: not an ${type}`;
    if (typeof schema.minimum === 'number' && value < schema.minimum) return `${at}: below minimum`;
    if (typeof schema.maximum === 'number' && value > schema.maximum) return `${at}: above maximum`;
  } else if (type === 'boolean') {
    if (typeof value !== 'boolean') return `${at}: not a boolean`;
  }
  return null;
}

const schema = policySchemaJson();

const branches = (schema.allOf as Schema[]).map((b) => b.then as Schema);

test('is a draft-07 schema with one if-kind-then branch per kind, serialisable as JSON', () => {
  expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
  expect((schema.properties as Record<string, Schema>).kind).toMatchObject({ enum: [...KINDS] });
  expect((schema.allOf as Schema[]).map((b) => b.if)).toEqual(KINDS.map((kind) => ({ properties: { kind: { const: kind } }, required: ['kind'] })));
  expect(branches.map((b) => ((b.properties as Record<string, Schema>).kind as Schema).const)).toEqual([...KINDS]);
  for (const b of branches) {
    expect(b.additionalProperties).toBe(false);
    expect(b.required).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
  }
  expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  expect(JSON.stringify(schema)).not.toContain('$ref');
});

test('shows defaults and descriptions for editors', () => {
  const service = branches[0] as Schema;
  const spec = (service.properties as Record<string, Schema>).spec as Schema;
  const props = spec.properties as Record<string, Schema>;
  expect(props.protocol).toEqual(expect.objectContaining({ default: 'http1', enum: ['http1', 'http2'] }));
  expect(props.endpoints?.description).toMatch(/tiers contiguous/);
});

describe('every bundled policy document validates against it', () => {
  const root = join(__dirname, '..', '..', 'policies');
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (/\.ya?ml$/.test(e.name)) files.push(join(dir, e.name));
    }
  };
  walk(root);
  const docs = files.flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d, i) => [`${f.slice(root.length + 1)}#${i}`, d.toJS()] as const));
  test.each(docs)('%s', (_name, doc) => {
    expect(violation(schema, doc)).toBeNull();
  });
});

test.each([
  ['unknown kind', { apiVersion: 'portcullis.dev/v1', kind: 'Gateway', metadata: { name: 'x' }, spec: {} }],
  ['unknown field', { apiVersion: 'portcullis.dev/v1', kind: 'RateLimit', metadata: { name: 'x' }, spec: { routes: ['a'], requests: 1, per: 'second', key: { type: 'route' }, typo: 1 } }],
  ['port out of range', { apiVersion: 'portcullis.dev/v1', kind: 'Service', metadata: { name: 'x' }, spec: { endpoints: [{ address: 'a', port: 70000 }] } }],
  ['duration as a number', { apiVersion: 'portcullis.dev/v1', kind: 'Route', metadata: { name: 'x' }, spec: { path: { prefix: '/' }, service: 's', timeout: 5 } }],
  ['bad name', { apiVersion: 'portcullis.dev/v1', kind: 'Route', metadata: { name: 'Bad_Name' }, spec: { path: { prefix: '/' }, service: 's' } }],
])('refuses %s', (_name, doc) => {
  expect(violation(schema, doc)).not.toBeNull();
});
