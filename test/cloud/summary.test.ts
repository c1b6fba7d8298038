/** The human summary `portcullis plan` prints for the cloud edge. */
import { join } from 'node:path';
import { planCloud, renderCloudPlanSummary, type CloudPlan } from '../../compiler/cloud';
import { CLOUD_TESTDATA, readEnvironment } from './golden';

const planOf = (name: string): CloudPlan => {
  const r = planCloud(readEnvironment(join(CLOUD_TESTDATA, `${name}.in.yaml`)));
  if (!r.ok) throw new Error(name);
  return r.value;
};

describe('renderCloudPlanSummary', () => {
  const active = planOf('lockdown-active');
  const basic = planOf('basic');

  it('lists the rules in evaluation order and everything enforced in Envoy only', () => {
    const text = renderCloudPlanSummary(active);
    const lines = text.split('\n');
    expect(lines[0]).toBe('Cloud — prod: AWS WAF REGIONAL web ACL portcullis-prod in us-east-1');
    expect(lines[1]).toBe('  9 rule(s), about 132 of 5000 WCU; 6 IP set(s); associated with 2 gateway(s)');
    const priorities = lines.filter((l) => /^ {4}\d{4} /.test(l)).map((l) => Number(l.trim().split(' ')[0]));
    expect(priorities).toEqual([...priorities].sort((a, b) => a - b));
    expect(text).toContain('    2000 disable-route-orders-export (block 503, 16 WCU): Lockdown/stuffing-2026-11-20: route orders-export answers 503 "Temporarily disabled during an incident"');
    expect(text).toContain('  enforced in Envoy only (7):');
    for (const feature of ['revokeTokens', 'requireRole: orders-export (admin)', 'quarantineEndpoint: orders 10.0.1.12:8080', 'forceFailover: accounts to tier 1'])
      expect(text).toContain(`Lockdown/stuffing-2026-11-20 ${feature}:`);
    expect(text).toContain('  API Gateway stage throttling:\n    a1b2c3d4e5/prod ~1orders~1export/GET: 2 req/s, burst 120 (RateLimit/export-total, route orders-export)');
  });

  it('marks what a change adds, removes and changes against the base plan', () => {
    const text = renderCloudPlanSummary(active, { before: basic });
    expect(text).toContain('    + 1000 lockdown-stuffing-2026-11-20-block-networks-1 ');
    expect(text).toContain('    + 2000 disable-route-orders-export ');
    expect(text).toContain('    ~ 5001 rate-limit-login-per-ip ');
    expect(text).toContain('      3000 access-api-access-deny-networks ');
    const lifted = renderCloudPlanSummary(basic, { before: active });
    expect(lifted).toContain('    - 2000 disable-route-orders-export ');
  });

  it('renders markdown for pull request comments', () => {
    const md = renderCloudPlanSummary(active, { format: 'markdown' });
    expect(md.split('\n')[0]).toBe('**Cloud — prod: AWS WAF REGIONAL web ACL `portcullis-prod` in us-east-1**');
    expect(md).toContain('- enforced in Envoy only (7):');
    expect(md).toContain('  - 1000 `lockdown-stuffing-2026-11-20-block-networks-1` (block 403, 1 WCU)');
  });

  it('says when an environment has no cloud gateways', () => {
    expect(renderCloudPlanSummary(planOf('no-cloud'))).toBe('Cloud — dev: no cloud gateways; every policy is enforced in Envoy only\n');
  });
});
