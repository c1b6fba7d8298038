/**
 * Golden files for the cloud planner: test/testdata/cloud/<case>.in.yaml (an EnvironmentIR) →
 * <case>.out.yaml (the CloudPlan, or the formatted diagnostics for `*-error` cases).
 * UPDATE_GOLDEN=1 rewrites the outputs and deletes outputs whose input is gone.
 */
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { EnvironmentIR } from '../../compiler/ir/ir';
import { formatDiagnostic } from '../../compiler/result';
import { planCloud } from '../../compiler/cloud';

export const CLOUD_TESTDATA = join(__dirname, '..', 'testdata', 'cloud');
export const UPDATE = process.env.UPDATE_GOLDEN === '1';

export function readEnvironment(file: string): EnvironmentIR {
  return parse(readFileSync(file, 'utf8')) as EnvironmentIR;
}

export function toYaml(value: unknown): string {
  // No anchors/aliases: every golden file reads top to bottom without cross references.
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** What a case's .out.yaml holds: the plan, or `errors:` with the formatted diagnostics. */
export function renderCase(env: EnvironmentIR): string {
  const result = planCloud(env);
  return toYaml(result.ok ? result.value : { errors: result.errors.map((d) => formatDiagnostic(d).trimStart()) });
}

export function caseNames(): string[] {
  return readdirSync(CLOUD_TESTDATA)
    .filter((f) => f.endsWith('.in.yaml'))
    .map((f) => f.slice(0, -'.in.yaml'.length))
    .sort();
}

/** .out.yaml files without a matching .in.yaml; UPDATE_GOLDEN=1 deletes them. */
export function orphanOutputs(): string[] {
  const names = new Set(caseNames());
  const orphans = readdirSync(CLOUD_TESTDATA).filter((f) => f.endsWith('.out.yaml') && !names.has(f.slice(0, -'.out.yaml'.length)));
  if (UPDATE) for (const f of orphans) unlinkSync(join(CLOUD_TESTDATA, f));
  return UPDATE ? [] : orphans;
}

export function expectedOutput(name: string, actual: string): string | null {
  const file = join(CLOUD_TESTDATA, `${name}.out.yaml`);
  if (UPDATE) writeFileSync(file, actual);
  return existsSync(file) ? readFileSync(file, 'utf8') : null;
}
