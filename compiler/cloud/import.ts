/**
 * Adopting what already exists on AWS instead of creating it again (`portcullis import-commands`):
 * the shell commands that bring each resource of a cloud plan into a stack with `pulumi import`,
 * under the GatewayRules component (created alone first, with `pulumi up --target`), with the
 * `aws` CLI look-ups that find the ids AWS generated. Import ids are the ones @pulumi/aws
 * documents per type (`id/name/scope` for WAFv2 sets, ACLs and groups; `aclArn,resourceArn` for
 * associations; `restApiId/stage/methodPath` for method settings). Pure: plan in, lines out.
 */
import type { CloudPlan } from './types';

export interface ImportOptions {
  /** Pulumi stack (= environment by convention). */
  readonly stack: string;
  readonly attach: 'webAcl' | 'ruleGroup';
  /** Pulumi project name (Pulumi.yaml `name`). */
  readonly project?: string;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A bash script; empty plan (no cloud gateways) → a comment saying there is nothing to import. */
export function importCommands(plan: CloudPlan, options: ImportOptions): string {
  const acl = plan.webAcl;
  const { stack, attach } = options;
  if (!acl) return `# Environment ${plan.environment} names no cloud gateway: nothing to import.\n`;
  const project = options.project ?? 'portcullis';
  const component = `portcullis-${plan.environment}`;
  const parent = `urn:pulumi:${stack}::${project}::portcullis:cloud:GatewayRules::${component}`;
  const scope = acl.scope;
  const region = acl.region;
  const lookup = (list: string, key: string, name: string): string =>
    `$(aws wafv2 ${list} --scope ${scope} --region ${region} --query ${q(`${key}[?Name=='${name}'].Id`)} --output text)`;
  const imp = (type: string, name: string, id: string): string =>
    `pulumi import --yes --stack ${q(stack)} --parent ${q(`${component}=${parent}`)} ${type} ${q(name)} "${id}"`;
  const lines = [
    '#!/usr/bin/env bash',
    `# Adopt the existing AWS resources of environment ${plan.environment} into stack ${stack} (attach: ${attach}); docs/cloud.md "Adopting existing resources".`,
    '# Run from the repository root with AWS credentials for the account; review every command first.',
    'set -euo pipefail',
    '# 1. The component alone, so the imports have their parent:',
    `pulumi up --yes --stack ${q(stack)} --target ${q(parent)}`,
    '# 2. IP sets:',
  ];
  for (const s of plan.ipSets) lines.push(`id=${lookup('list-ip-sets', 'IPSets', s.name)}`, imp('aws:wafv2/ipSet:IpSet', s.name, `$id/${s.name}/${scope}`));
  if (attach === 'ruleGroup') {
    lines.push('# 3. The rule group your web ACL references:', `id=${lookup('list-rule-groups', 'RuleGroups', acl.name)}`, imp('aws:wafv2/ruleGroup:RuleGroup', acl.name, `$id/${acl.name}/${scope}`));
  } else {
    lines.push('# 3. The web ACL and its associations:', `id=${lookup('list-web-acls', 'WebACLs', acl.name)}`, imp('aws:wafv2/webAcl:WebAcl', acl.name, `$id/${acl.name}/${scope}`));
    lines.push(`acl_arn=$(aws wafv2 list-web-acls --scope ${scope} --region ${region} --query ${q(`WebACLs[?Name=='${acl.name}'].ARN`)} --output text)`);
    for (const a of plan.associations) lines.push(imp('aws:wafv2/webAclAssociation:WebAclAssociation', `${acl.name}-${associationSuffix(a.resourceArn)}`, `$acl_arn,${a.resourceArn}`));
  }
  if (plan.methodSettings.length) lines.push('# 4. API Gateway stage throttling:');
  for (const m of plan.methodSettings) lines.push(imp('aws:apigateway/methodSettings:MethodSettings', m.name, `${m.restApiId}/${m.stageName}/${m.methodPath}`));
  lines.push(`# 5. Check: nothing left to create or replace.`, `pulumi preview --stack ${q(stack)} --diff`);
  return `${lines.join('\n')}\n`;
}

/** The association's logical name suffix, as stacks/gateway-rules.ts names it. */
export function associationSuffix(arn: string): string {
  const tail = arn.includes('::/') ? arn.slice(arn.indexOf('::/') + 3) : arn.slice(arn.indexOf('loadbalancer/') + 'loadbalancer/'.length);
  return tail.replace(/[^A-Za-z0-9-]+/g, '-');
}
