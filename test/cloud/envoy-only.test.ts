/** Nothing is dropped silently: what AWS cannot enforce is listed, and API Gateway paths are exact. */
import { methodPaths, parseStageArn } from '../../compiler/cloud/api-gateway';
import { envoyOnlyEntries } from '../../compiler/cloud/envoy-only';
import { planCloud } from '../../compiler/cloud';
import { cloud, env, limit, route, STAGE } from './ir-builders';

describe('enforced in Envoy only', () => {
  it('lists every lockdown action without a WAF form, even one the planner does not know', () => {
    const e = env('prod', [route('a')], cloud(), {
      activeLockdowns: [
        {
          name: 'incident-1',
          reason: 'r',
          owner: '@o',
          createdAt: '2026-11-20T10:00:00Z',
          expiresAt: '2026-11-20T14:00:00Z',
          actions: ['blockNetworks', 'disableRoute', 'tightenRateLimit', 'shadowTraffic', 'revokeTokens', 'revokeTokens'],
        },
      ],
    });
    expect(envoyOnlyEntries(e)).toEqual([
      { subject: 'Lockdown/incident-1', feature: 'revokeTokens', reason: 'AWS WAF does not validate or decode JWTs, so it cannot refuse a token by jti or sub' },
      { subject: 'Lockdown/incident-1', feature: 'shadowTraffic', reason: 'the lockdown action shadowTraffic has no AWS WAF translation' },
    ]);
  });

  it('lists JWT routes per Access document and method allow-lists of public routes', () => {
    const jwt = route('orders');
    const pub = route('health');
    const e = env('prod', [
      { ...jwt, access: { ...jwt.access, authentication: 'jwt', providers: ['idp'], rules: [{ methods: [], roles: ['reader'], provenance: 'Access/api' }] } },
      { ...pub, access: { ...pub.access, rules: [{ methods: ['GET'], roles: [], provenance: 'Access/public' }] } },
      { ...pub, name: 'open', access: { ...pub.access, rules: [{ methods: [], roles: [], provenance: 'Access/public' }] } },
    ]);
    expect(envoyOnlyEntries(e).map((x) => `${x.subject}: ${x.feature}`)).toEqual([
      'Access/api: JWT authentication and access rules on orders',
      'Access/public: method allow-lists of public routes health',
    ]);
  });
});

describe('API Gateway method paths', () => {
  it.each([
    [{ kind: 'exact', value: '/accounts/login' }, ['POST'], ['~1accounts~1login/POST']],
    [{ kind: 'exact', value: '/orders' }, ['GET', 'HEAD'], ['~1orders/GET', '~1orders/HEAD']],
    [{ kind: 'exact', value: '/' }, [], ['~1/*']],
    [{ kind: 'prefix', value: '/' }, [], ['*/*']],
    [{ kind: 'prefix', value: '/' }, ['GET'], null],
    [{ kind: 'prefix', value: '/orders' }, [], null],
    [{ kind: 'regex', value: '/orders/[0-9]+' }, [], null],
  ] as const)('%j %j', (path, methods, expected) => {
    expect(methodPaths(route('r', { path, methods }))).toEqual(expected);
  });

  it('parses REST API stage ARNs only', () => {
    expect(parseStageArn(STAGE)).toEqual({ arn: STAGE, region: 'eu-west-1', restApiId: 'a1b2c3d4e5', stageName: 'v1' });
    expect(parseStageArn('arn:aws:apigateway:eu-west-1::/apis/abc/stages/$default')).toBeNull();
  });

  it('throttles route-keyed limits on the stage; per-client limits are noted instead', () => {
    const r = planCloud(
      env('prod', [route('login', { methods: ['POST'], limits: [limit('login-total', 120, 'minute', { kind: 'route' }), limit('login-per-ip', 10, 'minute')] })], cloud({ apiGatewayStageArns: [STAGE], loadBalancerArns: [] })),
    );
    if (!r.ok) throw new Error('plan failed');
    expect(r.value.methodSettings).toEqual([
      {
        name: 'a1b2c3d4e5-v1-login-post',
        restApiId: 'a1b2c3d4e5',
        stageName: 'v1',
        methodPath: '~1login/POST',
        throttlingRateLimit: 2,
        throttlingBurstLimit: 120,
        route: 'login',
        provenance: 'RateLimit/login-total',
      },
    ]);
    expect(r.value.notes).toContainEqual({
      subject: 'RateLimit/login-per-ip',
      message: 'login-per-ip: keyed per client-ip, so not applied to API Gateway stage throttling (it limits a method for all callers together)',
    });
  });
});
