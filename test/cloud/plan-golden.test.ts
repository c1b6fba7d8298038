/** Golden plans: every EnvironmentIR in test/testdata/cloud gives exactly its recorded CloudPlan. */
import { join } from 'node:path';
import { parse } from 'yaml';
import { planCloud } from '../../compiler/cloud';
import type { CloudPlan } from '../../compiler/cloud';
import { expectGolden } from '../support/golden';
import { caseNames, CLOUD_TESTDATA, orphanOutputs, readEnvironment, renderCase } from './golden';

const planOf = (name: string): CloudPlan => {
  const r = planCloud(readEnvironment(join(CLOUD_TESTDATA, `${name}.in.yaml`)));
  if (!r.ok) throw new Error(`${name}: ${JSON.stringify(r.errors)}`);
  return r.value;
};

describe('cloud plan golden files', () => {
  const names = caseNames();

  it('has cases', () => {
    expect(names.length).toBeGreaterThanOrEqual(8);
  });

  it.each(names)('%s', (name) => {
    const actual = renderCase(readEnvironment(join(CLOUD_TESTDATA, `${name}.in.yaml`)));
    expectGolden(join(CLOUD_TESTDATA, `${name}.out.yaml`), actual);
    // Error cases are named so; every other case must plan.
    expect('errors' in (parse(actual) as object)).toBe(name.endsWith('-error'));
  });

  it('has no orphan outputs', () => {
    expect(orphanOutputs()).toEqual([]);
  });

  it('is deterministic: planning twice gives identical output', () => {
    for (const name of names) {
      const env = readEnvironment(join(CLOUD_TESTDATA, `${name}.in.yaml`));
      expect(renderCase(env)).toBe(renderCase(structuredClone(env)));
    }
  });
});

describe('lockdowns on the cloud edge', () => {
  const active = planOf('lockdown-active');
  const expired = planOf('lockdown-expired');
  const basic = planOf('basic');
  const fromLockdown = (p: CloudPlan): string[] =>
    (p.webAcl?.rules ?? []).filter((r) => r.provenance.some((s) => s.startsWith('Lockdown/'))).map((r) => r.name);

  it('an active lockdown appears as WAF rules, first in evaluation order', () => {
    expect(fromLockdown(active)).toEqual([
      'lockdown-stuffing-2026-11-20-block-networks-1',
      'lockdown-stuffing-2026-11-20-block-networks-2',
      'disable-route-orders-export',
      'rate-limit-login-per-ip',
      'rate-limit-orders-shadow',
    ]);
    const rules = active.webAcl?.rules ?? [];
    expect(rules.slice(0, 3).map((r) => r.kind)).toEqual(['lockdown-block-networks', 'lockdown-block-networks', 'disabled-route']);
    const disabled = rules.find((r) => r.name === 'disable-route-orders-export');
    expect(disabled?.action).toEqual({ block: { customResponse: { responseCode: 503, customResponseBodyKey: 'portcullis-route-disabled-orders-export' } } });
    expect(active.webAcl?.customResponseBodies.find((b) => b.key === 'portcullis-route-disabled-orders-export')?.content).toBe(
      'Temporarily disabled during an incident',
    );
    expect(active.ipSets.filter((s) => s.provenance.includes('Lockdown/stuffing-2026-11-20')).map((s) => [s.ipAddressVersion, s.addresses])).toEqual([
      ['IPV4', ['192.0.2.66/32']],
      ['IPV4', ['203.0.113.0/24']],
      ['IPV6', ['2001:db8:bad::/48']],
    ]);
  });

  it('every lockdown action that has no WAF form is listed as enforced in Envoy only', () => {
    const features = active.envoyOnly.filter((e) => e.subject === 'Lockdown/stuffing-2026-11-20').map((e) => e.feature.split(':')[0]);
    expect(features).toEqual(expect.arrayContaining(['revokeTokens', 'requireRole', 'quarantineEndpoint', 'forceFailover']));
    // The tightened login limit (2/min) is below WAF's minimum: Envoy-only, with a backstop rule kept.
    const login = active.envoyOnly.find((e) => e.feature === 'RateLimit login-per-ip on accounts-login');
    expect(login?.reason).toMatch(/^spec\.actions \(tightenRateLimit login-per-ip\): 2 per minute is below AWS WAF's minimum of 10/);
    const backstop = active.webAcl?.rules.find((r) => r.name === 'rate-limit-login-per-ip');
    expect(backstop?.statement).toMatchObject({ rateBasedStatement: { limit: 10, evaluationWindowSec: 60, aggregateKeyType: 'IP' } });
  });

  it('the same lockdown once expired (absent from the IR) leaves nothing behind', () => {
    expect(fromLockdown(expired)).toEqual([]);
    expect(expired.ipSets.some((s) => s.name.includes('lockdown'))).toBe(false);
    expect(expired.envoyOnly.some((e) => e.subject.startsWith('Lockdown/'))).toBe(false);
    expect(expired).toEqual(basic);
  });
});
