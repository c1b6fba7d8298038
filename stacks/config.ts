/**
 * Stack configuration (stacks/Pulumi.<stack>.yaml): which policies, which environment, which
 * region. Mistakes are diagnostics naming the config key, never stack traces.
 *
 * | key                     | default           | meaning                                                  |
 * | ----------------------- | ----------------- | -------------------------------------------------------- |
 * | portcullis:policyRoot   | policies          | policy folder, relative to the repository root           |
 * | portcullis:environment  | the stack's name  | the `Environment` document this stack deploys            |
 * | portcullis:now          | the deploy instant | ISO-8601 instant to compile for (previews of the future) |
 * | portcullis:attach       | webAcl            | webAcl: own web ACL on the gateways; ruleGroup: a rule group your web ACL references |
 * | portcullis:replaceWebAcl | false            | webAcl only: replace a web ACL the stages already have    |
 * | portcullis:ruleGroupCapacity | 500          | ruleGroup only: WCU, fixed when the group is created     |
 * | aws:region              | (required)        | must equal the Environment's spec.cloud.region           |
 */
import { isAbsolute, resolve } from 'node:path';
import type { EnvironmentIR, PolicyIR } from '../compiler/ir/ir';
import { positionless, type Diagnostic, type Result } from '../compiler/result';

export const CONFIG_KEYS = {
  policyRoot: 'portcullis:policyRoot',
  environment: 'portcullis:environment',
  now: 'portcullis:now',
  attach: 'portcullis:attach',
  replaceWebAcl: 'portcullis:replaceWebAcl',
  ruleGroupCapacity: 'portcullis:ruleGroupCapacity',
  region: 'aws:region',
} as const;

export interface StackConfig {
  /** Absolute policy folder. */
  readonly policyRoot: string;
  readonly environment: string;
  readonly now: Date;
  /** Where `now` came from, printed with it: `portcullis:now`, `PORTCULLIS_DEPLOY_INSTANT`, `commit 1a2b3c4`. */
  readonly nowSource: string;
  /** `aws:region`, when set. */
  readonly region: string | null;
  readonly attach: 'webAcl' | 'ruleGroup';
  readonly replaceWebAcl: boolean;
  /** Null = the default (compiler/cloud DEFAULT_RULE_GROUP_CAPACITY). */
  readonly ruleGroupCapacity: number | null;
}

/** Reads `key` from the stack's config (`namespace:name`), undefined when unset. */
export type ConfigGetter = (key: string) => string | undefined;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

export function configDiagnostic(stack: string, key: string, message: string): Diagnostic {
  return positionless(message, { file: `stacks/Pulumi.${stack}.yaml`, path: key });
}

/** The instant to compile for when `portcullis:now` is not set, and where it came from. */
export type DeployInstant = () => { readonly at: Date; readonly source: string };

export function readStackConfig(get: ConfigGetter, stack: string, repoRoot: string, instant: DeployInstant): Result<StackConfig> {
  const errors: Diagnostic[] = [];
  const policyRoot = get(CONFIG_KEYS.policyRoot) ?? 'policies';
  if (policyRoot.trim() === '') errors.push(configDiagnostic(stack, CONFIG_KEYS.policyRoot, 'must name a folder (default: policies)'));
  const environment = get(CONFIG_KEYS.environment) ?? stack;
  if (!DNS_LABEL.test(environment))
    errors.push(
      configDiagnostic(stack, CONFIG_KEYS.environment, `"${environment}" is not an Environment name (lower-case letters, digits and "-")${get(CONFIG_KEYS.environment) === undefined ? '; it defaults to the stack name, so set it' : ''}`),
    );
  const nowText = get(CONFIG_KEYS.now);
  let now: Date | null = null;
  let nowSource: string = CONFIG_KEYS.now;
  if (nowText !== undefined) {
    now = parseInstant(nowText);
    if (!now) errors.push(configDiagnostic(stack, CONFIG_KEYS.now, `"${nowText}" is not an ISO-8601 instant such as 2026-11-20T12:00:00Z`));
  } else ({ at: now, source: nowSource } = instant());
  const region = get(CONFIG_KEYS.region) ?? null;
  const attach = get(CONFIG_KEYS.attach) ?? 'webAcl';
  if (attach !== 'webAcl' && attach !== 'ruleGroup') errors.push(configDiagnostic(stack, CONFIG_KEYS.attach, `"${attach}" is not webAcl or ruleGroup`));
  const replace = get(CONFIG_KEYS.replaceWebAcl) ?? 'false';
  if (replace !== 'true' && replace !== 'false') errors.push(configDiagnostic(stack, CONFIG_KEYS.replaceWebAcl, `"${replace}" is not true or false`));
  const capacityText = get(CONFIG_KEYS.ruleGroupCapacity);
  const capacity = capacityText === undefined ? null : Number(capacityText);
  if (capacity !== null && !(Number.isInteger(capacity) && capacity > 0)) errors.push(configDiagnostic(stack, CONFIG_KEYS.ruleGroupCapacity, `"${capacityText}" is not a whole number of WCU`));
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: { policyRoot: isAbsolute(policyRoot) ? policyRoot : resolve(repoRoot, policyRoot), environment, now: now!, nowSource, region, attach: attach as StackConfig['attach'], replaceWebAcl: replace === 'true', ruleGroupCapacity: capacity },
  };
}

/** An ISO-8601 instant with a zone, or null. */
export function parseInstant(text: string): Date | null {
  const t = new Date(text);
  return ISO_INSTANT.test(text) && !Number.isNaN(t.getTime()) ? t : null;
}

/**
 * The deploy instant when the stack config sets none: `PORTCULLIS_DEPLOY_INSTANT` (the workflows
 * set it once per job, so the preview and the update of one `pulumi up` compile the same
 * lockdowns), else the committer time of the commit under deploy (`commitLine`: `git log -1
 * --format='%cI %H'`), never the wall clock. Throws a message naming the source when unusable.
 */
export function deployInstant(envValue: string | undefined, commitLine: () => string): { at: Date; source: string } {
  if (envValue !== undefined && envValue !== '') {
    const at = parseInstant(envValue);
    if (!at) throw new Error(`PORTCULLIS_DEPLOY_INSTANT: "${envValue}" is not an ISO-8601 instant such as 2026-11-20T12:00:00Z`);
    return { at, source: 'PORTCULLIS_DEPLOY_INSTANT' };
  }
  const [iso = '', sha = ''] = commitLine().trim().split(' ');
  const at = parseInstant(iso);
  if (!at || !/^[0-9a-f]{7,}$/.test(sha))
    throw new Error('no deploy instant: set portcullis:now in the stack config or PORTCULLIS_DEPLOY_INSTANT, or run from a git checkout (the commit time is used)');
  return { at, source: `commit ${sha.slice(0, 7)}` };
}

/** The stack's Environment in the compiled IR, checked against the stack's region. */
export function selectEnvironment(ir: PolicyIR, config: StackConfig, stack: string): Result<EnvironmentIR> {
  const env = ir.environments.find((e) => e.name === config.environment);
  if (!env) {
    const known = ir.environments.map((e) => e.name).join(', ') || 'none';
    return {
      ok: false,
      errors: [configDiagnostic(stack, CONFIG_KEYS.environment, `unknown environment "${config.environment}"; the policies define: ${known}`)],
    };
  }
  if (env.cloud) {
    if (config.region === null)
      return {
        ok: false,
        errors: [configDiagnostic(stack, CONFIG_KEYS.region, `is not set; Environment/${env.name} puts its gateways in ${env.cloud.region}`)],
      };
    if (config.region !== env.cloud.region)
      return {
        ok: false,
        errors: [
          configDiagnostic(stack, CONFIG_KEYS.region, `is ${config.region}, but Environment/${env.name} spec.cloud.region is ${env.cloud.region}`),
        ],
      };
  }
  return { ok: true, value: env };
}
