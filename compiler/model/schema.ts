/**
 * Schemas of the policy language (docs/policy-language.md), one per kind: the loader checks every
 * document against them, and `portcullis schema` turns the same schemas into JSON Schema for editors.
 * Objects are strict (a typo must not silently disable a rule); values come out normalised:
 * durations in milliseconds, CIDRs and IP literals canonical, names of HTTP methods upper case.
 */
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from '../duration';
import { canonicalAddress, parseCidr } from './cidr';
import { checkInlineJwks } from './jwks';
import { checkRe2 } from './re2';
import { isIP } from 'node:net';
import { triggerSpecSchema } from './trigger-schema';

export const API_VERSION = 'portcullis.dev/v1';
export const KINDS = ['Service', 'Route', 'RateLimit', 'Access', 'Environment', 'Lockdown', 'Trigger'] as const;
export type Kind = (typeof KINDS)[number];

// ---------------------------------------------------------------------------------------------
// Scalars

/** No duration in a policy is meant to exceed a year; a larger one is a typo (`5000h` for `5000ms`). */
export const MAX_DURATION_MS = 365 * 24 * 3_600_000;
const DURATION_HINT = 'must be a duration such as 250ms, 5s, 1m or 2h';

/** A duration string → milliseconds, bounded: (min, 1 year]. */
function duration(opts: { readonly min?: number } = {}) {
  const min = opts.min ?? 1;
  return z
    .string({ error: (iss) => (iss.input === undefined ? undefined : `${DURATION_HINT} (a string)`) })
    .regex(DURATION_PATTERN, { error: DURATION_HINT })
    .superRefine((text, ctx) => {
      const ms = DURATION_PATTERN.test(text) ? parseDuration(text) : null;
      if (ms === null) return; // the pattern already reported it
      if (ms < min) ctx.addIssue({ code: 'custom', message: min === 1 ? 'must be longer than 0' : `must be at least ${min}ms` });
      else if (ms > MAX_DURATION_MS) ctx.addIssue({ code: 'custom', message: 'must be at most 1 year (8760h)' });
    })
    .transform((text) => parseDuration(text) ?? 0)
    .describe('Duration: an integer with unit ms, s, m or h, e.g. 250ms, 5s, 1m, 2h');
}

/** An integer in [min, max]; numbers in YAML are floats, so non-integers, NaN and ±Infinity are refused here. */
function int(min: number, max: number) {
  return z.number().int().min(min).max(max);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A lower-case DNS label: every `metadata.name` and every reference to one. */
export const name = z
  .string()
  .max(63)
  .regex(DNS_LABEL, { error: 'must be a lower-case DNS label: a-z, 0-9 and "-", starting and ending with a letter or digit' });

const names = (what: string) => z.array(name).min(1).describe(what);

/** Free text for humans (reasons, owners, role names) with bounds, so a policy stays reviewable. */
function text(max: number) {
  return z.string().min(1).max(max);
}

/** Text Envoy bounds in bytes (direct-response bodies): the bound is on its UTF-8 encoding. */
function utf8Text(maxBytes: number) {
  return z.string().superRefine((value, ctx) => {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit: only long strings need counting.
    const bytes = value.length * 3 > maxBytes ? Buffer.byteLength(value, 'utf8') : value.length;
    if (bytes > maxBytes) ctx.addIssue({ code: 'custom', message: `must be at most ${maxBytes} bytes in UTF-8, got ${bytes}` });
  });
}

/** A value with no white space (role names, claims, token ids). */
const token = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^\S*$/, { error: 'must not contain white space' });

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** IPv4/IPv6 literal (canonicalised) or a host name (lower-cased). */
const address = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    if (isIP(value) || HOSTNAME.test(value.toLowerCase())) return;
    ctx.addIssue({ code: 'custom', message: `"${clip(value)}" is not an IPv4/IPv6 address or a host name` });
  })
  .transform((value) => (isIP(value) ? canonicalAddress(value) : value.toLowerCase()));

const ipLiteral = z
  .string()
  .superRefine((value, ctx) => {
    if (!isIP(value)) ctx.addIssue({ code: 'custom', message: `"${clip(value)}" is not an IPv4 or IPv6 address` });
  })
  .transform(canonicalAddress);

const port = int(1, 65535).describe('TCP port, 1-65535');

/** CIDR → canonical text; host bits set is an error that suggests the network meant. */
export const cidr = z
  .string()
  .superRefine((value, ctx) => {
    const parsed = parseCidr(value);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
  })
  .transform((value) => {
    const parsed = parseCidr(value);
    return parsed.ok ? parsed.network.cidr : value;
  })
  .describe('IPv4 or IPv6 network in CIDR notation, e.g. 203.0.113.0/24 or 2001:db8::/32');

/** A regex Envoy's RE2 accepts. */
const re2 = z
  .string()
  .superRefine((value, ctx) => {
    const problem = checkRe2(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe('RE2 regular expression (no backreferences or lookaround)');

/** A request path as Envoy matches it: starts with "/", no white space or fragment. */
const requestPath = z
  .string()
  .max(1024)
  .superRefine((value, ctx) => {
    if (!value.startsWith('/')) ctx.addIssue({ code: 'custom', message: 'must start with "/"' });
    else if (/[\s#]/.test(value) || /[\u0000-\u001f\u007f-\u009f]/.test(value)) {
      ctx.addIssue({ code: 'custom', message: 'must not contain white space, control characters or "#"' });
    }
  });

const HEADER_NAME = /^:?[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const headerName = z
  .string()
  .max(256)
  .regex(HEADER_NAME, { error: 'must be an HTTP header name (letters, digits, "-" and RFC 9110 token characters)' })
  .transform((value) => value.toLowerCase());

export const HTTP_METHODS = ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE'] as const;
const methods = z.array(z.enum(HTTP_METHODS)).min(1);

/** Route authority: `*`, a host name, `*.suffix` or `prefix.*`, optionally with `:port`. */
const ROUTE_HOST = /^(\*|(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(\.\*)?)(:[0-9]{1,5})?$/;
const routeHost = z
  .string()
  .max(253)
  .transform((value) => value.toLowerCase())
  .superRefine((value, ctx) => {
    if (!ROUTE_HOST.test(value) || (value.startsWith('*.') && value.endsWith('.*'))) {
      ctx.addIssue({ code: 'custom', message: 'must be "*", a host name, "*.example.com" or "example.*" (optionally with :port)' });
    }
  });

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
/** RFC 3339 timestamp with a zone → canonical ISO-8601 UTC (`2026-11-20T10:00:00.000Z`). */
const timestamp = z
  .string({ error: (iss) => (iss.input === undefined ? undefined : 'must be an RFC 3339 timestamp such as 2026-11-20T10:00:00Z') })
  .superRefine((value, ctx) => {
    if (parseTimestamp(value) === null) {
      ctx.addIssue({ code: 'custom', message: 'must be an RFC 3339 timestamp with a zone, such as 2026-11-20T10:00:00Z' });
    }
  })
  .transform((value) => new Date(parseTimestamp(value) ?? 0).toISOString());

/** Milliseconds since the epoch, or null when the text is not a real calendar instant. */
export function parseTimestamp(value: string): number | null {
  const m = TIMESTAMP.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  if ((mo ?? 0) < 1 || (mo ?? 0) > 12 || (d ?? 0) < 1 || (h ?? 0) > 23 || (mi ?? 0) > 59 || (s ?? 0) > 59) return null;
  // Day in range for that month (Date.UTC would roll 2026-02-30 over to March).
  if ((d ?? 0) > new Date(Date.UTC(y ?? 0, mo ?? 0, 0)).getUTCDate()) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

/**
 * A file on the Envoy host (CA bundle). Its contents are only known there: Envoy checks them; here the
 * reference itself must name a file: absolute, no `.`/`..` or empty segments, no trailing "/".
 */
const hostFilePath = z
  .string()
  .min(1)
  .max(4096)
  .superRefine((value, ctx) => {
    const problem = !value.startsWith('/')
      ? 'must be an absolute path on the Envoy host'
      : /[\u0000-\u001f\u007f-\u009f]/.test(value)
        ? 'must not contain control characters'
        : value.endsWith('/')
          ? 'must name a file, not a folder (it ends with "/")'
          : value.slice(1).split('/').some((seg) => seg === '' || seg === '.' || seg === '..')
            ? 'must be a plain absolute path: no empty, "." or ".." segments'
            : null;
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

// ---------------------------------------------------------------------------------------------
// Service

const endpoint = z.strictObject({
  address,
  port,
  tier: int(0, 9).default(0).describe('Priority tier: 0 serves; 1 takes over when tier 0 is unhealthy or quarantined'),
});

export const serviceSpec = z.strictObject({
  protocol: z.enum(['http1', 'http2']).default('http1'),
  endpoints: z.array(endpoint).min(1).max(1000).describe('Upstream endpoints, at least one; tiers contiguous from 0'),
  timeouts: z
    .strictObject({ connect: duration().prefault('1s'), request: duration().prefault('15s') })
    .prefault({}),
  healthCheck: z
    .strictObject({
      path: requestPath,
      host: address.optional(),
      interval: duration().prefault('5s'),
      timeout: duration().prefault('1s'),
      healthyThreshold: int(1, 100).default(1),
      unhealthyThreshold: int(1, 100).default(2),
      expectedStatuses: z.array(int(100, 599)).min(1).max(100).default([200]),
    })
    .optional(),
  outlierDetection: z
    .strictObject({
      consecutive5xx: int(1, 1000).default(5),
      interval: duration().prefault('10s'),
      baseEjectionTime: duration().prefault('30s'),
      maxEjectionPercent: int(0, 100).default(50),
    })
    .optional(),
  circuitBreaker: z
    .strictObject({
      maxConnections: int(1, 1_000_000_000).default(1024),
      maxPendingRequests: int(1, 1_000_000_000).default(1024),
      maxRequests: int(1, 1_000_000_000).default(1024),
      maxRetries: int(0, 1_000_000_000).default(3),
    })
    .prefault({}),
  tls: z
    .strictObject({
      sni: address.optional(),
      caFile: hostFilePath.default('/etc/ssl/certs/ca-certificates.crt'),
      subjectAltNames: z.array(text(253)).default([]),
    })
    .optional(),
});

// ---------------------------------------------------------------------------------------------
// Route

const pathMatch = z
  .strictObject({ exact: requestPath.optional(), prefix: requestPath.optional(), regex: re2.optional() })
  .superRefine((p, ctx) => {
    const set = (['exact', 'prefix', 'regex'] as const).filter((k) => p[k] !== undefined);
    if (set.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `exactly one of exact, prefix or regex is required${set.length ? ` (got ${set.join(', ')})` : ''}` });
    }
  })
  .describe('Exactly one of exact | prefix | regex');

const headerMatch = z
  .strictObject({
    name: headerName,
    exact: z.string().max(4096).optional(),
    prefix: z.string().min(1).max(4096).optional(),
    regex: re2.optional(),
    present: z.literal(true, { error: 'must be true (leave it out to match on a value)' }).optional(),
    invert: z.boolean().default(false),
  })
  .superRefine((h, ctx) => {
    const set = (['exact', 'prefix', 'regex', 'present'] as const).filter((k) => h[k] !== undefined);
    if (set.length !== 1) {
      ctx.addIssue({ code: 'custom', message: `exactly one of exact, prefix, regex or present is required${set.length ? ` (got ${set.join(', ')})` : ''}` });
    }
  });

/** Envoy `retry_on` conditions that need no further configuration. */
export const RETRY_ON = [
  '5xx',
  'connect-failure',
  'envoy-ratelimited',
  'gateway-error',
  'http3-post-connect-failure',
  'refused-stream',
  'reset',
  'reset-before-request',
  'retriable-4xx',
] as const;

export const routeSpec = z.strictObject({
  host: routeHost.default('*').describe('HTTP authority; routes are grouped into virtual hosts by host'),
  path: pathMatch,
  methods: methods.optional().describe('Any method when absent'),
  headers: z.array(headerMatch).max(32).default([]),
  service: name.describe('A Service name'),
  timeout: duration().optional().describe("Default: the service's request timeout"),
  retries: z
    .strictObject({
      attempts: int(1, 10),
      perTryTimeout: duration().optional(),
      on: z.array(z.enum(RETRY_ON)).min(1).default(['connect-failure', 'reset']),
    })
    .optional(),
});

// ---------------------------------------------------------------------------------------------
// RateLimit

export const RATE_UNITS = ['second', 'minute', 'hour'] as const;
export const UNIT_SECONDS = { second: 1, minute: 60, hour: 3600 } as const;

const rateLimitKey = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('clientIp') }),
  z.strictObject({
    type: z.literal('clientNetwork'),
    ipv4PrefixLength: int(1, 32).default(24),
    ipv6PrefixLength: int(1, 128).default(56),
  }),
  z.strictObject({ type: z.literal('header'), name: headerName }),
  z.strictObject({ type: z.literal('jwtClaim'), claim: token(256) }),
  z.strictObject({ type: z.literal('route') }),
]);

export const rateLimitSpec = z.strictObject({
  routes: names('Route names, at least one'),
  requests: int(1, 1_000_000_000).describe('Requests admitted per unit, > 0'),
  per: z.enum(RATE_UNITS),
  key: rateLimitKey,
  mode: z.enum(['enforce', 'shadow']).default('enforce').describe('enforce answers 429; shadow only counts'),
  scope: z.enum(['instance', 'fleet']).default('instance').describe('instance: a bucket per Envoy; fleet: one budget for the environment (rate-limit service)'),
  onServiceFailure: z.enum(['allow', 'deny']).optional().describe('fleet scope: admit (allow, default) or refuse (deny) when the rate-limit service cannot answer'),
});

// ---------------------------------------------------------------------------------------------
// Access

const jwks = z
  .strictObject({
    uri: z
      .string()
      .max(2048)
      .superRefine((value, ctx) => {
        if (!isHttpUrl(value)) ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL' });
      })
      .optional(),
    cacheDuration: duration().optional(),
    timeout: duration().optional(),
    inline: z
      .string()
      .max(1_000_000)
      .superRefine((value, ctx) => {
        const problem = checkInlineJwks(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
  })
  .superRefine((j, ctx) => {
    if ((j.uri === undefined) === (j.inline === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'exactly one of uri or inline is required' });
    } else if (j.inline !== undefined && (j.cacheDuration !== undefined || j.timeout !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'cacheDuration and timeout apply to a remote (uri) JWKS only' });
    }
  })
  .transform((j) =>
    j.inline !== undefined
      ? { kind: 'inline' as const, json: JSON.stringify(JSON.parse(j.inline)) }
      : { kind: 'remote' as const, uri: j.uri ?? '', cacheDurationMs: j.cacheDuration ?? 300_000, timeoutMs: j.timeout ?? 2000 },
  )
  .describe('Exactly one of uri (with cacheDuration, timeout) or inline (a JWKS JSON string)');

const provider = z.strictObject({
  name,
  issuer: token(2048).describe('Required iss: Envoy checks no issuer when unset'),
  audiences: z.array(token(2048)).min(1).describe('Required, at least one: Envoy checks no audience when unset'),
  jwks,
  requireExpiration: z.boolean().default(true),
  maxLifetime: duration().optional(),
  clockSkew: duration({ min: 0 }).prefault('60s'),
  rolesClaim: z
    .string()
    .max(256)
    .regex(/^[A-Za-z0-9_:/.-]+$/, { error: 'must be a claim name (letters, digits, "_", ":", "/", ".", "-")' })
    .default('roles'),
});

const accessRule = z
  .strictObject({
    routes: names('Route names'),
    methods: methods.optional(),
    roles: z.array(token(128)).min(1).optional().describe('Any of these roles; any valid token when absent'),
    public: z.boolean().optional().describe('No token needed (cannot be combined with roles)'),
  })
  .superRefine((rule, ctx) => {
    if (rule.public === true && rule.roles !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['public'], message: 'a public rule cannot also require roles' });
    }
  });

const networkRule = z.strictObject({
  cidr,
  routes: names('Route names; every route when absent').optional(),
});

export const accessSpec = z.strictObject({
  providers: z.array(provider).default([]),
  rules: z.array(accessRule).default([]),
  networks: z
    .strictObject({ deny: z.array(networkRule).default([]), allow: z.array(networkRule).default([]) })
    .prefault({}),
  revoked: z
    .strictObject({ jtis: z.array(token(256)).default([]), subjects: z.array(token(256)).default([]) })
    .prefault({}),
});

// ---------------------------------------------------------------------------------------------
// Environment

const FLEET = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const AWS_REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$/;
export const API_GATEWAY_STAGE_ARN = /^arn:aws(-[a-z]+)*:apigateway:([a-z0-9-]+)::\/restapis\/[A-Za-z0-9]+\/stages\/[A-Za-z0-9_-]+$/;
export const LOAD_BALANCER_ARN = /^arn:aws(-[a-z]+)*:elasticloadbalancing:([a-z0-9-]+):[0-9]{12}:loadbalancer\/app\/[A-Za-z0-9-]+\/[0-9a-f]+$/;

const cloud = z
  .strictObject({
    region: z.string().regex(AWS_REGION, { error: 'must be an AWS region such as us-east-1' }),
    waf: z.strictObject({ scope: z.enum(['REGIONAL', 'CLOUDFRONT']) }).prefault({ scope: 'REGIONAL' }),
    apiGatewayStages: z
      .array(z.string().regex(API_GATEWAY_STAGE_ARN, { error: 'must be an API Gateway REST API stage ARN: arn:aws:apigateway:REGION::/restapis/ID/stages/STAGE' }))
      .default([]),
    loadBalancers: z
      .array(z.string().regex(LOAD_BALANCER_ARN, { error: 'must be an Application Load Balancer ARN: arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID' }))
      .default([]),
    clientIp: z
      .strictObject({ source: z.enum(['sourceIp', 'forwardedHeader']).default('sourceIp'), header: headerName.optional() })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    c.apiGatewayStages.forEach((arn, i) => {
      const region = API_GATEWAY_STAGE_ARN.exec(arn)?.[2];
      if (region && region !== c.region) ctx.addIssue({ code: 'custom', path: ['apiGatewayStages', i], message: `is in region ${region}, not ${c.region}` });
    });
    c.loadBalancers.forEach((arn, i) => {
      const region = LOAD_BALANCER_ARN.exec(arn)?.[2];
      if (region && region !== c.region) ctx.addIssue({ code: 'custom', path: ['loadBalancers', i], message: `is in region ${region}, not ${c.region}` });
    });
    if (c.waf.scope === 'CLOUDFRONT' && (c.apiGatewayStages.length > 0 || c.loadBalancers.length > 0)) {
      ctx.addIssue({ code: 'custom', path: ['waf', 'scope'], message: 'a CLOUDFRONT web ACL cannot be associated with API Gateway stages or load balancers (use REGIONAL)' });
    }
    if (c.waf.scope === 'CLOUDFRONT' && c.region !== 'us-east-1') {
      ctx.addIssue({ code: 'custom', path: ['region'], message: 'CLOUDFRONT web ACLs live in us-east-1' });
    }
    if (c.clientIp.source === 'sourceIp' && c.clientIp.header !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['clientIp', 'header'], message: 'only applies with source: forwardedHeader' });
    }
  });

/** How the listener splits its route table: `none` (one table) or by first path segment (scoped routes). */
export const ROUTE_SCOPES = ['none', 'firstPathSegment'] as const;

const listener = z.strictObject({
  address: ipLiteral.default('0.0.0.0'),
  port: port.default(10000),
  xffNumTrustedHops: int(0, 16).default(0),
  idleTimeout: duration().prefault('1h'),
  streamIdleTimeout: duration().prefault('5m'),
  requestTimeout: duration().prefault('1m'),
  requestHeadersTimeout: duration().prefault('10s'),
  perConnectionBufferLimitBytes: int(1024, 64 * 1024 * 1024).default(32768),
  maxRequestHeadersKb: int(1, 8192).default(60),
  rateLimitKeys: int(1, 10_000_000).default(100000).describe('LRU size for per-key rate-limit buckets'),
  routeScopes: z
    .enum(ROUTE_SCOPES)
    .default('none')
    .describe('firstPathSegment: one route table per first path segment (SRDS), so a route change re-sends only its table'),
});

/** The environment's global rate-limit service (envoyproxy/ratelimit), needed by `scope: fleet` limits. */
const rateLimitService = z.strictObject({
  address,
  port,
  timeout: duration().prefault('100ms').describe('how long Envoy waits for the service before onServiceFailure applies'),
});

const rateLimitOverride = z
  .strictObject({ requests: int(1, 1_000_000_000).optional(), per: z.enum(RATE_UNITS).optional() })
  .superRefine((o, ctx) => {
    if (o.requests === undefined && o.per === undefined) ctx.addIssue({ code: 'custom', message: 'set requests and/or per' });
  });

export const environmentSpec = z.strictObject({
  fleets: z
    .array(z.string().max(253).regex(FLEET, { error: 'must be an xDS node cluster name: letters, digits, ".", "_", "-"' }))
    .min(1)
    .describe('xDS node.cluster names; a fleet belongs to one environment'),
  listener: listener.prefault({}),
  rateLimitService: rateLimitService.optional(),
  cloud: cloud.optional(),
  overrides: z
    .strictObject({
      services: z.record(name, z.strictObject({ endpoints: z.array(endpoint).min(1).max(1000) })).transform(nameKeyed).prefault({}),
      rateLimits: z.record(name, rateLimitOverride).transform(nameKeyed).prefault({}),
    })
    .prefault({}),
});

// ---------------------------------------------------------------------------------------------
// Lockdown

const lockdownAction = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('tightenRateLimit'),
    rateLimit: name,
    requests: int(1, 1_000_000_000),
    per: z.enum(RATE_UNITS).optional(),
  }),
  z.strictObject({ type: z.literal('blockNetworks'), cidrs: z.array(cidr).min(1).max(10000), routes: names('Route names').optional() }),
  z
    .strictObject({ type: z.literal('revokeTokens'), jtis: z.array(token(256)).default([]), subjects: z.array(token(256)).default([]) })
    .superRefine((a, ctx) => {
      if (a.jtis.length === 0 && a.subjects.length === 0) ctx.addIssue({ code: 'custom', message: 'list at least one of jtis or subjects' });
    }),
  z.strictObject({
    type: z.literal('disableRoute'),
    route: name,
    status: int(400, 599).default(503),
    body: utf8Text(4096).default('Temporarily disabled during an incident'),
  }),
  z.strictObject({ type: z.literal('requireRole'), routes: names('Route names'), roles: z.array(token(128)).min(1) }),
  z.strictObject({ type: z.literal('quarantineEndpoint'), service: name, address, port }),
  z.strictObject({ type: z.literal('forceFailover'), service: name, tier: int(1, 9) }),
]);

export const lockdownSpec = z.strictObject({
  reason: text(2000),
  owner: text(200),
  createdAt: timestamp,
  expiresAt: timestamp.describe('After createdAt; expired lockdowns compile to nothing'),
  environments: names('Environment names, at least one'),
  actions: z.array(lockdownAction).min(1).max(1000),
});

// ---------------------------------------------------------------------------------------------
// Trigger (compiler/model/trigger-schema.ts): Lockdown actions that take no placeholder are shared.

const [tightenAction, , , , , quarantineAction, failoverAction] = lockdownAction.options;
export const triggerSpec = triggerSpecSchema({
  name,
  duration,
  int,
  text,
  token,
  cidr,
  rateUnits: RATE_UNITS,
  plainActions: [tightenAction, quarantineAction, failoverAction],
});

// ---------------------------------------------------------------------------------------------
// Documents

const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
export const metadata = z.strictObject({
  name,
  labels: z
    .record(z.string().max(253).regex(LABEL_KEY, { error: 'must be a label key such as team or example.com/team' }), z.string().max(253))
    .transform(nameKeyed)
    .optional(),
});

export const SPEC_SCHEMAS = {
  Service: serviceSpec,
  Route: routeSpec,
  RateLimit: rateLimitSpec,
  Access: accessSpec,
  Environment: environmentSpec,
  Lockdown: lockdownSpec,
  Trigger: triggerSpec,
} as const;

function documentSchema<K extends Kind>(kind: K) {
  return z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata,
    spec: SPEC_SCHEMAS[kind],
  });
}

export const DOCUMENT_SCHEMAS = {
  Service: documentSchema('Service'),
  Route: documentSchema('Route'),
  RateLimit: documentSchema('RateLimit'),
  Access: documentSchema('Access'),
  Environment: documentSchema('Environment'),
  Lockdown: documentSchema('Lockdown'),
  Trigger: documentSchema('Trigger'),
} as const;

export type ServiceSpec = z.output<typeof serviceSpec>;
export type EndpointSpec = ServiceSpec['endpoints'][number];
export type RouteSpec = z.output<typeof routeSpec>;
export type RateLimitSpec = z.output<typeof rateLimitSpec>;
export type RateUnit = (typeof RATE_UNITS)[number];
export type AccessSpec = z.output<typeof accessSpec>;
export type EnvironmentSpec = z.output<typeof environmentSpec>;
export type LockdownSpec = z.output<typeof lockdownSpec>;
export type LockdownAction = LockdownSpec['actions'][number];
export type TriggerSpec = z.output<typeof triggerSpec>;
/** A Lockdown action whose strings may hold placeholders ({{network}}, ...), filled when the trigger fires. */
export type TriggerActionTemplate = TriggerSpec['lockdown']['actions'][number];
export type { Cause, TriggerKey } from './trigger-schema';
export type SpecOf<K extends Kind> = z.output<(typeof SPEC_SCHEMAS)[K]>;

/**
 * JSON Schema (draft-07) of one policy document, for editors (yaml-language-server) and CI
 * validators. Generated from the same zod schemas the loader uses (input side: durations are
 * strings, defaults shown); refinements (exactly-one-of, RE2, host bits) are only checked by
 * `portcullis validate`. The kinds are discriminated with one `if kind = K then <K's schema>` per
 * kind rather than a `oneOf`: a validator then reports the mistakes of the document's own kind
 * only (a `oneOf` reports every branch's mismatch, dozens of errors for one typo).
 */
export function policySchemaJson(): Record<string, unknown> {
  const branches = KINDS.map((kind) => {
    const { $schema: _drop, ...branch } = z.toJSONSchema(DOCUMENT_SCHEMAS[kind], { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
    return { if: { properties: { kind: { const: kind } }, required: ['kind'] }, then: branch };
  });
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://portcullis.dev/schemas/policy-v1.json',
    title: 'Portcullis policy document',
    description: `A ${KINDS.join(' | ')} document (apiVersion ${API_VERSION}); see docs/policy-language.md`,
    type: 'object',
    required: ['kind'],
    properties: { kind: { type: 'string', enum: [...KINDS], description: 'What this document declares; the rest of the document follows its kind' } },
    allOf: branches,
  };
}

// ---------------------------------------------------------------------------------------------

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * A user-keyed map as a null-prototype object: a Service or RateLimit named `constructor` then finds
 * no override that is not there (a plain object would answer Object.prototype's).
 */
function nameKeyed<V>(record: Record<string, V>): Record<string, V> {
  return Object.assign(Object.create(null) as Record<string, V>, record);
}

export function clip(value: string, max = 60): string {
  return value.length > max ? `${value.slice(0, max - 3)}...` : value;
}
