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
import { formatDiagnostic, positionless, type Diagnostic, type Result } from '../compiler/result';
import { CONFIG_KEYS, configDiagnostic, readStackConfig, selectEnvironment, type ConfigGetter, type DeployInstant, type StackConfig } from './config';
import { foreignWebAcls, GatewayRules, missingStageResources, type Attach } from './gateway-rules';
import { planCloud, renderCloudPlanSummary, ruleGroupPlan, ruleGroupReference, type CloudPlan } from '../compiler/cloud';
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
  /** With portcullis:attach ruleGroup: the rule group your web ACL references. */
  readonly ruleGroupArn: pulumi.Output<string> | null;
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

  const attach = await attachment(plan.value, config.value, env.value.name);
  inputs.log?.(`Portcullis compiles Environment/${env.value.name} for ${config.value.now.toISOString()} (from ${config.value.nowSource})`);
  inputs.log?.(renderCloudPlanSummary(plan.value));
  const rules = new GatewayRules(`portcullis-${env.value.name}`, { plan: plan.value, attach });
  if (rules.ruleGroupArn) rules.ruleGroupArn.apply((arn) => inputs.log?.(ruleGroupInstructions(arn, plan.value)));
  return {
    environment: env.value.name,
    compiledAt: ir.value.compiledAt,
    compiledAtSource: config.value.nowSource,
    nextChangeAt: ir.value.nextChangeAt,
    webAclName: plan.value.webAcl?.name ?? null,
    webAclArn: rules.webAclArn,
    ruleGroupArn: rules.ruleGroupArn,
    associatedArns: rules.associatedArns,
    ruleNames: plan.value.webAcl?.rules.map((r) => r.name) ?? [],
    envoyOnly: plan.value.envoyOnly,
  };
}

/**
 * How the plan reaches the gateways, checked against AWS before anything is created: the rule
 * group fits its capacity; an own web ACL replaces no other on a stage unless told to; the stages
 * have the throttled resources.
 */
async function attachment(plan: CloudPlan, config: StackConfig, env: string): Promise<Attach> {
  const problem = (path: string, messages: readonly string[]): pulumi.RunError =>
    runError(`Environment/${env} cannot be put on AWS`, messages.map((message) => positionless(message, { subject: `Environment/${env}`, path })));
  let attach: Attach = { mode: 'webAcl' };
  if (plan.webAcl && config.attach === 'ruleGroup') {
    const group = ruleGroupPlan(plan, config.ruleGroupCapacity ?? undefined);
    if (!group.ok) throw runError(`Environment/${env} cannot be put on AWS`, group.errors);
    attach = { mode: 'ruleGroup', ruleGroup: group.value };
  } else if (plan.webAcl && !config.replaceWebAcl) {
    const taken = await foreignWebAcls(plan);
    if (taken.length > 0) throw problem('spec.cloud.apiGatewayStages', taken);
  }
  const missing = plan.target ? await missingStageResources(plan, plan.target.region) : [];
  if (missing.length > 0) throw problem('spec.cloud.apiGatewayStages', missing);
  return attach;
}

/** The one-time change to the team's web ACL, printed on every run with the rule group's ARN. */
function ruleGroupInstructions(arn: string, plan: CloudPlan): string {
  const rule = ruleGroupReference(arn, `portcullis-${plan.environment}`);
  return [
    `Rule group ${arn} holds the Portcullis rules of ${plan.environment}. Once, add it to the web ACL of each gateway`,
    `(${plan.associations.map((a) => a.resourceArn).join(', ')}) as its FIRST rule, without override (docs/cloud.md):`,
    JSON.stringify(rule),
  ].join('\n');
}

function runError(what: string, errors: readonly Diagnostic[]): pulumi.RunError {
  return new pulumi.RunError(`${what}:\n${errors.map((d) => `  ${formatDiagnostic(d)}`).join('\n')}`);
}
