/**
 * The translator's memo tables (per route, per service, per environment) and per-route hashes must
 * not show: after any edit, the output of a warm translator equals, byte for byte and version for
 * version, the output of a translator that never saw the objects (a deep copy of the IR has new
 * identities, so every memo misses). Also checks the memo actually works (unchanged routes keep
 * their JSON objects), and the route-configuration version rule.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createIncrementalCompiler } from '../../compiler';
import { resourceVersion, translateEnvironment, translatePolicy } from '../../compiler/envoy';
import type { EnvoyResources, JsonObject } from '../../compiler/envoy/resources';
import type { EnvironmentIR, PolicyIR, RouteIR } from '../../compiler/ir/ir';

const SOURCE = readFileSync(join(__dirname, '../testdata/ir/lockdown-all-actions.in.yaml'), 'utf8');
const ACTIVE = new Date('2026-11-20T11:00:00Z');
const EXPIRED = new Date('2026-11-20T13:30:00Z');

/** One file per document, so an edit of one document is a one-file change. */
const documents = SOURCE.split(/^---$/m).map((text, i) => ({ path: `doc-${String(i).padStart(2, '0')}.yaml`, text }));
const pathOf = (needle: string): string => documents.find((d) => d.text.includes(needle))!.path;
const textOf = (path: string): string => documents.find((d) => d.path === path)!.text;

function compiled(result: ReturnType<ReturnType<typeof createIncrementalCompiler>['compile']>): PolicyIR {
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.value;
}

/** What a translator that has seen none of these objects gives. */
function coldTranslation(ir: PolicyIR): EnvoyResources[] {
  return translatePolicy(structuredClone(ir));
}

function routesOf(r: EnvoyResources): JsonObject[] {
  const config = r.routes[0]!.value;
  return (config['virtual_hosts'] as JsonObject[]).flatMap((vh) => vh['routes'] as JsonObject[]);
}

function expectSameAsCold(ir: PolicyIR): EnvoyResources[] {
  const warm = translatePolicy(ir);
  const cold = coldTranslation(ir);
  // Byte-identical, key order included, versions included.
  expect(JSON.stringify(warm)).toBe(JSON.stringify(cold));
  return warm;
}

describe('warm translation equals cold translation', () => {
  const compiler = createIncrementalCompiler();
  compiler.replaceAll(documents);
  let previousIr = compiled(compiler.compile(ACTIVE));
  let previous = expectSameAsCold(previousIr);

  /** Applies a change, checks warm = cold, and returns the IR and output from before the change. */
  const current = new Map<string, string | null>(documents.map((d) => [d.path, d.text]));
  function step(change: { path: string; text: string | null } | null, now = ACTIVE): { ir: PolicyIR; out: EnvoyResources[] } {
    if (change !== null) {
      // An edit whose text replacement matched nothing would make every assertion below vacuous.
      expect(change.text).not.toBe(current.get(change.path) ?? null);
      current.set(change.path, change.text);
      compiler.update([change]);
    }
    const ir = compiled(compiler.compile(now));
    const out = expectSameAsCold(ir);
    const before = { ir: previousIr, out: previous };
    previousIr = ir;
    previous = out;
    return before;
  }

  test('one route edited: routes whose IR object was kept keep their JSON object; a new route configuration version', () => {
    const path = pathOf('name: orders-list');
    const before = step({ path, text: textOf(path).replace('path: { exact: /orders }', 'path: { exact: /orders }\n  timeout: 9s') });
    let kept = 0;
    for (const [i, env] of previous.entries()) {
      const irBefore = new Map(before.ir.environments[i]!.routes.map((r) => [r.name, r]));
      const jsonBefore = new Map(routesOf(before.out[i]!).map((r) => [r['name'], r]));
      const irNow = new Map(previousIr.environments[i]!.routes.map((r) => [r.name, r]));
      for (const r of routesOf(env)) {
        const name = r['name'] as string;
        if (name === 'orders-list') expect(r).not.toBe(jsonBefore.get(name));
        if (irNow.get(name) === irBefore.get(name)) {
          // Kept IR object: kept JSON object (so its hash is not computed again).
          expect(r).toBe(jsonBefore.get(name));
          kept++;
        }
      }
      expect(env.routes[0]!.version).not.toBe(before.out[i]!.routes[0]!.version);
      expect(env.listeners).toEqual(before.out[i]!.listeners);
    }
    // staging has no overlay: its unchanged routes keep their IR objects, hence their JSON.
    expect(kept).toBeGreaterThanOrEqual(2);
  });

  test('the lockdown revokes more tokens and blocks more networks', () => {
    const path = pathOf('kind: Lockdown');
    step({ path, text: textOf(path).replace('jtis: [9f8e7d, old-jti]', 'jtis: [9f8e7d, old-jti, new-jti]').replace('[198.51.100.0/25]', '[198.51.100.0/25, 100.64.0.0/10]') });
  });

  test('the roles claim of the provider changes (every token route reads it)', () => {
    const path = pathOf('kind: Access');
    step({ path, text: textOf(path).replace('audiences: [api.example.com]', 'audiences: [api.example.com]\n      rolesClaim: groups') });
  });

  test('the lockdown expires, then comes back, then is deleted', () => {
    step(null, EXPIRED);
    step(null, ACTIVE);
    step({ path: pathOf('kind: Lockdown'), text: null });
  });

  test('an environment override changes a limit', () => {
    const path = pathOf('name: prod');
    step({ path, text: textOf(path).replace('requests: 20', 'requests: 25') });
  });

  test('a service edited', () => {
    const path = pathOf('name: orders }');
    step({ path, text: textOf(path).replace('10.1.0.3, port: 8081', '10.1.0.4, port: 8081') });
  });
});

describe('memo contexts: the same route objects in environments with different settings', () => {
  // Route objects are shared between environments by the IR builder; what a route reads from its
  // environment must key the memo, or one environment would get the other's JSON.
  const compiler = createIncrementalCompiler();
  compiler.replaceAll(documents);
  const ir = compiled(compiler.compile(ACTIVE));
  const base = ir.environments.find((e) => e.name === 'staging')!;
  const variants: EnvironmentIR[] = [
    base,
    { ...base, name: 'a', listener: { ...base.listener, rateLimitMaxDynamicDescriptors: 7 } },
    { ...base, name: 'b', revokedTokens: { jtis: ['x'], subjects: ['y'] } },
    { ...base, name: 'c', jwtProviders: base.jwtProviders.map((p) => ({ ...p, rolesClaim: 'groups' })) },
    { ...base, name: 'd', listener: { ...base.listener, perConnectionBufferLimitBytes: 4096 } },
  ];

  test.each(variants.map((v) => [v.name, v] as const))('%s', (_name, env) => {
    for (const v of variants) translateEnvironment(v, 'warm-up');
    expect(JSON.stringify(translateEnvironment(env, 'f'))).toBe(JSON.stringify(translateEnvironment(structuredClone(env), 'f')));
  });

  test('the variants do differ (the test above can fail)', () => {
    const texts = variants.map((v) => JSON.stringify({ ...translateEnvironment(v, 'f'), environment: '' }));
    expect(new Set(texts).size).toBe(variants.length);
  });
});

describe('shared per-filter configs', () => {
  test('routes with the same access object share their client-network metadata, JWT and RBAC configs; others do not', () => {
    const compiler = createIncrementalCompiler();
    compiler.replaceAll(documents);
    const env = compiled(compiler.compile(ACTIVE)).environments.find((e) => e.name === 'staging')!;
    const routes = routesOf(translateEnvironment(env, 'f'));
    const byName = new Map(routes.map((r) => [r['name'] as string, r['typed_per_filter_config'] as JsonObject]));
    const metadata = new Map(routes.map((r) => [r['name'] as string, r['metadata'] as JsonObject | undefined]));
    const ir = new Map(env.routes.map((r) => [r.name, r]));
    // orders-list and orders-export have the same rules in the source, login others.
    expect(ir.get('orders-list')!.access).toBe(ir.get('orders-export')!.access);
    expect(byName.get('orders-list')!['envoy.filters.http.rbac']).toBe(byName.get('orders-export')!['envoy.filters.http.rbac']);
    expect(byName.get('orders-list')!['envoy.filters.http.jwt_authn']).toBe(byName.get('orders-export')!['envoy.filters.http.jwt_authn']);
    expect(metadata.get('orders-list')).toBeDefined();
    expect(metadata.get('orders-list')).toBe(metadata.get('orders-export'));
    expect(byName.get('login')!['envoy.filters.http.rbac']).not.toEqual(byName.get('orders-list')!['envoy.filters.http.rbac']);
  });
});

describe('route configuration versions', () => {
  const compiler = createIncrementalCompiler();
  compiler.replaceAll(documents);
  const env = compiled(compiler.compile(ACTIVE)).environments[0]!;
  const config = translateEnvironment(env, 'f').routes[0]!;

  /** A deep copy with every object's keys inserted in reverse order. */
  function reversedKeys<T>(v: T): T {
    if (Array.isArray(v)) return v.map(reversedKeys) as T;
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversedKeys(x)])) as T;
  }

  test('depend on content only: a hand-built copy with other key order has the same version', () => {
    const copy = reversedKeys(config.value);
    expect(JSON.stringify(copy)).not.toBe(JSON.stringify(config.value));
    expect(resourceVersion('route', copy)).toBe(config.version);
  });

  test('change when any one route changes, or the order of routes', () => {
    const vhosts = config.value['virtual_hosts'] as JsonObject[];
    const edited = (f: (routes: JsonObject[]) => JsonObject[]): JsonObject => ({
      ...config.value,
      virtual_hosts: vhosts.map((vh, i) => (i === 0 ? { ...vh, routes: f(vh['routes'] as JsonObject[]) } : vh)),
    });
    const versions = [
      config.version,
      resourceVersion('route', edited((rs) => rs.map((r, i) => (i === 0 ? { ...r, name: `${r['name'] as string}x` } : r)))),
      resourceVersion('route', edited((rs) => [...rs].reverse())),
      resourceVersion('route', edited((rs) => rs.slice(1))),
      resourceVersion(
        'route',
        edited((rs) => rs.map((r, i) => (i === 0 ? { ...r, typed_per_filter_config: { ...(r['typed_per_filter_config'] as JsonObject), extra: { '@type': 'x' } } } : r))),
      ),
      resourceVersion('route', { ...config.value, ignore_port_in_host_matching: false }),
    ];
    expect((vhosts[0]!['routes'] as JsonObject[]).length).toBeGreaterThan(1);
    expect(new Set(versions).size).toBe(versions.length);
  });

  test('change when virtual hosts change order or domains', () => {
    const routes = (config.value['virtual_hosts'] as JsonObject[]).flatMap((vh) => vh['routes'] as JsonObject[]);
    const vh = (name: string, rs: JsonObject[]): JsonObject => ({ name, domains: [name], routes: rs });
    const two = (a: JsonObject, b: JsonObject): JsonObject => ({ ...config.value, virtual_hosts: [a, b] });
    const a = vh('a.example.com', routes.slice(0, 1));
    const b = vh('b.example.com', routes.slice(1));
    const versions = [
      resourceVersion('route', two(a, b)),
      resourceVersion('route', two(b, a)),
      resourceVersion('route', two({ ...a, domains: ['a.example.com', 'c.example.com'] }, b)),
      resourceVersion('route', two(vh('a.example.com', routes.slice(0, 2)), vh('b.example.com', routes.slice(2)))),
    ];
    expect(new Set(versions).size).toBe(versions.length);
    expect(resourceVersion('route', reversedKeys(two(a, b)))).toBe(versions[0]);
  });

  test('a new EnvironmentIR with the same routes gets the same version', () => {
    const routes: RouteIR[] = [...env.routes];
    const again = translateEnvironment({ ...env, routes }, 'f').routes[0]!;
    expect(again.version).toBe(config.version);
  });
});
