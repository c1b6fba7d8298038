/**
 * The Pulumi program under mocks, per environment: the real compiler over test policies, the real
 * planner, the component — and what it asks AWS to create. Also bad stack config and policies
 * that do not compile: a RunError (printed without a stack trace) naming the config key or file.
 */
import { join, resolve } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { compileDirectory } from '../../sources';
import type { PolicyIR } from '../../compiler/ir/ir';
import { deployInstant } from '../../stacks/config';
import { runProgram, type StackOutputs } from '../../stacks/program';
import { CLOUD_TESTDATA, readEnvironment } from '../cloud/golden';
import { GET_RESOURCE, installMocks, TYPES, valueOf, type Recorder } from './pulumi-mocks';

const REPO = resolve(__dirname, '..', '..');
const POLICIES = 'test/testdata/cloud/program/policies';
const ACTIVE = '2026-11-20T12:00:00Z';
const EXPIRED = '2026-11-20T15:00:00Z';

async function run(stack: string, config: Record<string, string>, compile = compileDirectory): Promise<{ out: StackOutputs; rec: Recorder }> {
  const rec = await installMocks(pulumi, stack);
  const out = await runProgram({ stack, config: (k) => config[k], repoRoot: REPO, compile, instant: () => ({ at: new Date(ACTIVE), source: 'test' }) });
  if (out.webAclArn) await valueOf(out.webAclArn);
  await rec.settle();
  return { out, rec };
}

/** What the program reads from AWS for the test policies' prod: the stage (has it a web ACL?) and the one throttled resource. */
const CHECKED_PATHS = ['read aws:apigateway/stage:Stage shop123456/live', `${GET_RESOURCE} shop123456 /cart`];

const prodConfig = (now: string): Record<string, string> => ({ 'aws:region': 'eu-west-1', 'portcullis:policyRoot': POLICIES, 'portcullis:now': now });

describe('stacks program under Pulumi mocks', () => {
  it('prod with an active lockdown: IP sets, web ACL, associations, method settings', async () => {
    const { out, rec } = await run('prod', prodConfig(ACTIVE));
    // The reads the program makes: is the stage free of other web ACLs, has the REST API the throttled resource?
    expect(rec.calls).toEqual(CHECKED_PATHS);
    expect(rec.resources.map((r) => r.type).sort()).toEqual(
      [TYPES.component, TYPES.ipSet, TYPES.ipSet, TYPES.webAcl, TYPES.association, TYPES.association, TYPES.methodSettings, TYPES.methodSettings].sort(),
    );

    const ipSets = rec.ofType(TYPES.ipSet).sort((a, b) => String(a.inputs.name).localeCompare(String(b.inputs.name)));
    expect(ipSets.map((s) => [s.inputs.name, s.inputs.ipAddressVersion, s.inputs.addresses, s.inputs.scope, s.inputs.region])).toEqual([
      ['portcullis-prod-access-edge-deny-networks-ipv4', 'IPV4', ['198.51.100.0/24'], 'REGIONAL', 'eu-west-1'],
      ['portcullis-prod-lockdown-stuffing-2026-11-20-block-networks-ipv4', 'IPV4', ['203.0.113.0/24'], 'REGIONAL', 'eu-west-1'],
    ]);

    const [acl] = rec.ofType(TYPES.webAcl);
    expect(acl?.inputs).toMatchObject({ name: 'portcullis-prod', scope: 'REGIONAL', region: 'eu-west-1', defaultAction: { allow: {} } });
    const rules = acl?.inputs.rules as { name: string; priority: number; action: unknown; statement: unknown }[];
    expect(rules.map((r) => [r.priority, r.name])).toEqual([
      [1000, 'lockdown-stuffing-2026-11-20-block-networks'],
      [2000, 'disable-route-cart'],
      [3000, 'access-edge-deny-networks'],
      [5000, 'rate-limit-cart-total'],
      [5001, 'rate-limit-login-per-ip'],
    ]);
    // Only fields AWS knows: the plan's kind, provenance and description stay behind.
    for (const r of rules) expect(Object.keys(r).sort()).toEqual(['action', 'name', 'priority', 'statement', 'visibilityConfig']);
    // IP sets are referenced by the ARN AWS gave them, reading the client address from the forwarded header.
    expect(rules[2]?.statement).toEqual({
      ipSetReferenceStatement: {
        arn: ipSets[0]?.arn,
        ipSetForwardedIpConfig: { headerName: 'x-forwarded-for', fallbackBehavior: 'NO_MATCH', position: 'LAST' },
      },
    });
    expect(rules[1]?.action).toEqual({ block: { customResponse: { responseCode: 503, customResponseBodyKey: 'portcullis-route-disabled-cart' } } });
    expect((acl?.inputs.customResponseBodies as { key: string }[]).map((b) => b.key)).toEqual([
      'portcullis-forbidden',
      'portcullis-route-disabled-cart',
      'portcullis-too-many-requests',
    ]);

    expect(rec.ofType(TYPES.association).map((a) => [a.inputs.resourceArn, a.inputs.webAclArn]).sort()).toEqual([
      ['arn:aws:apigateway:eu-west-1::/restapis/shop123456/stages/live', acl?.arn],
      ['arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop-prod/fedcba9876543210', acl?.arn],
    ]);
    expect(rec.ofType(TYPES.methodSettings).map((m) => m.inputs).sort((a, b) => String(a.methodPath).localeCompare(String(b.methodPath)))).toEqual([
      { restApi: 'shop123456', stageName: 'live', methodPath: '~1cart/GET', region: 'eu-west-1', settings: { throttlingRateLimit: 10, throttlingBurstLimit: 600 } },
      { restApi: 'shop123456', stageName: 'live', methodPath: '~1cart/PUT', region: 'eu-west-1', settings: { throttlingRateLimit: 10, throttlingBurstLimit: 600 } },
    ]);

    expect(out.environment).toBe('prod');
    expect(out.nextChangeAt).toMatch(/^2026-11-20T14:00:00(\.000)?Z$/);
    expect(out.envoyOnly.map((e) => `${e.subject} ${e.feature.split(' ')[0]}`)).toEqual(
      expect.arrayContaining(['Lockdown/stuffing-2026-11-20 revokeTokens', 'RateLimit/catalog-per-network RateLimit']),
    );
  });

  it('prod once the lockdown expired: its rules and IP set are gone', async () => {
    const { out, rec } = await run('prod', prodConfig(EXPIRED));
    expect(rec.ofType(TYPES.ipSet).map((s) => s.inputs.name)).toEqual(['portcullis-prod-access-edge-deny-networks-ipv4']);
    const rules = rec.ofType(TYPES.webAcl)[0]?.inputs.rules as { name: string }[];
    expect(rules.map((r) => r.name)).toEqual(['access-edge-deny-networks', 'rate-limit-cart-total', 'rate-limit-login-per-ip']);
    expect(out.nextChangeAt).toBeNull();
  });

  it('staging: a load balancer only, no API Gateway throttling', async () => {
    const { rec } = await run('staging', { 'aws:region': 'eu-west-1', 'portcullis:policyRoot': POLICIES });
    expect(rec.ofType(TYPES.webAcl)[0]?.inputs.name).toBe('portcullis-staging');
    expect(rec.ofType(TYPES.association).map((a) => a.inputs.resourceArn)).toEqual([
      'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop-staging/0123456789abcdef',
    ]);
    expect(rec.ofType(TYPES.methodSettings)).toEqual([]);
    // Without a forwarded header the IP set reads the connection's source address.
    const rules = rec.ofType(TYPES.webAcl)[0]?.inputs.rules as { statement: unknown }[];
    expect(rules[0]?.statement).toEqual({ ipSetReferenceStatement: { arn: rec.ofType(TYPES.ipSet)[0]?.arn } });
  });

  it('dev names no cloud gateway: nothing on AWS', async () => {
    const { out, rec } = await run('dev', { 'portcullis:policyRoot': POLICIES });
    expect(rec.resources.map((r) => r.type)).toEqual([TYPES.component]);
    expect(out.webAclArn).toBeNull();
    expect(out.webAclName).toBeNull();
  });

  it('portcullis:environment overrides the stack name', async () => {
    const { out } = await run('eu-prod', { ...prodConfig(EXPIRED), 'portcullis:environment': 'prod' });
    expect(out.environment).toBe('prod');
  });
});

describe('stacks program refuses bad input with the config key or policy file named', () => {
  const failure = async (stack: string, config: Record<string, string>, compile = compileDirectory): Promise<Error> => {
    await installMocks(pulumi, stack);
    try {
      await runProgram({ stack, config: (k) => config[k], repoRoot: REPO, compile, instant: () => ({ at: new Date(ACTIVE), source: 'test' }) });
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected the program to fail');
  };

  it.each<[string, string, Record<string, string>, string]>([
    [
      'an unknown environment',
      'prd',
      { 'aws:region': 'eu-west-1', 'portcullis:policyRoot': POLICIES },
      'stack configuration:\n  stacks/Pulumi.prd.yaml portcullis:environment: unknown environment "prd"; the policies define: dev, prod, staging',
    ],
    [
      'a stack name that is no environment name',
      'Prod_EU',
      { 'portcullis:policyRoot': POLICIES },
      'stack configuration:\n  stacks/Pulumi.Prod_EU.yaml portcullis:environment: "Prod_EU" is not an Environment name (lower-case letters, digits and "-"); it defaults to the stack name, so set it',
    ],
    [
      'a region other than the environment\'s',
      'prod',
      { 'aws:region': 'us-east-1', 'portcullis:policyRoot': POLICIES },
      'stack configuration:\n  stacks/Pulumi.prod.yaml aws:region: is us-east-1, but Environment/prod spec.cloud.region is eu-west-1',
    ],
    [
      'no region for an environment with gateways',
      'prod',
      { 'portcullis:policyRoot': POLICIES },
      'stack configuration:\n  stacks/Pulumi.prod.yaml aws:region: is not set; Environment/prod puts its gateways in eu-west-1',
    ],
    [
      'an instant that is not ISO-8601',
      'prod',
      { 'aws:region': 'eu-west-1', 'portcullis:policyRoot': POLICIES, 'portcullis:now': 'yesterday' },
      'stack configuration:\n  stacks/Pulumi.prod.yaml portcullis:now: "yesterday" is not an ISO-8601 instant such as 2026-11-20T12:00:00Z',
    ],
    [
      'a policy folder that does not exist',
      'prod',
      { 'aws:region': 'eu-west-1', 'portcullis:policyRoot': 'test/testdata/cloud/program/nope' },
      'stack configuration:\n  stacks/Pulumi.prod.yaml portcullis:policyRoot: folder test/testdata/cloud/program/nope not found (relative to the repository root)',
    ],
  ])('%s', async (_what, stack, config, message) => {
    const err = await failure(stack, config);
    expect(pulumi.RunError.isInstance(err)).toBe(true);
    expect(err.message).toBe(message);
  });

  it('policies that do not compile: every diagnostic, formatted, no stack trace', async () => {
    const err = await failure('prod', { 'aws:region': 'eu-west-1', 'portcullis:policyRoot': 'test/testdata/cloud/program/broken' });
    expect(pulumi.RunError.isInstance(err)).toBe(true);
    expect(err.message).toBe(
      [
        `policies in ${join(REPO, 'test/testdata/cloud/program/broken')} do not compile:`,
        '  test/testdata/cloud/program/broken/routes.yaml:7:12 Route/login spec.service: unknown Service "nowhere"',
        '  test/testdata/cloud/program/broken/routes.yaml:13:12 RateLimit/login-per-ip spec.routes[0]: unknown Route "loginn" (did you mean "login"?)',
      ].join('\n'),
    );
  });

  it('an environment AWS WAF cannot serve: the plan diagnostics', async () => {
    const env = readEnvironment(join(CLOUD_TESTDATA, 'cloudfront-error.in.yaml'));
    const ir: PolicyIR = { irVersion: 1, compiledAt: ACTIVE, nextChangeAt: null, environments: [env] };
    const err = await failure('prod', { 'aws:region': 'eu-central-1' }, async () => ({ ok: true, value: ir }));
    expect(pulumi.RunError.isInstance(err)).toBe(true);
    expect(err.message).toBe(
      [
        'Environment/prod cannot be put on AWS:',
        '  Environment/prod spec.cloud.region: a CLOUDFRONT web ACL must be created in us-east-1, not eu-central-1',
        '  Environment/prod spec.cloud.waf.scope: a CLOUDFRONT web ACL is attached from the CloudFront distribution, not associated with API Gateway stages or load balancers: use scope REGIONAL for those',
      ].join('\n'),
    );
  });
});

describe('the deploy instant (never the wall clock)', () => {
  it('portcullis:now wins and is printed with its source', async () => {
    const rec = await installMocks(pulumi, 'prod');
    const log: string[] = [];
    const out = await runProgram({
      stack: 'prod',
      config: (k) => prodConfig(EXPIRED)[k],
      repoRoot: REPO,
      compile: compileDirectory,
      instant: () => {
        throw new Error('not asked when portcullis:now is set');
      },
      log: (m) => void log.push(m),
    });
    if (out.webAclArn) await valueOf(out.webAclArn);
    await rec.settle();
    expect(out.compiledAt).toBe('2026-11-20T15:00:00.000Z');
    expect(out.compiledAtSource).toBe('portcullis:now');
    expect(log[0]).toBe('Portcullis compiles Environment/prod for 2026-11-20T15:00:00.000Z (from portcullis:now)');
  });

  it('else PORTCULLIS_DEPLOY_INSTANT, else the commit under deploy', () => {
    const commit = () => '2026-11-20T13:05:00+01:00 0123456789abcdef0123456789abcdef01234567\n';
    expect(deployInstant('2026-11-20T12:00:00Z', commit)).toEqual({ at: new Date('2026-11-20T12:00:00Z'), source: 'PORTCULLIS_DEPLOY_INSTANT' });
    expect(deployInstant(undefined, commit)).toEqual({ at: new Date('2026-11-20T12:05:00Z'), source: 'commit 0123456' });
    expect(deployInstant('', commit).source).toBe('commit 0123456');
    expect(() => deployInstant('yesterday', commit)).toThrow('PORTCULLIS_DEPLOY_INSTANT: "yesterday" is not an ISO-8601 instant');
    expect(() => deployInstant(undefined, () => '')).toThrow(/no deploy instant: set portcullis:now/);
  });

  it('an unusable instant stops the run naming where it came from', async () => {
    await installMocks(pulumi, 'prod');
    const run = runProgram({
      stack: 'prod',
      config: (k) => ({ 'aws:region': 'eu-west-1', 'portcullis:policyRoot': POLICIES })[k],
      repoRoot: REPO,
      compile: compileDirectory,
      instant: () => deployInstant('soon', () => ''),
    });
    await expect(run).rejects.toThrow('stacks/Pulumi.prod.yaml portcullis:now: PORTCULLIS_DEPLOY_INSTANT: "soon" is not an ISO-8601 instant');
  });
});

describe('API Gateway throttling on a path the REST API does not have', () => {
  it('stops the run before anything is created, naming the API, stage, path, route and limit', async () => {
    const first = CHECKED_PATHS[1]!.slice(GET_RESOURCE.length + 1);
    const rec = await installMocks(pulumi, 'prod', {}, { missingPaths: [first!] });
    const run = runProgram({ stack: 'prod', config: (k) => prodConfig(ACTIVE)[k], repoRoot: REPO, compile: compileDirectory, instant: () => ({ at: new Date(ACTIVE), source: 'test' }) });
    await expect(run).rejects.toThrow(
      'Environment/prod cannot be put on AWS:\n  Environment/prod spec.cloud.apiGatewayStages: REST API shop123456 (stage live) has no resource /cart (route cart, RateLimit/cart-total): API Gateway throttling cannot be set on it; fix the route\'s path, or add the resource to the API',
    );
    expect(rec.resources).toEqual([]);
  });
});

describe('gateways that already have a web ACL', () => {
  const STAGE = 'shop123456/live';
  const theirs = 'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/team-edge/11111111-2222';
  const attempt = async (config: Record<string, string>, stageWebAcls: Record<string, string> = {}) => {
    const rec = await installMocks(pulumi, 'prod', {}, { stageWebAcls });
    const log: string[] = [];
    const run = runProgram({ stack: 'prod', config: (k) => ({ ...prodConfig(ACTIVE), ...config })[k], repoRoot: REPO, compile: compileDirectory, instant: () => ({ at: new Date(ACTIVE), source: 'test' }), log: (m) => void log.push(m) });
    return { rec, run, log };
  };

  it('attach webAcl refuses to take the place of the team’s web ACL on a stage, naming both ways out', async () => {
    const { run, rec } = await attempt({}, { [STAGE]: theirs });
    await expect(run).rejects.toThrow(
      `Environment/prod spec.cloud.apiGatewayStages: arn:aws:apigateway:eu-west-1::/restapis/shop123456/stages/live already has web ACL ${theirs}: attaching portcullis-prod would replace it (and its managed rules); set portcullis:attach to ruleGroup`,
    );
    expect(rec.resources).toEqual([]);
  });

  it('… unless told to replace it, or the web ACL there is already ours', async () => {
    const replaced = await attempt({ 'portcullis:replaceWebAcl': 'true' }, { [STAGE]: theirs });
    await expect(replaced.run).resolves.toMatchObject({ webAclName: 'portcullis-prod' });
    await replaced.rec.settle();
    const ours = await attempt({}, { [STAGE]: 'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/portcullis-prod/abc' });
    await expect(ours.run).resolves.toMatchObject({ webAclName: 'portcullis-prod' });
    await ours.rec.settle();
  });

  it('attach ruleGroup: a protected rule group with the rules, no web ACL, no association, and the one-time change printed', async () => {
    const { run, rec, log } = await attempt({ 'portcullis:attach': 'ruleGroup', 'portcullis:ruleGroupCapacity': '300' }, { [STAGE]: theirs });
    const out = await run;
    const arn = await valueOf(out.ruleGroupArn!);
    await rec.settle();
    expect(out.webAclArn).toBeNull();
    expect(out.associatedArns).toEqual([]);
    expect(rec.ofType(TYPES.webAcl)).toEqual([]);
    expect(rec.ofType(TYPES.association)).toEqual([]);
    const [group] = rec.ofType(TYPES.ruleGroup);
    expect(group?.inputs).toMatchObject({ name: 'portcullis-prod', capacity: 300, scope: 'REGIONAL' });
    expect((group?.inputs.rules as { name: string }[]).map((r) => r.name)).toEqual(out.ruleNames);
    expect(log.find((l) => l.startsWith(`Rule group ${arn} holds the Portcullis rules of prod`))).toContain('"RuleGroupReferenceStatement":{"ARN":"' + arn + '"}');
    // No stage was read for a web ACL: the team's stays where it is.
    expect(rec.calls.filter((c) => c.startsWith('read '))).toEqual([]);
  });

  it('a rule group too small for the rules is refused before anything is created', async () => {
    const { run, rec } = await attempt({ 'portcullis:attach': 'ruleGroup', 'portcullis:ruleGroupCapacity': '5' });
    await expect(run).rejects.toThrow(/portcullis:ruleGroupCapacity: the rules need about \d+ WCU, above the rule group's capacity of 5; raise portcullis:ruleGroupCapacity/);
    expect(rec.resources).toEqual([]);
  });

  it.each([
    ['portcullis:attach', 'acl', '"acl" is not webAcl or ruleGroup'],
    ['portcullis:replaceWebAcl', 'yes', '"yes" is not true or false'],
    ['portcullis:ruleGroupCapacity', 'lots', '"lots" is not a whole number of WCU'],
  ])('%s=%s is a config error', async (key, value, message) => {
    const { run } = await attempt({ [key]: value });
    await expect(run).rejects.toThrow(`stacks/Pulumi.prod.yaml ${key}: ${message}`);
  });
});
