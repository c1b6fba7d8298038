/**
 * The intermediate representation (IR): the one contract between the policy loader and every
 * enforcement layer (Envoy via xDS, AWS WAFv2/API Gateway via Pulumi, the monitor).
 *
 * Rules for this file:
 * - Plain readonly data only: no classes, no functions, no protobuf messages, no Pulumi Outputs.
 * - Deterministic: every array is sorted as its doc comment says, so the same policies always give
 *   byte-identical IR (and therefore identical content-hash versions downstream).
 * - Resolved: per-environment overrides and active lockdowns are already applied; translators map,
 *   they never decide policy. `provenance` fields say which policy document produced a rule, so a
 *   plan or a WAF rule name can point back at it.
 * - Durations are integers in milliseconds.
 */
import type { TriggerActionTemplate } from '../model/schema';

/** Whole repository, compiled for one instant `now`. */
export interface PolicyIR {
  /** IR format version, bumped on incompatible changes. */
  readonly irVersion: 1;
  /** The `now` the compiler was given (ISO-8601 UTC); lockdowns active at this instant are applied. */
  readonly compiledAt: string;
  /**
   * Earliest future instant (ISO-8601 UTC) at which the compiled result changes by itself: the next
   * expiry or start of a lockdown. Null when nothing is time-boxed. The control server recompiles then.
   */
  readonly nextChangeAt: string | null;
  /** One entry per `Environment` document, sorted by name. */
  readonly environments: readonly EnvironmentIR[];
}

/** Everything one environment enforces, with its overrides and active lockdowns applied. */
export interface EnvironmentIR {
  /** `Environment` metadata.name, e.g. `prod`. */
  readonly name: string;
  /** Envoy fleets of this environment: the xDS `node.cluster` values, sorted. A fleet is in exactly one environment. */
  readonly fleets: readonly string[];
  /** The edge listener every fleet of this environment runs. */
  readonly listener: ListenerIR;
  /** Existing cloud gateways Portcullis attaches rules to (never creates); null when the environment has none. */
  readonly cloud: CloudIR | null;
  /** The rate-limit service counting `scope: fleet` limits; absent when the environment sets none. */
  readonly rateLimitService?: RateLimitServiceIR;
  /** Upstream services, sorted by name. */
  readonly services: readonly ServiceIR[];
  /** Routes in match order (see `compareRoutes` in the compiler): first match wins in Envoy. */
  readonly routes: readonly RouteIR[];
  /** JWT providers from all `Access` documents, sorted by name. */
  readonly jwtProviders: readonly JwtProviderIR[];
  /** Tokens refused on every route that requires a JWT (from `Access` and active lockdowns). */
  readonly revokedTokens: RevokedTokensIR;
  /** Lockdowns active in this environment at `compiledAt`, sorted by name (what is applied, and why). */
  readonly activeLockdowns: readonly LockdownSummaryIR[];
  /** Detection rules watching this environment (`Trigger` documents), sorted by name. */
  readonly triggers: readonly TriggerIR[];
  /**
   * Lockdowns run in shadow mode here (the control server's shadow API, never git), sorted by name:
   * Envoy evaluates and logs what each would refuse, nothing is enforced. Absent when none.
   */
  readonly shadowOverlays?: readonly ShadowOverlayIR[];
}

/** Downstream-facing listener settings (HttpConnectionManager edge best practices). */
export interface ListenerIR {
  /** Bind address, default `0.0.0.0`. */
  readonly address: string;
  /** Bind port, default 10000. */
  readonly port: number;
  /** Trusted proxies in front of Envoy that append X-Forwarded-For (0 = Envoy is the edge). */
  readonly xffNumTrustedHops: number;
  /** Connection idle timeout. */
  readonly idleTimeoutMs: number;
  /** Stream idle timeout (no bytes on a stream). */
  readonly streamIdleTimeoutMs: number;
  /** Whole-request timeout (headers + body received). */
  readonly requestTimeoutMs: number;
  /** Time allowed to receive request headers. */
  readonly requestHeadersTimeoutMs: number;
  /** Per-connection buffer limit in bytes (listener and clusters). */
  readonly perConnectionBufferLimitBytes: number;
  /** Max size of request headers in KiB. */
  readonly maxRequestHeadersKb: number;
  /**
   * Size of the LRU holding per-key (dynamic descriptor) token buckets of local rate limits. Envoy's
   * default (20) lets an attacker with many addresses reset buckets by eviction; we size it.
   */
  readonly rateLimitMaxDynamicDescriptors: number;
  /**
   * How routes are split into tables: `none`, one RouteConfiguration (RDS); `firstPathSegment`, one
   * per first path segment selected by scoped routes (SRDS), so a route change re-sends only the
   * table of its segment. Routing is the same either way (see compiler/envoy/route-scopes.ts).
   */
  readonly routeScopes: 'none' | 'firstPathSegment';
}

/** The cloud edge of one environment (consumed by stacks/). */
export interface CloudIR {
  /** AWS region of the gateways, e.g. `us-east-1`. */
  readonly region: string;
  /** WAFv2 scope of the web ACL: REGIONAL (API Gateway stages, ALBs) or CLOUDFRONT. */
  readonly wafScope: 'REGIONAL' | 'CLOUDFRONT';
  /** ARNs of existing API Gateway stages to associate the web ACL with, sorted. */
  readonly apiGatewayStageArns: readonly string[];
  /** ARNs of existing load balancers to associate the web ACL with, sorted. */
  readonly loadBalancerArns: readonly string[];
  /** How WAF should find the client address: the source IP, or a forwarded header (e.g. X-Forwarded-For). */
  readonly clientIpSource:
    /** The TCP peer of the gateway. */
    | { readonly kind: 'source-ip' }
    | {
        readonly kind: 'forwarded-header';
        /** Header carrying the client address, lower case (default `x-forwarded-for`). */
        readonly header: string;
      };
}

/** Where a rule came from: `Kind/name` of the document, e.g. `RateLimit/login-per-ip` or `Lockdown/stuffing-2026-11-20`. */
export type Provenance = string;

// ---------------------------------------------------------------------------------------------
// Services

export interface ServiceIR {
  /** `Service` metadata.name; the Envoy cluster's name. */
  readonly name: string;
  /** Upstream HTTP protocol. */
  readonly protocol: 'http1' | 'http2';
  /** Envoy's connect timeout to an endpoint (cluster `connect_timeout`). */
  readonly connectTimeoutMs: number;
  /** Default timeout for routes to this service that set none. */
  readonly requestTimeoutMs: number;
  /**
   * Endpoints that receive traffic, sorted by (priority, address, port). `priority` is the Envoy
   * priority: tiers renumbered from 0 after quarantine and forced failover are applied.
   */
  readonly endpoints: readonly EndpointIR[];
  /** Endpoints removed by a lockdown's quarantine action, sorted by (address, port). */
  readonly quarantined: readonly QuarantinedEndpointIR[];
  /** Set when a lockdown forces traffic to a tier: tiers below `tier` are left out. */
  readonly forcedFailover: {
    /** Lowest tier left serving. */
    readonly tier: number;
    /** The Lockdown that forced it (the highest forced tier wins). */
    readonly provenance: Provenance;
  } | null;
  /** Active HTTP health checking of the endpoints; null = none (Envoy assumes them healthy). */
  readonly healthCheck: HealthCheckIR | null;
  /** Passive ejection of endpoints that fail (Envoy outlier detection); null = none. */
  readonly outlierDetection: OutlierDetectionIR | null;
  /** Envoy's per-cluster limits on connections and requests (default thresholds, priority DEFAULT). */
  readonly circuitBreaker: CircuitBreakerIR;
  /** TLS to the upstream; null = plain text. */
  readonly tls: UpstreamTlsIR | null;
}

export interface EndpointIR {
  /** IP address or DNS name (DNS names make the cluster STRICT_DNS). */
  readonly address: string;
  /** TCP port of the endpoint. */
  readonly port: number;
  /** Tier as written in the policy (0 serves first). */
  readonly tier: number;
  /** Envoy locality priority after forced failover/quarantine renumbering (0-based, contiguous). */
  readonly priority: number;
}

export interface QuarantinedEndpointIR {
  /** The endpoint as the Service (or its override) names it. */
  readonly address: string;
  /** Its TCP port. */
  readonly port: number;
  /** The first Lockdown that quarantines it. */
  readonly provenance: Provenance;
}

export interface HealthCheckIR {
  /** HTTP path probed with GET. */
  readonly path: string;
  /** Host header of the probe; null = the cluster name. */
  readonly host: string | null;
  /** Time between probes of one endpoint. */
  readonly intervalMs: number;
  /** A probe without an answer by then fails. */
  readonly timeoutMs: number;
  /** Consecutive passing probes that make an unhealthy endpoint healthy again. */
  readonly healthyThreshold: number;
  /** Consecutive failing probes that make an endpoint unhealthy. */
  readonly unhealthyThreshold: number;
  /** Status codes counted as healthy, sorted; default [200]. */
  readonly expectedStatuses: readonly number[];
}

export interface OutlierDetectionIR {
  /** Consecutive 5xx answers (or connect failures) that eject an endpoint. */
  readonly consecutive5xx: number;
  /** How often Envoy sweeps for ejections and returns ejected endpoints. */
  readonly intervalMs: number;
  /** Ejection time of a first ejection; Envoy multiplies it by the number of ejections. */
  readonly baseEjectionTimeMs: number;
  /** At most this share of the service's endpoints is ejected at once. */
  readonly maxEjectionPercent: number;
}

export interface CircuitBreakerIR {
  /** Open connections to all endpoints together (HTTP/1). */
  readonly maxConnections: number;
  /** Requests queued waiting for a connection; past it Envoy answers 503 at once. */
  readonly maxPendingRequests: number;
  /** Requests in flight to the service (HTTP/2 streams count one each). */
  readonly maxRequests: number;
  /** Retries in flight to the service: a retry budget across all its routes. */
  readonly maxRetries: number;
}

export interface UpstreamTlsIR {
  /** SNI sent to the upstream; null = none. */
  readonly sni: string | null;
  /** File on the Envoy host with trusted CA certificates (default the system bundle). */
  readonly caFile: string;
  /** Accepted subject alternative names (exact), sorted; empty = any name the CA vouches for. */
  readonly subjectAltNames: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Routes

export interface RouteIR {
  /** `Route` metadata.name; unique. */
  readonly name: string;
  /** Host (HTTP authority) matched, `*` for any. Envoy virtual hosts group routes by this. */
  readonly host: string;
  /** What a request must look like to take this route (path, methods, headers). */
  readonly match: RouteMatchIR;
  /** Target service name (always a key of `EnvironmentIR.services`). */
  readonly service: string;
  /** Whole-request timeout (the route's, else the service's request timeout, else 15 s). */
  readonly timeoutMs: number;
  /** Envoy's retry policy; null = no retries. */
  readonly retries: RetryPolicyIR | null;
  /** Set when a lockdown disables the route: Envoy answers directly with this status and body. */
  readonly disabled: {
    /** HTTP status of the direct answer. */
    readonly status: number;
    /** Body of the answer; empty = none (at most 4096 bytes of UTF-8: Envoy's limit). */
    readonly body: string;
    /** The first Lockdown (by name) that disables the route. */
    readonly provenance: Provenance;
  } | null;
  /** Who may call the route (shared by routes with the same rules: compare by identity). */
  readonly access: RouteAccessIR;
  /** Rate limits on this route, sorted by name. */
  readonly rateLimits: readonly RateLimitIR[];
}

export interface RouteMatchIR {
  /** The path condition (every route has exactly one). */
  readonly path: {
    /** Envoy path matcher: `path` (exact), `prefix`, or `safe_regex` (RE2, full match). */
    readonly kind: 'exact' | 'prefix' | 'regex';
    /** The path, prefix or regex as written (paths start with `/`). */
    readonly value: string;
  };
  /** HTTP methods, upper case, sorted; empty = any method. */
  readonly methods: readonly string[];
  /** Header matches, sorted by name. */
  readonly headers: readonly HeaderMatchIR[];
}

export interface HeaderMatchIR {
  /** Header name, lower case. */
  readonly name: string;
  /** How the header's value must look. */
  readonly match:
    | {
        /** Envoy string matcher: `exact`, `prefix` or `safe_regex` (RE2, full match). */
        readonly kind: 'exact' | 'prefix' | 'regex';
        /** The value, prefix or regex as written. */
        readonly value: string;
      }
    /** The header is there, whatever its value. */
    | { readonly kind: 'present' };
  /** True = the request must NOT match. */
  readonly invert: boolean;
}

export interface RetryPolicyIR {
  /** Retries after the first try (Envoy `num_retries`). */
  readonly attempts: number;
  /** Timeout of each try; null = the route's timeout covers all tries together. */
  readonly perTryTimeoutMs: number | null;
  /** Envoy retry_on conditions, sorted, e.g. `5xx`, `connect-failure`, `reset`. */
  readonly on: readonly string[];
}

/** Who may call a route. Evaluated after JWT authentication, before rate limits. */
export interface RouteAccessIR {
  /**
   * `none`: no JWT needed (public route). `jwt`: a valid JWT from one of `providers` is required
   * (401 otherwise).
   */
  readonly authentication: 'none' | 'jwt';
  /** Provider names accepted on this route (any one of them), sorted; empty when `none`. */
  readonly providers: readonly string[];
  /**
   * Allow rules, sorted by provenance then index; a request passes when ANY rule matches (403
   * otherwise). Empty with `jwt` = any valid token; empty with `none` = anyone.
   */
  readonly rules: readonly AccessRuleIR[];
  /** Client networks allowed (CIDR, sorted: IPv4 before IPv6, by address, then prefix length); empty = every network. Checked on the real client address. */
  readonly allowedNetworks: readonly NetworkRuleIR[];
  /** Client networks denied (CIDR, sorted like allowedNetworks, one entry per CIDR), including lockdown blocks; deny beats allow. */
  readonly deniedNetworks: readonly NetworkRuleIR[];
}

export interface AccessRuleIR {
  /** Methods this rule allows, upper case, sorted; empty = any. */
  readonly methods: readonly string[];
  /** Roles (any of) read from the provider's roles claim, sorted; empty = no role needed. */
  readonly roles: readonly string[];
  /** The Access document, or the Lockdown whose requireRole replaced the route's rules. */
  readonly provenance: Provenance;
}

export interface NetworkRuleIR {
  /** Canonical CIDR, e.g. `203.0.113.0/24` or `2001:db8::/32`. */
  readonly cidr: string;
  /** The Access document, or the Lockdown that blocks the network. */
  readonly provenance: Provenance;
}

export interface RevokedTokensIR {
  /** Revoked `jti` claim values, sorted, de-duplicated. */
  readonly jtis: readonly string[];
  /** Revoked `sub` claim values, sorted, de-duplicated. */
  readonly subjects: readonly string[];
}

export interface JwtProviderIR {
  /** Provider name from the Access document (a DNS label); unique across the policy. */
  readonly name: string;
  /** Required `iss` (always set: jwt_authn skips the check when unset). */
  readonly issuer: string;
  /** Accepted `aud` values, sorted, at least one (jwt_authn skips the check when empty). */
  readonly audiences: readonly string[];
  /** Where the signing keys come from. */
  readonly jwks:
    | {
        /** Fetched by Envoy over HTTPS (a `jwks/<provider>` cluster). */
        readonly kind: 'remote';
        /** The JWKS URL. */
        readonly uri: string;
        /** How long Envoy keeps fetched keys before fetching again. */
        readonly cacheDurationMs: number;
        /** Deadline of one fetch. */
        readonly timeoutMs: number;
      }
    | {
        /** Written in the policy. */
        readonly kind: 'inline';
        /** The JWKS document as JSON text (every key parsed at validate time). */
        readonly json: string;
      };
  /** Reject tokens without `exp`. */
  readonly requireExpiration: boolean;
  /** Reject tokens whose exp - iat exceeds this; null = no bound. */
  readonly maxLifetimeMs: number | null;
  /**
   * Leeway for `exp` and `nbf`. Envoy counts whole seconds and reads 0 as its default (60 s), so
   * the translator sends at least 1 s: 0 here means 1 s in Envoy.
   */
  readonly clockSkewMs: number;
  /** Claim holding the caller's roles (a string or a list of strings). */
  readonly rolesClaim: string;
}

// ---------------------------------------------------------------------------------------------
// Rate limits

export interface RateLimitIR {
  /** `RateLimit` metadata.name (tightened limits keep the name of the limit they tighten). */
  readonly name: string;
  /** Requests admitted per `unit` and key (a full bucket refilled once per unit: bursts allowed). */
  readonly requests: number;
  /** The period `requests` are counted over (the bucket's fill interval). */
  readonly unit: 'second' | 'minute' | 'hour';
  /** What the limit counts per (one bucket per key value). */
  readonly key: RateLimitKeyIR;
  /** `enforce` answers 429; `shadow` only counts (Envoy's filter_enforced 0%). */
  readonly mode: 'enforce' | 'shadow';
  /**
   * `instance`: a local token bucket in each Envoy (N Envoys admit N x the limit). `fleet`: one
   * budget for the whole environment, counted by the rate-limit service (`EnvironmentIR.rateLimitService`).
   */
  readonly scope: 'instance' | 'fleet';
  /**
   * Fleet scope only (always `allow` for instance limits): what Envoy does when the service cannot
   * answer in time. `allow` admits the request (fail open); `deny` refuses it (fail closed).
   */
  readonly onServiceFailure: 'allow' | 'deny';
  /** The RateLimit document, or the Lockdown that tightened it. */
  readonly provenance: Provenance;
}

/** The environment's global rate-limit service (envoyproxy/ratelimit), reached over gRPC. */
export interface RateLimitServiceIR {
  /** IP address or DNS name of the service's gRPC endpoint. */
  readonly address: string;
  /** Its gRPC port. */
  readonly port: number;
  /** Envoy's deadline per check; past it, each limit's `onServiceFailure` decides. */
  readonly timeoutMs: number;
  /** The service's domain for this environment: its descriptors never mix with another environment's. */
  readonly domain: string;
}

export type RateLimitKeyIR =
  /** One bucket per client address (an IPv4-mapped client counts as its IPv4 form). */
  | { readonly kind: 'client-ip' }
  /** One bucket per client network. */
  | {
      readonly kind: 'client-network';
      /** Prefix length that makes an IPv4 client's network (mapped clients included). */
      readonly ipv4PrefixLength: number;
      /** Prefix length that makes an IPv6 client's network. */
      readonly ipv6PrefixLength: number;
    }
  /** One bucket per value of a request header (callers without it share one). */
  | {
      readonly kind: 'header';
      /** Header name as written (the translator lower-cases it). */
      readonly name: string;
    }
  /** One bucket per value of a claim of the verified token (tokens without it share one). */
  | {
      readonly kind: 'jwt-claim';
      /** Claim name in the token payload, e.g. `sub`. */
      readonly claim: string;
    }
  /** One bucket for all callers of the route. */
  | { readonly kind: 'route' };

// ---------------------------------------------------------------------------------------------
// Lockdowns

/** An active lockdown as applied to one environment: for plans, status pages and the audit trail. */
export interface LockdownSummaryIR {
  /** `Lockdown` metadata.name. */
  readonly name: string;
  /** Why it was put in place, as written. */
  readonly reason: string;
  /** Who answers for it (a person or team handle). */
  readonly owner: string;
  /** When it starts to apply (ISO 8601, as written). */
  readonly createdAt: string;
  /** When it stops applying (ISO 8601, as written); the compiler recompiles then. */
  readonly expiresAt: string;
  /** Action kinds applied, in document order, e.g. `blockNetworks`. */
  readonly actions: readonly string[];
}

/** A Lockdown compiled in shadow mode: what it would refuse, per route; nothing of it is enforced. */
export interface ShadowOverlayIR {
  /** The Lockdown's metadata.name, which names the overlay (Envoy's shadow policy is `shadow <name>`). */
  readonly name: string;
  /** Per route, in the environment's route order, what it would refuse there; routes it leaves alone are absent. */
  readonly routes: readonly ShadowRouteIR[];
  /**
   * Actions Envoy cannot evaluate without enforcing them (tighten a rate limit: local limits live in
   * the listener; quarantine, failover: they move traffic), one line each, in document order.
   */
  readonly notShadowed: readonly string[];
}

/** What one shadow overlay would refuse on one route (any of these). */
export interface ShadowRouteIR {
  /** `Route` metadata.name. */
  readonly route: string;
  /** Client networks it would refuse (canonical CIDRs, sorted like `deniedNetworks`). */
  readonly deniedNetworks: readonly string[];
  /** Tokens it would refuse; only on routes that verify a token (elsewhere there is no payload to read). */
  readonly revokedTokens: RevokedTokensIR;
  /** disableRoute: every request would be refused. */
  readonly disabled: boolean;
  /** requireRole: a request without a verified token carrying one of these roles (sorted) would be refused; null: none. */
  readonly requiredRoles: readonly string[] | null;
}

// ---------------------------------------------------------------------------------------------
// Triggers

/** Who answered a request: the upstream, or one of Envoy's own filters (see compiler/monitor). */
export type CauseIR = 'upstream' | 'jwt' | 'rbac' | 'rateLimit' | 'lockdown' | 'other';

/** What a trigger counts per: one series (`none`), or each client network, client address or token. */
export type TriggerKeyIR = 'none' | 'clientNetwork' | 'clientIp' | 'tokenSubject' | 'tokenId';

/** A detection rule, as the monitor and the Prometheus rule translator read it. */
export interface TriggerIR {
  /** `Trigger` metadata.name; unique. */
  readonly name: string;
  /** Free text from the policy; empty when none. */
  readonly description: string;
  /** Route names watched, sorted; empty = every route of the environment. */
  readonly routes: readonly string[];
  /** Response statuses counted: codes (`401`) and classes (`4xx`), sorted, de-duplicated; empty = every status. */
  readonly statuses: readonly string[];
  /** Causes counted, sorted; empty = every cause. */
  readonly causes: readonly CauseIR[];
  /** What the condition is evaluated per. */
  readonly key: TriggerKeyIR;
  /** Prefix lengths that make a client network of an address (key clientNetwork), default /24 and /56. */
  readonly networkPrefix: {
    /** IPv4 prefix length. */
    readonly ipv4: number;
    /** IPv6 prefix length. */
    readonly ipv6: number;
  };
  /** When the trigger fires. */
  readonly condition: TriggerConditionIR;
  /** How long the condition must hold before the alert fires (Prometheus `for`); 0 = at once. */
  readonly forMs: number;
  /** Alert severity label (Alertmanager routes on it). */
  readonly severity: 'info' | 'warning' | 'critical';
  /** The Lockdown the bot proposes when the trigger fires (see `instantiateLockdown`). */
  readonly lockdown: LockdownTemplateIR;
  /** `Trigger/<name>`. */
  readonly provenance: Provenance;
}

export type TriggerConditionIR =
  /** More than `above` matching responses (per key) in the last `windowMs`. */
  | {
      readonly kind: 'rate';
      /** Threshold count (exclusive). */
      readonly above: number;
      /** Sliding window the count covers. */
      readonly windowMs: number;
    }
  /**
   * One key sends more than `abovePercent` % of the watched responses in the last `windowMs`, once
   * there are at least `minRequests` of them.
   */
  | {
      readonly kind: 'share';
      /** Threshold share of one key, in percent (exclusive). */
      readonly abovePercent: number;
      /** Watched responses needed before a share counts. */
      readonly minRequests: number;
      /** Sliding window the shares cover. */
      readonly windowMs: number;
    }
  /**
   * The count in the last `windowMs` is above `multiple` × the learned baseline (EWMA of that count)
   * AND above the static floor (`floor.above` in `floor.windowMs`). During `warmUpMs` after the
   * monitor starts only the floor applies (alerts say so: `warmingUp` in the evidence).
   */
  | {
      readonly kind: 'baseline';
      /** How many times the baseline the count must exceed. */
      readonly multiple: number;
      /** Sliding window the count covers. */
      readonly windowMs: number;
      /** The static threshold that must be exceeded too (and alone while warming up). */
      readonly floor: {
        /** Threshold count (exclusive). */
        readonly above: number;
        /** Window of the floor's count. */
        readonly windowMs: number;
      };
      /** Time after the monitor starts during which no baseline exists yet. */
      readonly warmUpMs: number;
    };

/** A Lockdown with holes: what `instantiateLockdown` fills with the offending key and the instant. */
export interface LockdownTemplateIR {
  /** expiresAt = createdAt + durationMs. */
  readonly durationMs: number;
  /** Owner written into the Lockdown. */
  readonly owner: string;
  /** GitHub users or org/team slugs asked to review the PR, in policy order. */
  readonly reviewers: readonly string[];
  /** Reason text with placeholders (the policy's, or a generated one). */
  readonly reason: string;
  /** Environments the Lockdown applies to; null = the environment that fired. */
  readonly environments: readonly string[] | null;
  /** Lockdown actions in policy order; strings may be `{{network}}`, `{{ip}}`, `{{sub}}`, `{{jti}}`, `{{route}}`. */
  readonly actions: readonly LockdownActionTemplateIR[];
}

/** A Lockdown action (docs/kinds/lockdown.md) as plain data, placeholders not yet filled. */
export type LockdownActionTemplateIR = TriggerActionTemplate;
