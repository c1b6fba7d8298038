/**
 * AWS WAF limits, side by side with the exact messages a user sees: rate conversion, quota
 * breaches found by planCloud, and checkWafLimits on plans edited to break one rule at a time.
 */
import type { EnvironmentIR } from '../../compiler/ir/ir';
import { formatDiagnostic } from '../../compiler/result';
import { checkWafLimits, planCloud, statementWcu, toWafRate, WAF_LIMITS } from '../../compiler/cloud';
import type { CloudPlan, WafRulePlan, WafStatement } from '../../compiler/cloud';
import { addresses, cloud, env, limit, route } from './ir-builders';

const messages = (e: EnvironmentIR): string[] => {
  const r = planCloud(e);
  if (r.ok) throw new Error('expected the plan to fail');
  return r.errors.map((d) => formatDiagnostic(d).trimStart());
};

const plan = (e: EnvironmentIR): CloudPlan => {
  const r = planCloud(e);
  if (!r.ok) throw new Error(r.errors.map((d) => formatDiagnostic(d)).join('\n'));
  return r.value;
};

describe('rate conversion (toWafRate)', () => {
  it.each([
    [1, 'second', { kind: 'exact', limit: 60, window: 60 }],
    [50, 'second', { kind: 'exact', limit: 3000, window: 60 }],
    [10, 'minute', { kind: 'exact', limit: 10, window: 60, note: null }],
    [600, 'minute', { kind: 'exact', limit: 600, window: 60, note: null }],
    [9, 'minute', { kind: 'backstop', limit: 10, window: 60, reason: "9 per minute is below AWS WAF's minimum of 10 requests per evaluation window (the shortest window is 60 s)" }],
    [5, 'minute', { kind: 'backstop', limit: 10, window: 60 }],
    [20, 'hour', { kind: 'backstop', limit: 20, window: 600, reason: "20 per hour cannot be expressed: AWS WAF's longest evaluation window is 600 s" }],
    [3, 'hour', { kind: 'backstop', limit: 10, window: 600 }],
    [40_000_000, 'second', { kind: 'none', reason: "40000000 per second is 2400000000 per 60 s, above AWS WAF's maximum of 2000000000" }],
    [2_000_000_001, 'minute', { kind: 'none', reason: "2000000001 per minute is above AWS WAF's maximum of 2000000000 per window" }],
  ] as const)('%d per %s', (requests, unit, expected) => {
    expect(toWafRate(requests, unit)).toMatchObject(expected);
  });

  it('a per-second limit says how WAF counts it differently', () => {
    const r = toWafRate(50, 'second');
    expect(r.kind === 'exact' && r.note).toBe(
      '50 per second is counted on AWS as 3000 per 60 s window: same average, but a burst of up to 3000 in one second passes the WAF',
    );
  });
});

describe('quota breaches found by planCloud', () => {
  it('an IP set above 10,000 addresses names the Access document', () => {
    const e = env('staging', [route('login', { deny: addresses(10_001).map((cidr) => ({ cidr, provenance: 'Access/blocklist' })) })]);
    expect(messages(e)).toEqual([
      'Access/blocklist: IP set portcullis-staging-access-blocklist-deny-networks-ipv4 would hold 10001 IPV4 ranges; an AWS WAF IP set holds at most 10000',
    ]);
    // Exactly at the quota is fine.
    const atQuota = env('staging', [route('login', { deny: addresses(10_000).map((cidr) => ({ cidr, provenance: 'Access/blocklist' })) })]);
    expect(plan(atQuota).ipSets[0]?.addresses).toHaveLength(10_000);
  });

  it('more than 10 rate-based rules names the first that does not fit', () => {
    const routes = Array.from({ length: 11 }, (_, i) => route(`r${i + 10}`, { limits: [limit(`l${i + 10}`, 100, 'minute')] }));
    expect(messages(env('staging', routes))).toEqual([
      'RateLimit/l20: 11 rate-based rules (rate-limit-l10, rate-limit-l11, rate-limit-l12, rate-limit-l13, rate-limit-l14, rate-limit-l15, rate-limit-l16, rate-limit-l17, rate-limit-l18, rate-limit-l19, rate-limit-l20); an AWS WAF web ACL holds at most 10',
    ]);
  });

  it('a web ACL above 5,000 WCU names its largest rules', () => {
    // One RateLimit over 300 routes, each costing host (2 + 10 LOWERCASE) + regex path (3) + methods regex (3).
    const routes = Array.from({ length: 300 }, (_, i) =>
      route(`r${i}`, { host: 'api.example.com', path: { kind: 'regex', value: `/r${i}/[0-9]+` }, methods: ['GET', 'HEAD'], limits: [limit('wide', 1000, 'minute')] }),
    );
    expect(messages(env('prod', routes))).toEqual([
      "Environment/prod: the web ACL needs about 5402 WCU, above AWS WAF's maximum of 5000 (largest rules: rate-limit-wide 5402)",
    ]);
  });

  it('more than 50 IP set references', () => {
    const routes = Array.from({ length: 51 }, (_, i) =>
      route(`r${i}`, { deny: [{ cidr: `192.0.2.${i}/32`, provenance: 'Access/edge' }] }),
    );
    expect(messages(env('prod', routes))).toEqual(['Environment/prod: 51 IP set reference statements; an AWS WAF web ACL holds at most 50']);
  });

  it('more than 50 custom response bodies (49 disabled routes + 403 + 429)', () => {
    const routes = Array.from({ length: 49 }, (_, i) =>
      route(`r${i}`, { disabled: { status: 503, body: 'down', provenance: 'Lockdown/outage' } }),
    );
    expect(messages(env('prod', routes))).toEqual(['Environment/prod: 51 custom response bodies; an AWS WAF web ACL holds at most 50']);
  });

  it('names longer than 128 characters', () => {
    const envName = 'e'.repeat(63);
    const lockdown = `Lockdown/${'l'.repeat(63)}`;
    const e = env(envName, [route('login', { deny: [{ cidr: '203.0.113.0/24', provenance: lockdown }] })]);
    expect(messages(e)).toEqual([
      `${lockdown}: IP set name "portcullis-eeeeeeeeeeeeeeeeeeeeeeeeee..." has 167 characters; AWS WAF accepts 1 to 128`,
    ]);
  });

  it('a disabled route status outside 200-600', () => {
    const e = env('prod', [route('export', { disabled: { status: 601, body: 'down', provenance: 'Lockdown/outage' } })]);
    expect(messages(e)).toEqual([
      'Lockdown/outage spec.actions (disableRoute).status: WAF rule disable-route-export: response status 601 is outside the 200-600 AWS WAF accepts',
    ]);
  });

  it('a path longer than a WAF match string', () => {
    const long = `/${'a'.repeat(200)}`;
    const e = env('prod', [route('long', { path: { kind: 'exact', value: long }, limits: [limit('long-per-ip', 100, 'minute')] })]);
    expect(messages(e)).toEqual([
      'RateLimit/long-per-ip: WAF rule rate-limit-long-per-ip: match string "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..." has 201 characters; AWS WAF accepts 1 to 200',
    ]);
  });

  it('header names WAF cannot match and forwarded headers it cannot read', () => {
    const e = env(
      'prod',
      [
        route('a', { headers: [{ name: 'x-tenant.id', match: { kind: 'exact', value: 'acme' }, invert: false }], deny: [{ cidr: '192.0.2.1/32', provenance: 'Access/edge' }] }),
        route('b'),
        route('c', { limits: [limit('per-key', 100, 'minute', { kind: 'header', name: 'x api key' })] }),
      ],
      cloud({ clientIpSource: { kind: 'forwarded-header', header: 'X_Forwarded_For' } }),
    );
    expect(messages(e)).toEqual([
      'Access/edge: forwarded IP header "X_Forwarded_For" must be letters, digits and hyphens',
      'Access/edge: header name "x-tenant.id" cannot be matched by AWS WAF: 1 to 40 lower-case letters, digits, "_" or "-"',
      'RateLimit/per-key spec.key.name: header name "x api key" cannot be matched by AWS WAF: 1 to 64 lower-case letters, digits, "_" or "-"',
    ]);
  });
});

describe('checkWafLimits on a plan broken one rule at a time', () => {
  const base = plan(
    env('prod', [
      route('login', { methods: ['POST'], deny: [{ cidr: '198.51.100.0/24', provenance: 'Access/edge' }], limits: [limit('login-per-ip', 10, 'minute')] }),
      route('orders', { path: { kind: 'prefix', value: '/orders' }, deny: [{ cidr: '198.51.100.0/24', provenance: 'Access/edge' }] }),
    ]),
  );
  const acl = base.webAcl;
  if (!acl) throw new Error('no web ACL');
  const withRules = (rules: WafRulePlan[]): CloudPlan => ({ ...base, webAcl: { ...acl, rules } });
  const rateRule = acl.rules.find((r) => r.kind === 'rate-limit') as WafRulePlan;
  const rate = (rateRule.statement as Extract<WafStatement, { rateBasedStatement: unknown }>).rateBasedStatement;
  const withRate = (patch: Partial<typeof rate>, rateLimit = rateRule.rateLimit): CloudPlan =>
    withRules(acl.rules.map((r) => (r === rateRule ? { ...r, ...(rateLimit ? { rateLimit } : {}), statement: { rateBasedStatement: { ...rate, ...patch } } } : r)));
  const check = (p: CloudPlan): string[] => checkWafLimits(p).map((d) => formatDiagnostic(d).trimStart());

  it('the unbroken plan passes', () => {
    expect(check(base)).toEqual([]);
  });

  it.each<[string, () => CloudPlan, string[]]>([
    [
      'a limit below the minimum',
      () => withRate({ limit: 5 }, { name: 'login-per-ip', requests: 5, per: 'minute' }),
      ["RateLimit/login-per-ip spec.requests: 5 per minute (5 per 60 s) is below AWS WAF's minimum of 10 requests per evaluation window"],
    ],
    [
      'a limit above the maximum',
      () => withRate({ limit: 3_000_000_000 }),
      ["RateLimit/login-per-ip spec.requests: 10 per minute (3000000000 per 60 s) is above AWS WAF's maximum of 2000000000 requests per evaluation window"],
    ],
    [
      'an evaluation window WAF does not offer',
      () => withRate({ evaluationWindowSec: 30 as 60 }),
      ['RateLimit/login-per-ip spec.per: evaluation window 30 s is not one AWS WAF offers (60, 120, 300, 600 s)'],
    ],
    [
      'a CONSTANT key without scope-down',
      () => withRate({ aggregateKeyType: 'CONSTANT', scopeDownStatement: undefined }),
      ['RateLimit/login-per-ip spec.key: WAF rule rate-limit-login-per-ip: a rate-based rule keyed on CONSTANT needs a scope-down statement'],
    ],
    [
      'a duplicate priority',
      () => withRules(acl.rules.map((r, i) => (i === 1 ? { ...r, priority: acl.rules[0]?.priority ?? 0 } : r))),
      ['RateLimit/login-per-ip: WAF rule rate-limit-login-per-ip has priority 3000, already used by rule access-edge-deny-networks; priorities must be unique'],
    ],
    [
      'a duplicate name',
      () => withRules(acl.rules.map((r, i) => (i === 1 ? { ...r, name: acl.rules[0]?.name ?? '' } : r))),
      ['RateLimit/login-per-ip: WAF rule name access-edge-deny-networks is used twice; rule names must be unique'],
    ],
    [
      'a rule nested four levels deep',
      () => {
        const leaf = (acl.rules[0] as WafRulePlan).statement;
        const deep: WafStatement = { notStatement: { statement: { andStatement: { statements: [leaf, { orStatement: { statements: [leaf, { notStatement: { statement: leaf } }] } }] } } } };
        return withRules(acl.rules.map((r, i) => (i === 0 ? { ...r, statement: deep } : r)));
      },
      ['Access/edge: WAF rule access-edge-deny-networks nests 4 AND/OR/NOT levels; the provider accepts 3'],
    ],
    [
      'a reserved metric name',
      () => withRules(acl.rules.map((r, i) => (i === 0 ? { ...r, visibilityConfig: { ...r.visibilityConfig, metricName: 'All' } } : r))),
      ['Access/edge: metric name "All" is reserved by AWS WAF'],
    ],
    [
      'a /0 range in an IP set',
      () => ({ ...base, ipSets: base.ipSets.map((s) => ({ ...s, addresses: ['0.0.0.0/0'] })) }),
      ['Access/edge: IP set portcullis-prod-access-edge-deny-networks-ipv4: AWS WAF does not accept the /0 range 0.0.0.0/0'],
    ],
  ])('%s', (_what, broken, expected) => {
    expect(check(broken())).toEqual(expected);
  });
});

describe('capacity estimate (WCU)', () => {
  it('uses the documented per-statement costs', () => {
    const host: WafStatement = {
      byteMatchStatement: { fieldToMatch: { singleHeader: { name: 'host' } }, positionalConstraint: 'EXACTLY', searchString: 'a', textTransformations: [{ priority: 0, type: 'LOWERCASE' }] },
    };
    const path: WafStatement = {
      regexMatchStatement: { fieldToMatch: { uriPath: {} }, regexString: '^/a$', textTransformations: [{ priority: 0, type: 'NONE' }] },
    };
    const ip: WafStatement = { ipSetReferenceStatement: { ipSet: 'x' } };
    expect(statementWcu(host)).toBe(12);
    expect(statementWcu(path)).toBe(3);
    expect(statementWcu(ip)).toBe(1);
    expect(statementWcu({ andStatement: { statements: [ip, { notStatement: { statement: host } }, path] } })).toBe(16);
    expect(
      statementWcu({
        rateBasedStatement: {
          limit: 10,
          evaluationWindowSec: 60,
          aggregateKeyType: 'CUSTOM_KEYS',
          customKeys: [{ header: { name: 'x-api-key', textTransformations: [{ priority: 0, type: 'NONE' }] } }],
          scopeDownStatement: path,
        },
      }),
    ).toBe(2 + 30 + 3);
  });

  it('says when the web ACL goes past the WCUs included in its price', () => {
    // 100 routes × (12 + 3 + 3) under one rate limit = 1,802 WCU: accepted, with a note.
    const routes = Array.from({ length: 100 }, (_, i) =>
      route(`r${i}`, { host: 'api.example.com', path: { kind: 'regex', value: `/r${i}/[0-9]+` }, methods: ['GET', 'HEAD'], limits: [limit('wide', 1000, 'minute')] }),
    );
    const p = plan(env('prod', routes));
    expect(p.webAcl?.capacity).toEqual({ estimatedWcu: 1802, maxWcu: WAF_LIMITS.maxWebAclWcu });
    expect(p.notes).toContainEqual({ subject: 'Environment/prod', message: 'the web ACL uses about 1802 WCU; AWS bills extra above 1500' });
  });
});
