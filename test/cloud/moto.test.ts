/**
 * The cloud plan against a real AWS API implementation: moto's server (`moto[server]`, installed
 * by scripts/setup.sh into .tools/venv) on 127.0.0.1, driven with boto3 by test/cloud/moto/waf_apply.py.
 * An existing REST API stage is the team's gateway; the planned IP sets, web ACL (every rule kind of
 * an active lockdown), association and stage throttling are created, read back and compared with the
 * plan; then an IP set is updated with a stale LockToken: WAFOptimisticLockException, handled by
 * reading a fresh token and retrying. No moto = a failing test, never a skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { planCloud, ruleGroupPlan, ruleGroupReference, type CloudPlan } from '../../compiler/cloud';
import type { EnvironmentIR } from '../../compiler/ir/ir';
import { freePort } from '../support/ports';
import { CLOUD_TESTDATA, readEnvironment } from './golden';

const VENV = join(__dirname, '..', '..', '.tools', 'venv', 'bin');
const MOTO = join(VENV, 'moto_server');
const PYTHON = join(VENV, 'python');
const SCRIPT = join(__dirname, 'moto', 'waf_apply.py');
const REGION = 'us-east-1';

let moto: ChildProcess | undefined;
let endpoint = '';

function py<T>(command: Record<string, unknown>): T {
  const r = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(command), encoding: 'utf8', timeout: 60_000, env: { ...process.env, AWS_ENDPOINT_URL: endpoint } });
  if (r.status !== 0) throw new Error(`waf_apply.py ${String(command.cmd)} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

beforeAll(async () => {
  if (!existsSync(MOTO)) throw new Error(`${MOTO} is missing: run scripts/setup.sh (it installs moto[server] into .tools/venv)`);
  const port = await freePort();
  endpoint = `http://127.0.0.1:${port}`;
  moto = spawn(MOTO, ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  moto.stderr?.on('data', (d: Buffer) => void (stderr += d.toString()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${endpoint}/moto-api/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || moto.exitCode !== null) throw new Error(`moto_server did not start on ${endpoint}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 40_000);

afterAll(async () => {
  if (!moto || moto.exitCode !== null) return;
  const exited = new Promise((r) => moto!.once('exit', r));
  moto.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5000)))]);
  clearTimeout(timer);
  if (moto.exitCode === null && moto.signalCode === null) moto.kill('SIGKILL');
  moto.stderr?.destroy();
});

interface ReadBack {
  webAcl: { name: string; arn: string; rules: { name: string; priority: number; action: Record<string, unknown>; statement: Record<string, unknown> }[]; customResponseBodies: string[] };
  ipSets: { name: string; version: string; addresses: string[] }[];
  associated: Record<string, string | null>;
  methodSettings: Record<string, Record<string, { throttlingRateLimit?: number; throttlingBurstLimit?: number }>>;
  missingResources: { name: string; path: string }[];
}

describe('the cloud plan on moto (a real WAFv2 and API Gateway API)', () => {
  let plan: CloudPlan;
  let stageArn = '';
  let back: ReadBack;

  beforeAll(() => {
    const resources = [{ path: '/orders/export', method: 'GET' }, { path: '/accounts/login', method: 'POST' }];
    const { restApiId } = py<{ restApiId: string }>({ cmd: 'gateway', region: REGION, stage: 'prod', resources });
    stageArn = `arn:aws:apigateway:${REGION}::/restapis/${restApiId}/stages/prod`;
    const env = readEnvironment(join(CLOUD_TESTDATA, 'lockdown-active.in.yaml'));
    const onMoto: EnvironmentIR = { ...env, cloud: { ...env.cloud!, region: REGION, apiGatewayStageArns: [stageArn], loadBalancerArns: [] } };
    const planned = planCloud(onMoto);
    if (!planned.ok) throw new Error(JSON.stringify(planned.errors));
    plan = planned.value;
    back = py<ReadBack>({ cmd: 'apply', region: REGION, plan });
  }, 90_000);

  it('creates every planned IP set with its addresses', () => {
    expect(plan.ipSets.length).toBeGreaterThanOrEqual(3);
    expect(back.ipSets).toEqual(plan.ipSets.map((s) => ({ name: s.name, version: s.ipAddressVersion, addresses: [...s.addresses].sort() })));
  });

  it('creates the web ACL with the planned rules in order, IP sets referenced by the ARNs AWS gave them', () => {
    const acl = plan.webAcl!;
    expect(back.webAcl.name).toBe(acl.name);
    expect(back.webAcl.rules.map((r) => [r.priority, r.name])).toEqual(acl.rules.map((r) => [r.priority, r.name]));
    expect(back.webAcl.customResponseBodies).toEqual(acl.customResponseBodies.map((b) => b.key).sort());
    const blocked = back.webAcl.rules.find((r) => r.name === acl.rules[0]!.name)!;
    expect(JSON.stringify(blocked.statement)).toMatch(/"ARN":"arn:aws:wafv2:us-east-1:\d{12}:regional\/ipset\/portcullis-prod-lockdown-/);
    const disabled = acl.rules.find((r) => r.kind === 'disabled-route')!;
    expect(back.webAcl.rules.find((r) => r.name === disabled.name)?.action).toEqual({ Block: { CustomResponse: { ResponseCode: 503, CustomResponseBodyKey: `portcullis-route-disabled-${disabled.name.replace('disable-route-', '')}` } } });
  });

  it('associates the web ACL with the existing stage', () => {
    expect(back.associated).toEqual({ [stageArn]: plan.webAcl!.name });
  });

  it('sets stage throttling on the method, and only on resources the REST API has', () => {
    const [setting] = plan.methodSettings;
    expect(setting?.methodPath).toBe('~1orders~1export/GET');
    expect(back.missingResources).toEqual([]);
    expect(back.methodSettings['prod']?.['~1orders~1export/GET']).toMatchObject({ throttlingBurstLimit: setting!.throttlingBurstLimit });
    // The same setting on a REST API without /orders/export is reported, not set.
    const bare = py<{ restApiId: string }>({ cmd: 'gateway', region: REGION, stage: 'prod', resources: [{ path: '/', method: 'GET' }] });
    const elsewhere = { ...setting!, restApiId: bare.restApiId };
    expect(py<{ missing: unknown[] }>({ cmd: 'throttle', region: REGION, methodSettings: [elsewhere] }).missing).toEqual([{ name: setting!.name, path: '/orders/export' }]);
  });

  it('a stale LockToken is refused (WAFOptimisticLockException) and the update retried with a fresh one', () => {
    const set = plan.ipSets.find((s) => s.ipAddressVersion === 'IPV4' && s.name.includes('lockdown'))!;
    const r = py<{ conflicts: string[]; addresses: string[] }>({ cmd: 'stale-update', region: REGION, ipSet: set.name, add: ['192.0.2.99/32'] });
    expect(r.conflicts).toEqual(['WAFOptimisticLockException']);
    // Both writes are there: the concurrent one and ours, applied on top of it after the retry.
    expect(r.addresses).toEqual([...new Set([...set.addresses, '198.18.0.0/15', '192.0.2.99/32'])].sort());
  });
});

describe('attach: ruleGroup on moto, beside the team’s own web ACL', () => {
  it('the rule group holds the plan; the team’s web ACL references it first and stays on the stage', () => {
    const region = 'us-west-2'; // its own region: no name clash with the web ACL case above
    const { restApiId } = py<{ restApiId: string }>({ cmd: 'gateway', region, stage: 'prod', resources: [{ path: '/orders/export', method: 'GET' }] });
    const stageArn = `arn:aws:apigateway:${region}::/restapis/${restApiId}/stages/prod`;
    const env = readEnvironment(join(CLOUD_TESTDATA, 'lockdown-active.in.yaml'));
    const planned = planCloud({ ...env, cloud: { ...env.cloud!, region, apiGatewayStageArns: [stageArn], loadBalancerArns: [] } });
    if (!planned.ok) throw new Error(JSON.stringify(planned.errors));
    const group = ruleGroupPlan(planned.value, 200);
    if (!group.ok) throw new Error(JSON.stringify(group.errors));
    const r = py<{ ruleGroup: { arn: string; capacity: number; rules: string[]; customResponseBodies: string[] }; teamAcl: { name: string; priority: number; statement: Record<string, unknown> }[]; onStage: string }>({
      cmd: 'rule-group',
      region,
      group: group.value,
      ipSets: planned.value.ipSets,
      stageArn,
      reference: ruleGroupReference('__ARN__', 'portcullis-prod'),
    });
    expect(r.ruleGroup.capacity).toBe(200);
    expect(r.ruleGroup.rules).toEqual(group.value.rules.map((x) => x.name));
    expect(r.ruleGroup.customResponseBodies).toEqual(group.value.customResponseBodies.map((b) => b.key).sort());
    expect(r.teamAcl.map((x) => [x.priority, x.name])).toEqual([
      [0, 'portcullis-prod'],
      [10, 'team-bad-bots'],
    ]);
    expect(r.teamAcl[0]?.statement).toEqual({ RuleGroupReferenceStatement: { ARN: r.ruleGroup.arn } });
    expect(r.onStage).toBe('team-edge');
  });
});
