/**
 * The JSON Schema as editors and CI validators use it: shipped as schema/policy.schema.json (kept
 * equal to the generator), referenced by a modeline in every bundled policy file, and precise under
 * a real validator (ajv): one mistake gives a few errors naming the field, not one per kind.
 */
import Ajv, { type ErrorObject } from 'ajv';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { policySchemaJson } from '../../compiler';

const REPO = resolve(__dirname, '..', '..');
const SCHEMA_FILE = join(REPO, 'schema', 'policy.schema.json');
const POLICIES = join(REPO, 'policies');
const REGENERATE = 'npm run build && node bin/portcullis.js schema --out schema/policy.schema.json';

function policyFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? policyFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : []))
    .sort();
}

test('schema/policy.schema.json is what `portcullis schema` generates', () => {
  const shipped = readFileSync(SCHEMA_FILE, 'utf8');
  const generated = JSON.stringify(policySchemaJson(), null, 2) + '\n';
  if (shipped !== generated) throw new Error(`schema/policy.schema.json is out of date with compiler/model/schema.ts; regenerate it: ${REGENERATE}`);
});

describe('every bundled policy file names the schema in a yaml-language-server modeline', () => {
  test.each(policyFiles(POLICIES).map((f) => [relative(REPO, f), f]))('%s', (_name, file) => {
    const first = readFileSync(file, 'utf8').split('\n')[0] ?? '';
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    expect(m).not.toBeNull();
    expect(resolve(dirname(file), m?.[1] ?? '')).toBe(SCHEMA_FILE);
  });
});

describe('under ajv (all errors, as editors and CI validators run it)', () => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);
  const errorsOf = (doc: unknown): ErrorObject[] => (validate(doc) ? [] : [...(validate.errors ?? [])]);
  const docs = policyFiles(POLICIES).flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d, i) => [`${relative(REPO, f)}#${i}`, d.toJS()] as const));

  test.each(docs)('accepts %s', (_name, doc) => {
    expect(errorsOf(doc)).toEqual([]);
  });

  const doc = (kind: string, spec: object, name = 'x') => ({ apiVersion: 'portcullis.dev/v1', kind, metadata: { name }, spec });
  const rateLimit = { routes: ['a'], requests: 1, per: 'second', key: { type: 'route' } };
  test.each([
    ['a typo in a field name', doc('RateLimit', { ...rateLimit, requets: 1 }), '/spec', 'requets'],
    ['a port out of range', doc('Service', { endpoints: [{ address: 'a', port: 70000 }] }), '/spec/endpoints/0/port', undefined],
    ['a duration as a number', doc('Route', { path: { prefix: '/' }, service: 's', timeout: 5 }), '/spec/timeout', undefined],
    ['a bad name', doc('Route', { path: { prefix: '/' }, service: 's' }, 'Bad_Name'), '/metadata/name', undefined],
    ['a wrong enum value', doc('RateLimit', { ...rateLimit, per: 'day' }), '/spec/per', undefined],
    ['an unknown kind', doc('Gateway', {}), '/kind', undefined],
    ['a wrong apiVersion', { ...doc('Access', {}), apiVersion: 'v1' }, '/apiVersion', undefined],
  ])('%s gives at most 3 errors, one naming the field', (_case, bad, path, property) => {
    const errors = errorsOf(bad);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeLessThanOrEqual(3);
    expect(errors).toContainEqual(expect.objectContaining({ instancePath: path, ...(property ? { params: { additionalProperty: property } } : {}) }));
  });
});
