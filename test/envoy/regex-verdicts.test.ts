/**
 * Grounds the RE2 table of test/compiler/re2.test.ts in the real Envoy: a sample of its patterns, each
 * in the rendered bootstrap of a one-route policy, through `envoy --mode validate`. What our check
 * accepts Envoy must accept; what it refuses Envoy must refuse (for program sizes, with the same size).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSources } from '../../compiler';
import { staticBootstrap, translateEnvironment } from '../../compiler/envoy';
import { checkRe2, compileRe2 } from '../../compiler/model/re2';
import { ACCEPTED, REFUSED } from '../compiler/re2-table';
import { validateAll, type ValidateResult } from './envoy-validate';

const PLACEHOLDER = '^/placeholder/[0-9]+$';
const POLICY = `apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: items }
spec: { endpoints: [{ address: 127.0.0.1, port: 9 }] }
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: items }
spec: { path: { regex: "${PLACEHOLDER}" }, service: items }
---
apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: prod }
spec: { fleets: [edge] }
`;

const SAMPLE = [
  '^/(?i)abc', '^/(?s).x', '^/(?<tenant>[a-z]+)/items$', '^/(?U)a*', 'a(?i:B)(?-i)c', '^/[a-z]{96}$', '^/.{48}$', '\\p{Greek}', '\\pL',
  '\\u00e9', '\\Z', '\\cA', '\\N{U+0041}', '\\p{Script=Greek}', '^/[a-z]{97}$', '^/.{49}$', '^/.{90}$', '\\x{100}', '(((a{10}){10}){10})',
];

/**
 * The bootstrap of POLICY with the route's regex replaced by `pattern` (our check would refuse half of
 * these); with `errorLevel`, Envoy's `re2.max_program_size.error_level` is set so that it reports the size.
 */
function bootstrapWith(pattern: string, errorLevel?: number): string {
  const compiled = compileSources([{ path: 'policy.yaml', text: POLICY }], new Date('2026-11-20T11:00:00Z'));
  if (!compiled.ok) throw new Error(compiled.errors.map((e) => e.message).join('\n'));
  const env = compiled.value.environments[0];
  if (!env) throw new Error('no environment');
  const rendered = staticBootstrap(translateEnvironment(env, 'edge'), { adminPort: 0 });
  const runtime = { layers: [{ name: 'static', static_layer: { 're2.max_program_size.error_level': errorLevel } }] };
  const text = JSON.stringify(errorLevel === undefined ? rendered : { ...rendered, layered_runtime: runtime });
  const quoted = JSON.stringify(PLACEHOLDER);
  if (!text.includes(quoted)) throw new Error('placeholder regex not in the bootstrap');
  return text.split(quoted).join(JSON.stringify(pattern));
}

const work = mkdtempSync(join(tmpdir(), 'portcullis-regex-verdicts-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const files = SAMPLE.map((pattern, i) => {
  const file = join(work, `regex-${i}.json`);
  writeFileSync(file, bootstrapWith(pattern));
  return { pattern, file };
});
/** Accepted patterns again, with the error level at 0: Envoy names their program size, which must be ours. */
const sized = SAMPLE.filter((p) => checkRe2(p) === null).map((pattern, i) => {
  const file = join(work, `sized-${i}.json`);
  writeFileSync(file, bootstrapWith(pattern, 0));
  return { pattern, file };
});
let results = new Map<string, ValidateResult>();
beforeAll(async () => {
  results = await validateAll([...files, ...sized].map((f) => f.file));
}, 120_000);

test('the sample covers both directions of the table', () => {
  const tabled = new Set([...ACCEPTED.map(([p]) => p), ...REFUSED.map(([p]) => p)]);
  expect(SAMPLE.filter((p) => !tabled.has(p))).toEqual([]);
  expect(SAMPLE.filter((p) => checkRe2(p) === null).length).toBeGreaterThanOrEqual(5);
  expect(SAMPLE.filter((p) => checkRe2(p) !== null).length).toBeGreaterThanOrEqual(5);
});

test.each(files)('Envoy agrees with our verdict on $pattern', ({ pattern, file }) => {
  const r = results.get(file) as ValidateResult;
  const ours = checkRe2(pattern);
  if (ours === null) {
    expect({ code: r.code, output: r.code === 0 ? '' : r.output }).toEqual({ code: 0, output: '' });
    return;
  }
  expect(r.code).not.toBe(0);
  const size = compileRe2(pattern).programSize;
  if (size > 100) expect(r.output).toContain(`RE2 program size of ${size} > max program size of 100`);
  else expect(r.output).toMatch(/regex|RE2/i);
});

test.each(sized)('Envoy reports the program size we compute for $pattern', ({ pattern, file }) => {
  const r = results.get(file) as ValidateResult;
  const size = compileRe2(pattern).programSize;
  expect(r.code).not.toBe(0);
  expect(r.output).toContain(`RE2 program size of ${size} > max program size of 0 `);
});
