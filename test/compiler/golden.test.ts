/**
 * Golden tests of the front-end: test/testdata/ir/<case>.in.yaml (a multi-document policy file whose
 * first line is `# now: <ISO-8601>`) → <case>.out.yaml (the IR as YAML). `UPDATE_GOLDEN=1` rewrites
 * the outputs and deletes orphans; review golden diffs like code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSources } from '../../compiler';
import { formatDiagnostic } from '../../compiler/result';
import { expectGolden, goldenCases, goldenYaml, nowOf, orphanGoldens } from '../support/golden';

const DIR = join(__dirname, '..', 'testdata', 'ir');
const cases = goldenCases(DIR);

test('there are golden cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(10);
});

describe.each(cases)('%s', (name) => {
  test('compiles to the golden IR', () => {
    const inPath = join(DIR, `${name}.in.yaml`);
    const outPath = join(DIR, `${name}.out.yaml`);
    const text = readFileSync(inPath, 'utf8');
    const result = compileSources([{ path: `${name}.in.yaml`, text }], nowOf(text, inPath));
    if (!result.ok) throw new Error(`does not compile:\n${result.errors.map(formatDiagnostic).join('\n')}`);
    expectGolden(outPath, goldenYaml(result.value));
  });
});

test('no orphan golden outputs', () => {
  expect(orphanGoldens(DIR, cases)).toEqual([]);
});
