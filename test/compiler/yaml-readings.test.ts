/**
 * The loader's two YAML readings (js-yaml fast path, `yaml` reference reading) must accept and refuse
 * the same files with the same values (issue 8 finding 6: the fast path had no alias limit, so a file
 * with 150 aliases compiled alone and was refused once another file sent it down the slow path).
 */
import { loadFile, readings } from '../../compiler/model/load';

const H = 'apiVersion: portcullis.dev/v1';
const service = (labels: string): string => `${H}\nkind: Service\nmetadata:\n  name: s\n  labels: ${labels}\nspec: { endpoints: [{ address: 10.0.0.1, port: 80 }] }\n`;
const aliases = (n: number): string => service(`{ a: &v x${Array.from({ length: n }, (_, i) => `, k${i}: *v`).join('')} }`);

const INPUTS: readonly (readonly [string, string, boolean])[] = [
  ['plain document', service('{ team: web }'), true],
  ['YAML 1.1 scalars stay strings', service('{ a: yes, b: on, c: "1_000" }'), true],
  ['5 aliases', aliases(5), true],
  ['100 aliases', aliases(100), true],
  ['101 aliases', aliases(101), false],
  ['150 aliases', aliases(150), false],
  ['alias bomb', `${service('{ a: b }')}x: &a [q, q, q, q, q, q, q, q, q, q]\ny: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nz: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n`, false],
  ['unknown alias', service('{ a: *nope }'), false],
  ['one %YAML directive', `%YAML 1.2\n---\n${service('{ a: b }')}`, true],
  ['two %YAML directives', `%YAML 1.2\n%YAML 1.2\n---\n${service('{ a: b }')}`, false],
  ['duplicate key', service('{ a: b, a: c }'), false],
  ['a star inside a string', service('{ a: "x *y" }'), true],
];

/** What a reading decided: documents as plain values, and the errors. */
function verdict(r: ReturnType<typeof loadFile> | null): unknown {
  return r && { documents: r.documents.map((d) => ({ kind: d.kind, name: d.name, labels: { ...d.labels }, spec: d.spec })), errors: r.errors };
}

test.each(INPUTS)('%s: both readings give the same result', (_, text, ok) => {
  const file = { path: 'a.yaml', text };
  const loaded = loadFile(file);
  expect(loaded.errors.length === 0).toBe(ok);
  expect(verdict(loaded)).toEqual(verdict(readings.yaml(file)));
  // Where the fast path reads a file, it reads it as the reference reading does.
  const fast = readings.jsYaml(file);
  if (fast) expect(verdict(fast)).toEqual(verdict(readings.yaml(file)));
});

test('the fast path does read plain files (the agreement above is not vacuous)', () => {
  expect(readings.jsYaml({ path: 'a.yaml', text: INPUTS[0]?.[1] ?? '' })).not.toBeNull();
});
