/** Small EnvironmentIR builders for table tests (golden cases use full YAML instead). */
import type { CloudIR, EnvironmentIR, NetworkRuleIR, RateLimitIR, RouteIR } from '../../compiler/ir/ir';

export const ALB = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/edge/0123456789abcdef';
export const STAGE = 'arn:aws:apigateway:eu-west-1::/restapis/a1b2c3d4e5/stages/v1';

export function cloud(overrides: Partial<CloudIR> = {}): CloudIR {
  return {
    region: 'eu-west-1',
    wafScope: 'REGIONAL',
    apiGatewayStageArns: [],
    loadBalancerArns: [ALB],
    clientIpSource: { kind: 'source-ip' },
    ...overrides,
  };
}

export interface RouteOptions {
  readonly host?: string;
  readonly path?: RouteIR['match']['path'];
  readonly methods?: readonly string[];
  readonly headers?: RouteIR['match']['headers'];
  readonly deny?: readonly NetworkRuleIR[];
  readonly allow?: readonly NetworkRuleIR[];
  readonly limits?: readonly RateLimitIR[];
  readonly disabled?: RouteIR['disabled'];
}

export function route(name: string, o: RouteOptions = {}): RouteIR {
  return {
    name,
    host: o.host ?? '*',
    match: { path: o.path ?? { kind: 'exact', value: `/${name}` }, methods: o.methods ?? [], headers: o.headers ?? [] },
    service: 'app',
    timeoutMs: 15000,
    retries: null,
    disabled: o.disabled ?? null,
    access: { authentication: 'none', providers: [], rules: [], allowedNetworks: o.allow ?? [], deniedNetworks: o.deny ?? [] },
    rateLimits: o.limits ?? [],
  };
}

export function limit(name: string, requests: number, unit: RateLimitIR['unit'], key: RateLimitIR['key'] = { kind: 'client-ip' }, provenance = `RateLimit/${name}`): RateLimitIR {
  return { name, requests, unit, key, mode: 'enforce', scope: 'instance', onServiceFailure: 'allow', provenance };
}

export function env(name: string, routes: readonly RouteIR[], c: CloudIR | null = cloud(), overrides: Partial<EnvironmentIR> = {}): EnvironmentIR {
  return {
    name,
    fleets: [`edge-${name}`],
    listener: {
      address: '0.0.0.0',
      port: 10000,
      xffNumTrustedHops: 0,
      idleTimeoutMs: 3600000,
      streamIdleTimeoutMs: 300000,
      requestTimeoutMs: 60000,
      requestHeadersTimeoutMs: 10000,
      perConnectionBufferLimitBytes: 32768,
      maxRequestHeadersKb: 60,
      rateLimitMaxDynamicDescriptors: 100000,
      routeScopes: 'none',
    },
    cloud: c,
    services: [
      {
        name: 'app',
        protocol: 'http1',
        connectTimeoutMs: 1000,
        requestTimeoutMs: 15000,
        endpoints: [{ address: '10.0.9.10', port: 8080, tier: 0, priority: 0 }],
        quarantined: [],
        forcedFailover: null,
        healthCheck: null,
        outlierDetection: null,
        circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 },
        tls: null,
      },
    ],
    routes,
    jwtProviders: [],
    revokedTokens: { jtis: [], subjects: [] },
    activeLockdowns: [],
    triggers: [],
    ...overrides,
  };
}

/** `n` distinct IPv4 /32s from 10.0.0.0/8. */
export function addresses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`);
}
