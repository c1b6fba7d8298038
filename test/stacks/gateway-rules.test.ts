/**
 * The component alone, from golden plans: children parented to it, one AWS resource per plan
 * entry, IP set names resolved to ARNs everywhere, and the mocks refusing provider calls.
 */
import { join } from 'node:path';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { GatewayRules } from '../../stacks/gateway-rules';
import { planCloud, type CloudPlan } from '../../compiler/cloud';
import { CLOUD_TESTDATA, readEnvironment } from '../cloud/golden';
import { installMocks, TYPES, valueOf } from './pulumi-mocks';

function goldenPlan(name: string): CloudPlan {
  const r = planCloud(readEnvironment(join(CLOUD_TESTDATA, `${name}.in.yaml`)));
  if (!r.ok) throw new Error(name);
  return r.value;
}

describe('GatewayRules component', () => {
  it('creates one resource per plan entry, each a child of the component', async () => {
    const plan = goldenPlan('lockdown-active');
    const rec = await installMocks(pulumi, 'prod');
    const component = new GatewayRules('portcullis-prod', { plan });
    const urns = await Promise.all(component.created.map((r) => valueOf(r.urn)));
    expect(urns).toHaveLength(plan.ipSets.length + 1 + plan.associations.length + plan.methodSettings.length);
    for (const urn of urns) expect(urn).toMatch(/^urn:pulumi:prod::portcullis::portcullis:cloud:GatewayRules\$aws:/);
    await rec.settle();
    expect(rec.ofType(TYPES.ipSet).map((s) => s.inputs.name).sort()).toEqual(plan.ipSets.map((s) => s.name));
    expect(rec.ofType(TYPES.webAcl)).toHaveLength(1);
    expect(rec.ofType(TYPES.association)).toHaveLength(plan.associations.length);
    expect(rec.ofType(TYPES.methodSettings)).toHaveLength(plan.methodSettings.length);
    // What protects the gateways cannot be deleted by a stray `pulumi destroy` or a bad refactor.
    const isProtected = (r: pulumi.CustomResource): boolean => (r as unknown as { __protect?: boolean }).__protect === true;
    const protectedTypes = component.created.filter(isProtected).map((r) => (r as unknown as { __pulumiType: string }).__pulumiType);
    expect(protectedTypes.sort()).toEqual([TYPES.webAcl, ...plan.associations.map(() => TYPES.association)].sort());
  });

  it('resolves every IP set reference, however deep, to the ARN of a created IP set', async () => {
    const plan = goldenPlan('basic');
    const rec = await installMocks(pulumi, 'prod');
    const component = new GatewayRules('portcullis-prod', { plan });
    await valueOf(component.webAclArn as pulumi.Output<string>);
    await rec.settle();
    const arns = new Set(rec.ofType(TYPES.ipSet).map((s) => s.arn));
    const text = JSON.stringify(rec.ofType(TYPES.webAcl)[0]?.inputs.rules);
    const referenced = [...text.matchAll(/"arn":"([^"]+)"/g)].map((m) => m[1]);
    expect(referenced.length).toBeGreaterThanOrEqual(plan.ipSets.length);
    for (const arn of referenced) expect(arns.has(arn as string)).toBe(true);
    expect(text).not.toContain('"ipSet":');
    // NOT(OR(v4, v6)) for the allow-list survives the translation.
    expect(text).toContain('"notStatement":{"statement":{"orStatement"');
  });

  it('registers its outputs and creates nothing for an environment without gateways', async () => {
    const plan = goldenPlan('no-cloud');
    const rec = await installMocks(pulumi, 'dev');
    const component = new GatewayRules('portcullis-dev', { plan });
    await valueOf(component.urn);
    await rec.settle();
    expect(component.webAclArn).toBeNull();
    expect(component.created).toEqual([]);
    expect(rec.resources.map((r) => r.type)).toEqual([TYPES.component]);
  });

  it('the mocks make any provider function call fail loudly', async () => {
    const rec = await installMocks(pulumi, 'prod');
    // The SDK drops the mock's message on the way back; the call is refused and recorded all the same.
    await expect(aws.getCallerIdentity()).rejects.toThrow();
    expect(rec.calls).toEqual(['aws:index/getCallerIdentity:getCallerIdentity']);
  });
});
