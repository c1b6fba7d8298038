/**
 * `portcullis import-commands`: the `pulumi import` script adopting existing AWS resources. Every
 * resource the component would create has exactly one import under the component, with the logical
 * name the component gives it (otherwise `pulumi up` would create a second copy); the script parses.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { importCommands, planCloud, ruleGroupPlan, type CloudPlan } from '../../compiler/cloud';
import { GatewayRules } from '../../stacks/gateway-rules';
import { CLOUD_TESTDATA, readEnvironment } from '../cloud/golden';
import { runCli } from '../support/cli';
import { installMocks, TYPES } from './pulumi-mocks';

const REPO = join(__dirname, '..', '..');
const plan = (): CloudPlan => {
  const r = planCloud(readEnvironment(join(CLOUD_TESTDATA, 'lockdown-active.in.yaml')));
  if (!r.ok) throw new Error('plan');
  return r.value;
};
const imports = (script: string): { type: string; name: string; id: string }[] =>
  [...script.matchAll(/^pulumi import --yes --stack 'prod' --parent 'portcullis-prod=urn:pulumi:prod::portcullis::portcullis:cloud:GatewayRules::portcullis-prod' (\S+) '([^']+)' "([^"]+)"$/gm)].map((m) => ({
    type: m[1]!,
    name: m[2]!,
    id: m[3]!,
  }));

describe('import commands', () => {
  it.each(['webAcl', 'ruleGroup'] as const)('attach %s: one import per resource the component creates, same names', async (attach) => {
    const p = plan();
    const script = importCommands(p, { stack: 'prod', attach });
    const rec = await installMocks(pulumi, 'prod');
    const group = ruleGroupPlan(p);
    if (!group.ok) throw new Error('rule group');
    new GatewayRules('portcullis-prod', { plan: p, attach: attach === 'ruleGroup' ? { mode: 'ruleGroup', ruleGroup: group.value } : { mode: 'webAcl' } });
    await rec.settle();
    const created = rec.resources.filter((r) => r.type !== TYPES.component).map((r) => `${r.type} ${r.name}`).sort();
    expect(imports(script).map((i) => `${i.type} ${i.name}`).sort()).toEqual(created);
    expect(spawnSync('bash', ['-n'], { input: script }).status).toBe(0);
  });

  it('ids in the form @pulumi/aws imports them, looked up with the aws CLI', () => {
    const p = plan();
    const script = importCommands(p, { stack: 'prod', attach: 'webAcl' });
    const byType = new Map(imports(script).map((i) => [i.type, i.id]));
    expect(byType.get('aws:wafv2/webAcl:WebAcl')).toBe('$id/portcullis-prod/REGIONAL');
    expect(byType.get('aws:wafv2/webAclAssociation:WebAclAssociation')).toMatch(/^\$acl_arn,arn:aws:/);
    expect(byType.get('aws:apigateway/methodSettings:MethodSettings')).toBe(`${p.methodSettings[0]!.restApiId}/${p.methodSettings[0]!.stageName}/${p.methodSettings[0]!.methodPath}`);
    expect(script).toContain(`id=$(aws wafv2 list-web-acls --scope REGIONAL --region us-east-1 --query 'WebACLs[?Name=='\\''portcullis-prod'\\''].Id' --output text)`);
    expect(script.split('\n')[5]).toBe(`pulumi up --yes --stack 'prod' --target 'urn:pulumi:prod::portcullis::portcullis:cloud:GatewayRules::portcullis-prod'`);
  });

  it('portcullis import-commands --env prod prints the script; dev has nothing on AWS; an unknown env is a usage error', async () => {
    const now = new Date('2026-11-27T12:00:00Z');
    const prod = await runCli(['import-commands', '--env', 'prod'], { cwd: REPO, now });
    expect(prod.code).toBe(0);
    expect(prod.out).toMatch(/^pulumi import .* aws:wafv2\/webAcl:WebAcl 'portcullis-prod' /m);
    const dev = await runCli(['import-commands', '--env', 'dev'], { cwd: REPO, now });
    expect(dev.out).toBe('# Environment dev names no cloud gateway: nothing to import.\n');
    const nope = await runCli(['import-commands', '--env', 'qa'], { cwd: REPO, now });
    expect(nope.code).toBe(2);
    expect(nope.err).toContain('--env: no Environment "qa" (have: dev, prod, staging)');
  });
});
