/**
 * Golden tests of the front-end: test/testdata/ir/<case>.in.yaml (a multi-document policy file whose
 * first line is `# now: <ISO-8601>`) → <case>.out.yaml (the IR as YAML). `UPDATE_GOLDEN=1` rewrites
 * the outputs and deletes orphans; review golden diffs like code.
 */
import { readdirSync, readFileSync, unlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { compileSources } from '../../compiler';
import { formatDiagnostic } from '../../compiler/result';
import { irToYaml, nowOf, UPDATE_GOLDEN } from './golden-support';

const DIR = join(__dirname, '..', 'testdata', 'ir');
const UPDATE = UPDATE_GOLDEN;
const cases = readdirSync(DIR)
  .filter((f) => f.endsWith('.in.yaml'))
  .map((f) => f.slice(0, -'.in.yaml'.length))
  .sort();

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
    const actual = irToYaml(result.value);
    if (UPDATE) writeFileSync(outPath, actual);
    expect(existsSync(outPath)).toBe(true);
    expect(actual).toBe(readFileSync(outPath, 'utf8'));
  });
});

test('no orphan golden outputs', () => {
  const orphans = readdirSync(DIR).filter((f) => f.endsWith('.out.yaml') && !cases.includes(f.slice(0, -'.out.yaml'.length)));
  if (UPDATE) for (const f of orphans) unlinkSync(join(DIR, f));
  else expect(orphans).toEqual([]);
});
