/**
 * Policy fixtures the monitor, bot, incident-loop and Envoy tests share: a credential-stuffing Trigger in
 * the policy language (docs/kinds/trigger.md) with the parts each test varies, and compile-or-throw
 * for the places where a fixture that does not compile is a bug in the test.
 */
import type { EnvironmentIR, PolicyIR } from '../../compiler/ir/ir';
import { formatDiagnostic, type Result } from '../../compiler/result';

export interface StuffingTriggerOptions {
  readonly name: string;
  /** The one route watched and blocked. */
  readonly route: string;
  /** The rate condition in flow style, e.g. `{ above: 20, window: 10s }`. */
  readonly rate: string;
  readonly environments?: readonly string[];
  readonly description?: string;
  /** Lockdown duration; 1h when absent. */
  readonly duration?: string;
  readonly reviewers?: readonly string[];
  /** The lockdown's reason template; false for the Trigger's default reason. */
  readonly reason?: false;
}

/** 401s on one route from one /24 above a rate → a lockdown blocking that /24 on the route. */
export function stuffingTrigger(o: StuffingTriggerOptions): string {
  const list = (xs: readonly string[]) => `[${xs.join(', ')}]`;
  return [
    'apiVersion: portcullis.dev/v1',
    'kind: Trigger',
    `metadata: { name: ${o.name} }`,
    'spec:',
    ...(o.description ? [`  description: ${o.description}`] : []),
    ...(o.environments ? [`  environments: ${list(o.environments)}`] : []),
    `  routes: [${o.route}]`,
    '  responses: { statuses: [401] }',
    '  key: clientNetwork',
    `  condition: { rate: ${o.rate} }`,
    '  severity: critical',
    '  lockdown:',
    `    duration: ${o.duration ?? '1h'}`,
    '    owner: "@oncall"',
    ...(o.reviewers ? [`    reviewers: ${list(o.reviewers)}`] : []),
    ...(o.reason === false ? [] : ['    reason: "Credential stuffing on {{route}} from {{network}}"']),
    '    actions:',
    `      - { type: blockNetworks, cidrs: ["{{network}}"], routes: [${o.route}] }`,
    '',
  ].join('\n');
}

/** The value of a compile that must succeed; its diagnostics, formatted, otherwise. */
export function compiledOrThrow<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(result.errors.map(formatDiagnostic).join('\n'));
  return result.value;
}

/** The environment `name` of a compiled policy. */
export function environmentOf(ir: PolicyIR, name: string): EnvironmentIR {
  const env = ir.environments.find((e) => e.name === name);
  if (!env) throw new Error(`no environment ${name}`);
  return env;
}
