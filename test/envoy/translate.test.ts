/**
 * Properties of the Envoy translator that golden files do not make obvious: purity, stable names
 * and versions, the filter order, what changes the listener (and so drains connections) and what
 * only changes routes, quarantine, and the helpers' edge cases.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { FILTER, HTTP_FILTER_ORDER, canonicalJson, contentHash, resourceVersion, staticBootstrap, translateEnvironment, translatePolicy } from '../../compiler/envoy';
import { statusRanges } from '../../compiler/envoy/cluster';
import { anyOfRegex, duration } from '../../compiler/envoy/common';
import type { EnvoyResources, JsonObject, JsonValue } from '../../compiler/envoy/resources';
import type { EnvironmentIR, PolicyIR, RouteIR } from '../../compiler/ir/ir';

const DIR = join(__dirname, '../testdata/envoy');
const load = <T>(name: string): T => YAML.parse(readFileSync(join(DIR, `${name}.in.yaml`), 'utf8')) as T;

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** Walks a JSON value and collects every object found under `key`. */
function collect(v: JsonValue, key: string, out: JsonValue[] = []): JsonValue[] {
  if (Array.isArray(v)) v.forEach((x) => collect(x as JsonValue, key, out));
  else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === key) out.push(x as JsonValue);
      collect(x as JsonValue, key, out);
    }
  }
  return out;
}

const publicAccess: RouteIR['access'] = { authentication: 'none', providers: [], rules: [], allowedNetworks: [], deniedNetworks: [] };

/** The principal of network set `id` in a client-networks block (deny policies, or inside the allow policy). */
function setOf(id: string, block: JsonObject): JsonValue {
  const ands = collect(block, 'and_ids') as JsonObject[];
  const found = ands.find((a) => collect(a, 'exact').includes(id));
  if (!found) throw new Error(`network set ${id} not in the block`);
  return (found['ids'] as JsonValue[])[1] as JsonValue;
}

const isXffGuard = (route: JsonObject): boolean => String(route['name']).startsWith('portcullis/x-forwarded-for/');

/** The routes translated from the IR's routes (the malformed X-Forwarded-For guards left out). */
function routesOf(r: EnvoyResources): JsonObject[] {
  const config = r.routes[0]?.value as JsonObject;
  return (config['virtual_hosts'] as JsonObject[]).flatMap((vh) => (vh['routes'] as JsonObject[]).filter((route) => !isXffGuard(route)));
}

describe('purity and stability', () => {
  test('a frozen IR translates twice to identical resources (no mutation, no clock, no randomness)', () => {
    const ir = deepFreeze(load<PolicyIR>('policy-lockdown'));
    const a = translatePolicy(ir);
    const b = translatePolicy(ir);
    expect(a).toEqual(b);
    expect(canonicalJson(a as unknown as JsonValue)).toBe(canonicalJson(b as unknown as JsonValue));
  });

  test('every fleet of an environment gets the same resources and versions', () => {
    const [eu, us] = translatePolicy(load<PolicyIR>('policy-lockdown'));
    expect(eu?.fleet).toBe('edge-prod-eu');
    expect(us?.fleet).toBe('edge-prod-us');
    expect({ ...eu, fleet: '' }).toEqual({ ...us, fleet: '' });
  });

  test('resource names are unique per type, sorted, and versions are 16 hex digits of the content', () => {
    for (const out of translatePolicy(load<PolicyIR>('policy-lockdown'))) {
      for (const [kind, list] of [['cluster', out.clusters], ['endpoint', out.endpoints], ['listener', out.listeners], ['route', out.routes]] as const) {
        const names = list.map((r) => r.name);
        expect(names).toEqual([...new Set(names)].sort());
        for (const r of list) expect(r.version).toBe(resourceVersion(kind, r.value));
        for (const r of list) expect(r.version).toMatch(/^[0-9a-f]{16}$/);
        if (kind !== 'route') for (const r of list) expect(r.version).toBe(contentHash(r.value));
      }
    }
  });

  test('names: listener, route configuration, service and JWKS clusters', () => {
    const out = translateEnvironment(load<EnvironmentIR>('access'), 'edge-prod');
    expect(out.listeners.map((r) => r.name)).toEqual(['portcullis/prod/http']);
    expect(out.routes.map((r) => r.name)).toEqual(['portcullis/prod/routes']);
    expect(out.clusters.map((r) => r.name)).toEqual(['api', 'jwks/corp-idp', 'jwks/lab-idp', 'jwks/legacy-idp']);
    expect(out.endpoints.map((r) => r.name)).toEqual(['api']);
  });
});

describe('hash', () => {
  test('canonical JSON does not depend on key order, and the hash follows content', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"x":2,"y":1}]},"b":1}');
    expect(contentHash({ a: 1, b: 2 })).toBe(contentHash({ b: 2, a: 1 }));
    expect(contentHash({ a: 1, b: 2 })).not.toBe(contentHash({ a: 1, b: 3 }));
    expect(contentHash({ a: [1, 2] })).not.toBe(contentHash({ a: [2, 1] }));
  });
});

describe('listener stability: policy changes that only touch routes leave the listener alone', () => {
  const env = load<EnvironmentIR>('access');
  const login = (r: RouteIR): boolean => r.name === 'login';
  test('adding rules, networks, revocations and a disabled route changes RDS only', () => {
    const before = translateEnvironment(env, 'edge-prod');
    const changed: EnvironmentIR = {
      ...env,
      revokedTokens: { jtis: ['x1', 'x2'], subjects: ['s1'] },
      routes: env.routes.map(
        (r): RouteIR =>
          login(r)
            ? { ...r, access: { ...r.access, deniedNetworks: [...r.access.deniedNetworks, { cidr: '192.0.2.0/24', provenance: 'Lockdown/y' }] } }
            : r.name === 'docs'
              ? { ...r, disabled: { status: 503, body: 'off', provenance: 'Lockdown/y' } }
              : r,
      ),
    };
    const after = translateEnvironment(changed, 'edge-prod');
    expect(after.listeners).toEqual(before.listeners);
    expect(after.clusters).toEqual(before.clusters);
    expect(after.routes[0]?.version).not.toBe(before.routes[0]?.version);
  });

  test('local rate limits live in the listener (their buckets outlive RDS updates): changing one changes LDS', () => {
    const before = translateEnvironment(env, 'edge-prod');
    const limited: EnvironmentIR = {
      ...env,
      routes: env.routes.map(
        (r): RouteIR =>
          login(r)
            ? {
                ...r,
                rateLimits: [
                  { name: 'a', requests: 1, unit: 'second', key: { kind: 'client-ip' }, mode: 'enforce', scope: 'instance', onServiceFailure: 'allow', provenance: 'Lockdown/y' },
                  { name: 'b', requests: 1, unit: 'hour', key: { kind: 'route' }, mode: 'shadow', scope: 'instance', onServiceFailure: 'allow', provenance: 'RateLimit/b' },
                ],
              }
            : r,
      ),
    };
    const after = translateEnvironment(limited, 'edge-prod');
    expect(after.listeners[0]?.version).not.toBe(before.listeners[0]?.version);
    expect(collect(after.listeners[0]?.value as JsonObject, 'descriptors').length).toBe(2);
    // The route only names its limits (route-action rate_limits, one stage per instance).
    const route = routesOf(after).find((r) => r['name'] === 'login') as JsonObject;
    expect(collect(route, 'stage').sort()).toEqual([0, 1]);
  });
});

describe('HTTP filters', () => {
  test('one order: scope fallback, client networks, jwt_authn, revoked tokens, rbac, client address, local limits, fleet limits, router', () => {
    expect(HTTP_FILTER_ORDER.map((f) => f.name)).toEqual([
      'portcullis.lua.scope_fallback',
      'portcullis.rbac.client_networks',
      'envoy.filters.http.jwt_authn',
      'portcullis.rbac.revoked_tokens',
      'envoy.filters.http.rbac',
      'portcullis.lua.client_address',
      'portcullis.local_ratelimit.enforce',
      'portcullis.local_ratelimit.shadow',
      'portcullis.ratelimit.fleet_allow',
      'portcullis.ratelimit.fleet_deny',
      'envoy.filters.http.router',
    ]);
    const chain = (name: string) =>
      (collect(translateEnvironment(load<EnvironmentIR>(name), 'edge-prod').listeners[0]?.value as JsonObject, 'http_filters')[0] as JsonObject[]).map((f) => f['name']);
    // With a rate-limit service and trusted XFF every slot is there; without a service the fleet
    // slots are left out, without trusted XFF the client-address script; without route scopes
    // (none of these) the scope fallback.
    const all = HTTP_FILTER_ORDER.map((f) => f.name).filter((n) => n !== FILTER.scopeFallback);
    expect(chain('fleet-rate-limits-xff')).toEqual(all);
    expect(chain('fleet-rate-limits')).toEqual(all.filter((n) => n !== FILTER.clientAddress));
    expect(chain('minimal')).toEqual(all.filter((n) => !n.startsWith('portcullis.ratelimit.') && n !== FILTER.clientAddress));
  });

  test('every route names its JWT requirement or disables jwt_authn, and sets its RBAC', () => {
    const env = load<EnvironmentIR>('access');
    const out = translateEnvironment(env, 'edge-prod');
    for (const r of routesOf(out)) {
      const per = r['typed_per_filter_config'] as JsonObject;
      const ir = env.routes.find((x) => x.name === r['name']) as RouteIR;
      expect(per[FILTER.jwtAuthn]).toEqual(
        ir.access.authentication === 'none'
          ? expect.objectContaining({ disabled: true })
          : expect.objectContaining({ requirement_name: expect.any(String) }),
      );
      expect(per[FILTER.rbac]).toBeDefined();
    }
  });

  test('client networks: one block for the route configuration, routes name their network sets in metadata', () => {
    const env = load<EnvironmentIR>('access');
    const out = translateEnvironment(env, 'edge-prod');
    const config = out.routes[0]?.value as JsonObject;
    const block = (config['typed_per_filter_config'] as JsonObject)[FILTER.clientNetworks] as JsonObject;
    expect(collect(block, 'action')).toEqual(['DENY']);
    const policies = collect(block, 'policies')[0] as JsonObject;
    let withNetworks = 0;
    for (const r of routesOf(out)) {
      const per = r['typed_per_filter_config'] as JsonObject;
      const ir = env.routes.find((x) => x.name === r['name']) as RouteIR;
      // No route carries networks itself, and the roles RBAC never checks an address.
      expect(Object.keys(per)).not.toContain(FILTER.clientNetworks);
      expect(collect(per[FILTER.rbac] as JsonObject, 'remote_ip')).toEqual([]);
      const listed = collect(r, FILTER.clientNetworks)[0] as JsonObject | undefined;
      if (ir.disabled !== null || ir.access.allowedNetworks.length + ir.access.deniedNetworks.length === 0) {
        expect(r['metadata']).toBeUndefined();
        continue;
      }
      withNetworks++;
      const deny = (listed?.['deny'] as string[] | undefined) ?? [];
      const allow = (listed?.['allow'] as string[] | undefined) ?? [];
      // The networks of the sets the route lists are the route's networks, IPv4 ones with their mapped form.
      const prefixes = (ids: string[], block: JsonObject) => ids.flatMap((id) => collect(setOf(id, block), 'address_prefix'));
      const expected = (rules: RouteIR['access']['deniedNetworks']) =>
        rules.flatMap((n) => {
          const address = n.cidr.split('/')[0] as string;
          return address.includes(':') ? [address] : [address, `::ffff:${address}`];
        });
      expect(prefixes(deny, block).sort()).toEqual(expected(ir.access.deniedNetworks).sort());
      expect(prefixes(allow, block).sort()).toEqual(expected(ir.access.allowedNetworks).sort());
      for (const id of deny) expect(Object.keys(policies)).toContain(id);
      expect(listed?.['allow_only'] === true).toBe(allow.length > 0);
    }
    expect(withNetworks).toBeGreaterThanOrEqual(3);
  });

  test('client networks: a list shared by many routes is emitted once, so the size grows with networks + routes', () => {
    const env = load<EnvironmentIR>('access');
    const denied = Array.from({ length: 500 }, (_, i) => ({ cidr: `100.${64 + (i >> 8)}.${i & 255}.0/24`, provenance: 'Access/big-deny' }));
    const routes = (n: number): RouteIR[] =>
      Array.from({ length: n }, (_, i) => ({ ...(env.routes.find((r) => r.disabled === null) as RouteIR), name: `r${i}`, match: { path: { kind: 'prefix', value: `/r${i}` }, methods: [], headers: [] }, access: { ...publicAccess, deniedNetworks: denied } }));
    const size = (n: number) => {
      const out = translateEnvironment({ ...env, routes: routes(n) }, 'edge-prod');
      const config = out.routes[0]?.value as JsonObject;
      expect(collect(config, 'remote_ip')).toHaveLength(1000); // 500 networks and their mapped forms, once
      return JSON.stringify(config).length;
    };
    const [one, ten, hundred] = [size(1), size(10), size(100)];
    // Each further route adds its own JSON and a one-line metadata list, not the 500 networks.
    expect(hundred - ten).toBeLessThan(((ten - one) / 9) * 90 * 1.01);
    expect((hundred - ten) / 90).toBeLessThan(1500);
  });

  test('malformed X-Forwarded-For guards: first in every virtual host when the listener trusts hops, shared, absent otherwise', () => {
    const env = load<EnvironmentIR>('access');
    const vhosts = (hops: number) =>
      (translateEnvironment({ ...env, listener: { ...env.listener, xffNumTrustedHops: hops } }, 'edge-prod').routes[0]?.value['virtual_hosts'] as JsonObject[]);
    const guarded = vhosts(2);
    expect(guarded.length).toBeGreaterThan(1);
    for (const vh of guarded) {
      const routes = vh['routes'] as JsonObject[];
      const guards = routes.filter(isXffGuard);
      expect(guards.length).toBeGreaterThan(0);
      expect(routes.slice(0, guards.length)).toEqual(guards);
      expect(guards.every((g) => collect(g, 'status').includes(400))).toBe(true);
      expect(guards[0]).toBe((guarded[0]?.['routes'] as JsonObject[])[0]);
      expect(collect(guards, 'regex').every((re) => String(re).endsWith('(?:,[^,]*){2}$'))).toBe(true);
    }
    for (const vh of vhosts(0)) expect((vh['routes'] as JsonObject[]).filter(isXffGuard)).toEqual([]);
  });

  test('revoked tokens: one DENY block for the whole route configuration, none in the routes', () => {
    const env = load<EnvironmentIR>('access');
    const revoked = { ...env, revokedTokens: { jtis: ['j1', 'j2'], subjects: ['s1'] } };
    const none = { ...env, revokedTokens: { jtis: [], subjects: [] } };
    const config = translateEnvironment(revoked, 'edge-prod').routes[0]?.value as JsonObject;
    const block = (config['typed_per_filter_config'] as JsonObject)[FILTER.revokedTokens] as JsonObject;
    expect(collect(block, 'action')).toEqual(['DENY']);
    expect(collect(block, 'exact')).toEqual(['j1', 'j2', 's1']);
    expect(collect(block, 'key')).toEqual(['payload', 'jti', 'payload', 'sub']);
    for (const r of routesOf(translateEnvironment(revoked, 'edge-prod'))) {
      expect(Object.keys(r['typed_per_filter_config'] as JsonObject)).not.toContain(FILTER.revokedTokens);
    }
    // Routes do not depend on revocations at all; without any, no block.
    expect(routesOf(translateEnvironment(revoked, 'edge-prod'))).toEqual(routesOf(translateEnvironment(none, 'edge-prod')));
    expect(Object.keys(translateEnvironment(none, 'edge-prod').routes[0]?.value['typed_per_filter_config'] as JsonObject)).toEqual([FILTER.clientNetworks]);
  });

  test('routes name their limits by stage (enforce 0, shadow 1); the listener sizes the per-key LRU', () => {
    const out = translateEnvironment(load<EnvironmentIR>('rate-limits'), 'edge-prod');
    const stages = new Map(routesOf(out).map((r) => [r['name'], collect(r, 'stage')]));
    expect(new Set(stages.get('orders'))).toEqual(new Set([1]));
    expect(new Set(stages.get('search'))).toEqual(new Set([0]));
    // Per route, an instance is only ever switched off (no buckets in RDS): on routes without its limits.
    const per = new Map(routesOf(out).map((r) => [r['name'], r['typed_per_filter_config'] as JsonObject]));
    const off = { '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig', disabled: true };
    expect((per.get('orders') as JsonObject)[FILTER.rateLimitEnforce]).toEqual(off);
    expect((per.get('orders') as JsonObject)[FILTER.rateLimitShadow]).toBeUndefined();
    expect((per.get('search') as JsonObject)[FILTER.rateLimitEnforce]).toBeUndefined();
    expect((per.get('search') as JsonObject)[FILTER.rateLimitShadow]).toEqual(off);
    const lrus = collect(out.listeners[0]?.value as JsonObject, 'max_dynamic_descriptors');
    expect(lrus).toEqual([2500, 2500]);
  });
});

describe('services', () => {
  const out = translateEnvironment(load<EnvironmentIR>('services'), 'edge-staging');
  const cluster = (name: string): JsonObject => out.clusters.find((c) => c.name === name)?.value as JsonObject;

  test('quarantined endpoints are absent; forced failover priorities come from the IR', () => {
    const orders = out.endpoints.find((e) => e.name === 'orders')?.value as JsonObject;
    const text = JSON.stringify(orders);
    expect(text).not.toContain('10.0.1.12');
    expect((orders['endpoints'] as JsonObject[]).map((l) => l['priority'])).toEqual([0, 1]);
    const reports = out.endpoints.find((e) => e.name === 'reports')?.value as JsonObject;
    expect(reports['endpoints']).toEqual([]);
  });

  test('IP endpoints go over EDS; host names make a STRICT_DNS cluster with inline endpoints', () => {
    expect(cluster('accounts')['type']).toBe('EDS');
    expect(cluster('catalog')['type']).toBe('STRICT_DNS');
    expect(out.endpoints.map((e) => e.name)).not.toContain('catalog');
    expect(collect(cluster('catalog'), 'address')).toContain('catalog-b.internal');
  });

  test('removal from EDS is honoured even while a host still passes health checks', () => {
    for (const c of out.clusters) expect(c.value['ignore_health_on_host_removal']).toBe(true);
  });

  test('the static bootstrap turns EDS clusters static and inlines the route configuration', () => {
    const boot = staticBootstrap(out, { adminPort: 19999 });
    const text = JSON.stringify(boot);
    expect(text).not.toContain('"EDS"');
    expect(text).not.toContain('"rds"');
    expect(collect(boot, 'route_config')).toHaveLength(1);
    expect(boot['admin']).toEqual({ address: { socket_address: { address: '127.0.0.1', port_value: 19999 } } });
  });
});

describe('helpers', () => {
  test.each([
    [0, '0s'],
    [1, '0.001s'],
    [250, '0.25s'],
    [1500, '1.5s'],
    [60000, '60s'],
    [3723004, '3723.004s'],
  ])('duration(%d) = %s', (ms, text) => {
    expect(duration(ms)).toBe(text);
  });

  test('duration refuses what is not a whole number of milliseconds', () => {
    expect(() => duration(1.5)).toThrow();
    expect(() => duration(-1)).toThrow();
  });

  test('status codes become merged half-open ranges', () => {
    expect(statusRanges([200])).toEqual([{ start: 200, end: 201 }]);
    expect(statusRanges([204, 200, 201, 202, 404])).toEqual([
      { start: 200, end: 203 },
      { start: 204, end: 205 },
      { start: 404, end: 405 },
    ]);
  });

  test('method alternations escape regex metacharacters', () => {
    expect(anyOfRegex(['GET', 'M.SEARCH'])).toBe('GET|M\\.SEARCH');
  });
});

describe('IR bugs throw (they are not user mistakes)', () => {
  const env = load<EnvironmentIR>('minimal');
  test('a route to an unknown service', () => {
    const bad = { ...env, routes: [{ ...(env.routes[0] as RouteIR), service: 'nope' }] };
    expect(() => translateEnvironment(bad, 'edge-dev')).toThrow(/unknown service nope/);
  });
  test('a token route naming no provider', () => {
    const r = env.routes[0] as RouteIR;
    const bad = { ...env, routes: [{ ...r, access: { ...r.access, authentication: 'jwt' as const } }] };
    expect(() => translateEnvironment(bad, 'edge-dev')).toThrow(/names no provider/);
  });
});
