/**
 * JWT authentication (envoy.filters.http.jwt_authn): providers and named requirements in the filter
 * config, one per-route config naming the requirement (or disabling the filter), and a cluster per
 * remote JWKS. Part of the Envoy translator (IR → Envoy resources).
 */
import { isIP } from 'node:net';
import type { EnvironmentIR, JwtProviderIR, RouteIR } from '../ir/ir';
import { JWT_FAILURE_KEY, JWT_METADATA_NAMESPACE, JWT_PAYLOAD_KEY, TYPE, duration, jwtHeaderKey, names, typed } from './common';
import { upstreamTlsSocket } from './cluster';
import type { JsonObject } from './resources';

/** CA bundle used to verify JWKS hosts (the IR names none): Debian/Ubuntu's system bundle. */
export const JWKS_CA_FILE = '/etc/ssl/certs/ca-certificates.crt';

/** Name of the requirement accepting any one of `providers` (sorted, non-empty). */
export function requirementName(providers: readonly string[]): string {
  // Provider names are DNS labels: a single name cannot look like the `any-of:` form.
  return providers.length === 1 ? (providers[0] as string) : `any-of:${providers.join(',')}`;
}

function requirement(providers: readonly string[]): JsonObject {
  if (providers.length === 1) return { provider_name: providers[0] as string };
  return { requires_any: { requirements: providers.map((p) => ({ provider_name: p })) } };
}

/** True when the route is answered by Envoy itself or needs no token: jwt_authn is off for it. */
function jwtOff(route: Pick<RouteIR, 'access' | 'disabled'>): boolean {
  return route.disabled !== null || route.access.authentication === 'none';
}

function provider(p: JwtProviderIR): JsonObject {
  const jwks: JsonObject =
    p.jwks.kind === 'inline'
      ? { local_jwks: { inline_string: p.jwks.json } }
      : {
          remote_jwks: {
            http_uri: { uri: p.jwks.uri, cluster: names.jwksCluster(p.name), timeout: duration(p.jwks.timeoutMs) },
            cache_duration: duration(p.jwks.cacheDurationMs),
            // Fetch at startup, and keep the listener back until the first fetch is done, so a fresh
            // Envoy does not answer 401 to every caller while its keys are on the way.
            async_fetch: { fast_listener: false },
            retry_policy: { num_retries: 3, retry_back_off: { base_interval: '0.5s', max_interval: '5s' } },
          },
        };
  return {
    // Both always set: jwt_authn checks no issuer / no audience when these are unset.
    issuer: p.issuer,
    audiences: [...p.audiences],
    ...jwks,
    require_expiration: p.requireExpiration,
    ...(p.maxLifetimeMs === null ? {} : { max_lifetime: duration(p.maxLifetimeMs) }),
    // A plain uint32 whose 0 means "unset", i.e. Envoy's default of 60 s: a policy asking for no
    // skew gets the smallest Envoy can do, 1 s.
    clock_skew_seconds: Math.max(1, Math.ceil(p.clockSkewMs / 1000)),
    // Bearer header only: the default also reads an `access_token` query parameter, and tokens in
    // URLs end up in access logs and browser histories.
    from_headers: [{ name: 'Authorization', value_prefix: 'Bearer ' }],
    // Keep the token for the upstream: the services behind the gateway already expect it and may
    // authorise finer-grained on their own.
    forward: true,
    // RBAC (roles, revoked jti/sub) and jwt-claim rate limits read the verified payload here.
    payload_in_metadata: JWT_PAYLOAD_KEY,
    // Every provider writes the payload to the same key, so it does not say who verified the token;
    // this key does: RBAC reads a provider's roles claim only when its key is there (rbac.ts).
    header_in_metadata: jwtHeaderKey(p.name),
    // Why a token failed, for the listener's local reply mapping (every failure answers 401).
    failed_status_in_metadata: JWT_FAILURE_KEY,
  };
}

/** Filter-level config: every provider of the environment, and one named requirement per provider set in use. */
export function jwtAuthnConfig(env: EnvironmentIR): JsonObject {
  const providers: Record<string, JsonObject> = {};
  for (const p of env.jwtProviders) providers[p.name] = provider(p);
  const requirements = new Map<string, JsonObject>();
  for (const route of env.routes) {
    if (jwtOff(route)) continue;
    if (route.access.providers.length === 0) {
      throw new Error(`IR bug: route ${route.name} requires a JWT but names no provider`);
    }
    for (const name of route.access.providers) {
      if (!(name in providers)) throw new Error(`IR bug: route ${route.name} names unknown JWT provider ${name}`);
    }
    requirements.set(requirementName(route.access.providers), requirement(route.access.providers));
  }
  const requirementMap: Record<string, JsonObject> = {};
  for (const key of [...requirements.keys()].sort()) requirementMap[key] = requirements.get(key) as JsonObject;
  // No `rules`: every route carries its own per-route config (see jwtPerRoute), so a request that
  // matches no route meets no requirement and gets the router's 404.
  return typed(TYPE.jwtAuthn, { providers, requirement_map: requirementMap });
}

/** A local-reply filter on jwt_authn's dynamic metadata at `path`. */
function jwtMetadataFilter(path: readonly string[], value: JsonObject, matchIfKeyNotFound: boolean): JsonObject {
  return {
    metadata_filter: {
      matcher: { filter: JWT_METADATA_NAMESPACE, path: path.map((key) => ({ key })), value },
      match_if_key_not_found: matchIfKeyNotFound,
    },
  };
}

/**
 * Local reply mapping (HttpConnectionManager `local_reply_config`): every token that fails
 * verification answers 401. jwt_authn answers 403 for one failure, a token for another audience
 * ("Audiences in Jwt are not allowed"), and 401 for all the others; clients and the docs expect 401
 * (the token is wrong, not the caller's permissions). Matched on a 403 that jwt_authn recorded a
 * failure for while no provider verified the token (no payload): a 403 from RBAC after a provider
 * did verify it stays 403, even when another provider of the route failed first.
 */
export function jwtLocalReplyMappers(): JsonObject[] {
  return [
    {
      filter: {
        and_filter: {
          filters: [
            { status_code_filter: { comparison: { op: 'EQ', value: { default_value: 403, runtime_key: 'portcullis.local_reply.jwt_forbidden' } } } },
            jwtMetadataFilter([JWT_FAILURE_KEY, 'message'], { present_match: true }, false),
            // A verified payload always holds `iss` (every provider requires one): absent = not verified.
            jwtMetadataFilter([JWT_PAYLOAD_KEY, 'iss'], { null_match: {} }, true),
          ],
        },
      },
      status_code: 401,
      headers_to_add: [
        { header: { key: 'www-authenticate', value: 'Bearer error="invalid_token"' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
      ],
    },
  ];
}

/** Per-route config: the requirement for routes that need a token, `disabled` for the others. */
export function jwtPerRoute(route: Pick<RouteIR, 'access' | 'disabled'>): JsonObject {
  if (jwtOff(route)) return typed(TYPE.jwtPerRoute, { disabled: true });
  return typed(TYPE.jwtPerRoute, { requirement_name: requirementName(route.access.providers) });
}

/** Where a remote JWKS lives: host, port, and whether it is TLS. */
function jwksTarget(uri: string): { host: string; port: number; tls: boolean } {
  const url = new URL(uri);
  const tls = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? (tls ? 443 : 80) : Number(url.port);
  return { host, port, tls };
}

/** One cluster per remote JWKS: jwt_authn fetches keys through a cluster, not a URL. */
export function jwksClusters(env: EnvironmentIR): JsonObject[] {
  const clusters: JsonObject[] = [];
  for (const p of env.jwtProviders) {
    if (p.jwks.kind !== 'remote') continue;
    const name = names.jwksCluster(p.name);
    const { host, port, tls } = jwksTarget(p.jwks.uri);
    const literal = isIP(host) !== 0;
    clusters.push({
      name,
      // LOGICAL_DNS: an identity provider is typically one name behind a CDN; Envoy connects to the
      // first address DNS returns instead of load balancing over every record.
      type: literal ? 'STATIC' : 'LOGICAL_DNS',
      connect_timeout: duration(p.jwks.timeoutMs),
      load_assignment: {
        cluster_name: name,
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: port } } } }] }],
      },
      ...(tls
        ? { transport_socket: upstreamTlsSocket({ sni: literal ? null : host, caFile: JWKS_CA_FILE, subjectAltNames: [host] }, 'http1') }
        : {}),
    });
  }
  return clusters;
}

