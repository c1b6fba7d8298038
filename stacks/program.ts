/**
 * The Pulumi program, with its inputs passed in (config, compiler, deploy instant) so tests drive it under
 * `pulumi.runtime.setMocks`: config → compile the policies → pick the environment → plan → create.
 * Every user mistake ends the run with a RunError holding the formatted diagnostics (Pulumi prints
 * its message without a stack trace).
 */
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import type { PolicyIR } from '../compiler/ir/ir';
import { formatDiagnostic, type Diagnostic, type Result } from '../compiler/result';
import { CONFIG_KEYS, configDiagnostic, readStackConfig, selectEnvironment, type ConfigGetter, type DeployInstant } from './config';
import { GatewayRules, missingStageResources } from './gateway-rules';
import { planCloud, renderCloudPlanSummary } from '../compiler/cloud';
import type { EnvoyOnlyEntry } from '../compiler/cloud/types';

export interface ProgramInputs {
  readonly stack: string;
  readonly config: ConfigGetter;
  /** Repository root: relative policy roots resolve against it, diagnostics show paths from it. */
  readonly repoRoot: string;
  readonly compile: (root: string, now: Date, options: { relativeTo: string }) => Result<PolicyIR> | Promise<Result<PolicyIR>>;
  /** The instant to compile for when the stack config sets no `portcullis:now` (stacks/config.ts deployInstant). */
  readonly instant: DeployInstant;
  /** Where the plan summary goes (pulumi.log.info in a real run). */
  readonly log?: (message: string) => void;
}

export interface StackOutputs {
  readonly environment: string;
  readonly compiledAt: string;
  /** Where compiledAt came from: `portcullis:now`, `PORTCULLIS_DEPLOY_INSTANT` or `commit <sha>`. */
  readonly compiledAtSource: string;
  /** When the compiled policy changes by itself (a lockdown starts or expires): deploy again then. */
  readonly nextChangeAt: string | null;
  readonly webAclName: string | null;
  readonly webAclArn: pulumi.Output<string> | null;
  readonly associatedArns: readonly string[];
  readonly ruleNames: readonly string[];
  readonly envoyOnly: readonly EnvoyOnlyEntry[];
}

export async function runProgram(inputs: ProgramInputs): Promise<StackOutputs> {
  const { stack } = inputs;
  let config: ReturnType<typeof readStackConfig>;
  try {
    config = readStackConfig(inputs.config, stack, inputs.repoRoot, inputs.instant);
  } catch (e) {
    throw runError('stack configuration', [configDiagnostic(stack, CONFIG_KEYS.now, (e as Error).message)]);
  }
  if (!config.ok) throw runError('stack configuration', config.errors);
  if (!existsSync(config.value.policyRoot))
    throw runError('stack configuration', [
      configDiagnostic(stack, CONFIG_KEYS.policyRoot, `folder ${relative(inputs.repoRoot, config.value.policyRoot) || '.'} not found (relative to the repository root)`),
    ]);
  const ir = await inputs.compile(config.value.policyRoot, config.value.now, { relativeTo: inputs.repoRoot });
  if (!ir.ok) throw runError(`policies in ${config.value.policyRoot} do not compile`, ir.errors);
  const env = selectEnvironment(ir.value, config.value, stack);
  if (!env.ok) throw runError('stack configuration', env.errors);
  const plan = planCloud(env.value);
  if (!plan.ok) throw runError(`Environment/${env.value.name} cannot be put on AWS`, plan.errors);

  const missing = plan.value.target ? await missingStageResources(plan.value, plan.value.target.region) : [];
  if (missing.length > 0)
    throw runError(
      `Environment/${env.value.name} cannot be put on AWS`,
      missing.map((message) => ({ file: '', line: 0, column: 0, subject: `Environment/${env.value.name}`, path: 'spec.cloud.apiGatewayStages', message })),
    );
  inputs.log?.(`Portcullis compiles Environment/${env.value.name} for ${config.value.now.toISOString()} (from ${config.value.nowSource})`);
  inputs.log?.(renderCloudPlanSummary(plan.value));
  const rules = new GatewayRules(`portcullis-${env.value.name}`, { plan: plan.value });
  return {
    environment: env.value.name,
    compiledAt: ir.value.compiledAt,
    compiledAtSource: config.value.nowSource,
    nextChangeAt: ir.value.nextChangeAt,
    webAclName: plan.value.webAcl?.name ?? null,
    webAclArn: rules.webAclArn,
    associatedArns: rules.associatedArns,
    ruleNames: plan.value.webAcl?.rules.map((r) => r.name) ?? [],
    envoyOnly: plan.value.envoyOnly,
  };
}

function runError(what: string, errors: readonly Diagnostic[]): pulumi.RunError {
  return new pulumi.RunError(`${what}:\n${errors.map((d) => `  ${formatDiagnostic(d)}`).join('\n')}`);
}
