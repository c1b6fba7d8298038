/**
 * The one golden-file harness: test/testdata/<stage>/<case>.in.yaml → <case>.out.yaml (or another
 * suffix). `UPDATE_GOLDEN=1` rewrites the outputs and deletes orphans; review the diff like code.
 */
import { existsSync, readdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

export const UPDATE_GOLDEN = process.env['UPDATE_GOLDEN'] === '1';

/** Values as golden YAML: shared objects written out in full (no anchors), no line folding. */
export function goldenYaml(value: unknown): string {
  return stringify(value, { aliasDuplicateObjects: false, lineWidth: 0 });
}

/** The case names of a golden folder: the `<name><suffix>` files, sorted. */
export function goldenCases(dir: string, suffix = '.in.yaml'): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix) && statSync(join(dir, f)).isFile())
    .map((f) => f.slice(0, -suffix.length))
    .sort();
}

/** Compares `actual` with the golden file (rewritten first under UPDATE_GOLDEN). */
export function expectGolden(file: string, actual: string): void {
  if (UPDATE_GOLDEN) writeFileSync(file, actual);
  expect(existsSync(file) ? readFileSync(file, 'utf8') : `(no golden file ${file}: run with UPDATE_GOLDEN=1)`).toBe(actual);
}

/** Golden outputs (`<name><outSuffix>`) whose case is gone; UPDATE_GOLDEN deletes them and returns none. */
export function orphanGoldens(dir: string, cases: readonly string[], outSuffix = '.out.yaml'): string[] {
  const names = new Set(cases);
  const orphans = readdirSync(dir).filter((f) => f.endsWith(outSuffix) && !names.has(f.slice(0, -outSuffix.length)));
  if (UPDATE_GOLDEN) for (const f of orphans) unlinkSync(join(dir, f));
  return UPDATE_GOLDEN ? [] : orphans;
}

/** A case's instant, from its first line: `# now: 2026-11-20T12:00:00Z`. */
export function nowOf(text: string, file: string): Date {
  const m = /^# now: (\S+)/.exec(text);
  const now = m?.[1] ? new Date(m[1]) : null;
  if (!now || Number.isNaN(now.getTime())) throw new Error(`${file}: the first line must be "# now: <ISO-8601 instant>"`);
  return now;
}
