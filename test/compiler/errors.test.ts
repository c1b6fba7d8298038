/**
 * Error table: each test/testdata/errors/<case>-error.yaml (or <case>-error/ folder of files) must fail
 * with exactly the diagnostics listed in <case>-error.expected, one formatted diagnostic per line
 * (file:line:col Kind/name path: message), sorted. `UPDATE_GOLDEN=1` rewrites the .expected files.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compileSources, type SourceFile } from '../../compiler';
import { formatDiagnostic } from '../../compiler/result';
import { expectGolden, orphanGoldens } from '../support/golden';

const DIR = join(__dirname, '..', 'testdata', 'errors');
const NOW = new Date('2026-11-20T11:00:00Z');

// A case is a file <case>-error.yaml or a folder <case>-error/ of files.
const cases = readdirSync(DIR)
  .filter((f) => f.endsWith('-error.yaml') || (f.endsWith('-error') && statSync(join(DIR, f)).isDirectory()))
  .map((f) => f.replace(/\.yaml$/, ''))
  .sort();

function filesOf(name: string): SourceFile[] {
  const dir = join(DIR, name);
  if (existsSync(dir) && statSync(dir).isDirectory()) {
    return readdirSync(dir)
      .sort()
      .map((f) => ({ path: `${name}/${f}`, text: readFileSync(join(dir, f), 'utf8') }));
  }
  return [{ path: `${name}.yaml`, text: readFileSync(join(DIR, `${name}.yaml`), 'utf8') }];
}

test('there are error cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(15);
});

describe.each(cases)('%s', (name) => {
  test('fails with exactly the expected diagnostics', () => {
    const result = compileSources(filesOf(name), NOW);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const actual = result.errors.map(formatDiagnostic).join('\n') + '\n';
    expectGolden(join(DIR, `${name}.expected`), actual);
    for (const d of result.errors) {
      expect(d.line).toBeGreaterThan(0);
      expect(d.column).toBeGreaterThan(0);
      expect(formatDiagnostic(d)).not.toContain('    at ');
    }
  });
});

test('no orphan .expected files', () => {
  expect(orphanGoldens(DIR, cases, '.expected')).toEqual([]);
});
