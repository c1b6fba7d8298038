/**
 * Golden files for the cloud planner: test/testdata/cloud/<case>.in.yaml (an EnvironmentIR) →
 * <case>.out.yaml (the CloudPlan, or the formatted diagnostics for `*-error` cases).
 * UPDATE_GOLDEN=1 rewrites the outputs and deletes outputs whose input is gone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { EnvironmentIR } from '../../compiler/ir/ir';
import { formatDiagnostic } from '../../compiler/result';
import { planCloud } from '../../compiler/cloud';
import { goldenCases, goldenYaml, orphanGoldens } from '../support/golden';

export const CLOUD_TESTDATA = join(__dirname, '..', 'testdata', 'cloud');

export function readEnvironment(file: string): EnvironmentIR {
  return parse(readFileSync(file, 'utf8')) as EnvironmentIR;
}


/** What a case's .out.yaml holds: the plan, or `errors:` with the formatted diagnostics. */
export function renderCase(env: EnvironmentIR): string {
  const result = planCloud(env);
  return goldenYaml(result.ok ? result.value : { errors: result.errors.map((d) => formatDiagnostic(d).trimStart()) });
}

export function caseNames(): string[] {
  return goldenCases(CLOUD_TESTDATA);
}

/** .out.yaml files without a matching .in.yaml; UPDATE_GOLDEN=1 deletes them. */
export function orphanOutputs(): string[] {
  return orphanGoldens(CLOUD_TESTDATA, caseNames());
}
