/**
 * Route scopes (`listener.routeScopes: firstPathSegment`, compiler/envoy/route-scopes.ts): which
 * routes each scope holds and in what order, the resources and their names, and what a one-route
 * change re-sends. Routing equivalence on a real Envoy is test/e2e/route-scopes.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { compileSources, createIncrementalCompiler } from '../../compiler';
import { FILTER, translateEnvironment } from '../../compiler/envoy';
import type { EnvoyResource, EnvoyResources, JsonObject } from '../../compiler/envoy/resources';
import { routeReach, scopeTables, type RouteReach } from '../../compiler/envoy/route-scopes';
import type { EnvironmentIR, RouteMatchIR } from '../../compiler/ir/ir';
import { compiledOrThrow, environmentOf } from '../support/policy-fixtures';

const NOW = new Date('2026-12-02T12:00:00Z');

describe('routeReach: a route is pinned to S when every path it matches has first segment S', () => {
  const cases: ReadonlyArray<readonly [RouteMatchIR['path']['kind'], string, RouteReach]> = [
    ['exact', '/api', { kind: 'pinned', segment: 'api' }],
    ['exact', '/api/users/me', { kind: 'pinned', segment: 'api' }],
    ['exact', '/api/', { kind: 'pinned', segment: 'api' }],
    ['prefix', '/api/', { kind: 'pinned', segment: 'api' }],
    ['prefix', '/api/v1', { kind: 'pinned', segment: 'api' }],
    ['prefix', '/search?q=', { kind: 'pinned', segment: 'search' }],
    ['regex', '/orders/[0-9]+', { kind: 'pinned', segment: 'orders' }],
    ['regex', '/a-b_c~1/.*', { kind: 'pinned', segment: 'a-b_c~1' }],
    ['regex', '^/orders/[0-9]+$', { kind: 'pinned', segment: 'orders' }],
    ['regex', '^^/orders/x', { kind: 'any' }],
    // A partial first segment: `/ap` matches /ap, /api, /apple...
    ['prefix', '/ap', { kind: 'partial', prefix: 'ap' }],
    ['prefix', '/', { kind: 'any' }],
    // Regexes whose first segment is not one literal.
    ['regex', '/(v1|v2)/items', { kind: 'any' }],
    ['regex', '/api/x|/other/y', { kind: 'any' }],
    ['regex', '/ap.*', { kind: 'any' }],
    ['regex', '/api/*x', { kind: 'any' }],
    ['regex', '/api/?', { kind: 'any' }],
    ['regex', '(?i)/api/x', { kind: 'any' }],
    ['regex', '/a\\.b/x', { kind: 'any' }],
    // An empty first segment: only the path `/`, which selects no scope.
    ['exact', '/', { kind: 'fallback' }],
    ['prefix', '//x', { kind: 'fallback' }],
    ['prefix', '/?x=1', { kind: 'fallback' }],
  ];
  test.each(cases)('%s %s', (kind, value, reach) => {
    expect(routeReach({ kind, value })).toEqual(reach);
  });
});

/** An environment with route scopes and one route per entry (name, path condition). */
function sources(routes: ReadonlyArray<readonly [string, string]>, extra = ''): { path: string; text: string }[] {
  return [
    {
      path: 'env.yaml',
      text: `apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: t }
spec:
  fleets: [edge-t]
  listener: { routeScopes: firstPathSegment }
---
apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: echo }
spec:
  endpoints: [{ address: 127.0.0.1, port: 8080 }]
`,
    },
    ...routes.map(([name, path]) => ({
      path: `routes/${name}.yaml`,
      text: `apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: ${name} }
spec:
  path: ${path}
  service: echo
${extra}`,
    })),
  ];
}

const ROUTES: ReadonlyArray<readonly [string, string]> = [
  ['catch-all', '{ prefix: / }'],
  ['ap', '{ prefix: /ap }'],
  ['api', '{ prefix: /api/ }'],
  ['api-exact', '{ exact: /api }'],
  ['apple', '{ prefix: /apple/ }'],
  ['b', '{ prefix: /b/ }'],
  ['root', '{ exact: / }'],
  ['items', '{ regex: "/(v1|v2)/items" }'],
];

const compiledEnv = (routes = ROUTES): EnvironmentIR => environmentOf(compiledOrThrow(compileSources(sources(routes), NOW)), 't');

/** Route names per virtual host of a route configuration (policy routes only). */
function routeNames(config: JsonObject): string[] {
  return (config['virtual_hosts'] as JsonObject[]).flatMap((vh) => (vh['routes'] as JsonObject[]).map((r) => r['name'] as string));
}

describe('scopes: contents, order, fallback', () => {
  const env = compiledEnv();
  const order = env.routes.map((r) => r.name);

  test('a scope per pinned segment, sorted, then the fallback; each keeps the IR order', () => {
    const tables = scopeTables('t', env.routes);
    const inOrder = (names: string[]): string[] => order.filter((n) => names.includes(n));
    expect(tables.map((t) => [t.name, t.segment, t.routes.map((r) => r.name)])).toEqual([
      // /ap is kept where the segment starts with "ap"; the regex and `/` everywhere; exact `/` only in the fallback.
      ['portcullis/t/routes/api', 'api', inOrder(['api', 'api-exact', 'ap', 'items', 'catch-all'])],
      ['portcullis/t/routes/apple', 'apple', inOrder(['apple', 'ap', 'items', 'catch-all'])],
      ['portcullis/t/routes/b', 'b', inOrder(['b', 'items', 'catch-all'])],
      ['portcullis/t/routes:fallback', null, inOrder(['ap', 'items', 'root', 'catch-all'])],
    ]);
  });

  test('resources: a RouteConfiguration and a ScopedRouteConfiguration per scope, sorted by name', () => {
    const out = translateEnvironment(env, 'edge-t');
    const names = ['portcullis/t/routes/api', 'portcullis/t/routes/apple', 'portcullis/t/routes/b', 'portcullis/t/routes:fallback'];
    expect(out.routes.map((r) => r.name)).toEqual(names);
    expect(out.scopes.map((s) => s.value)).toEqual(
      names.map((name, i) => ({ name, route_configuration_name: name, key: { fragments: [{ string_key: ['api', 'apple', 'b', 'portcullis fallback'][i] }] } })),
    );
    expect(routeNames(out.routes[0]!.value)).toEqual(scopeTables('t', env.routes)[0]!.routes.map((r) => r.name));
    for (const r of out.routes) {
      // The key header stays in Envoy; the fallback script is off wherever a route matched.
      expect(r.value['request_headers_to_remove']).toEqual(['x-portcullis-scope']);
      expect((r.value['typed_per_filter_config'] as JsonObject)[FILTER.scopeFallback]).toEqual({
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute',
        disabled: true,
      });
    }
  });

  test('the listener selects scopes by the first path segment and runs the fallback script first', () => {
    const hcm = (translateEnvironment(env, 'edge-t').listeners[0]!.value['filter_chains'] as JsonObject[])[0]!['filters'] as JsonObject[];
    const config = hcm[0]!['typed_config'] as JsonObject;
    expect(config['rds']).toBeUndefined();
    expect(config['scoped_routes']).toMatchObject({
      name: 'portcullis/t/scopes',
      scope_key_builder: { fragments: [{ header_value_extractor: { name: 'x-portcullis-scope', element_separator: '/', index: 1 } }] },
      scoped_rds: { scoped_rds_config_source: { ads: {}, resource_api_version: 'V3' } },
    });
    expect(JSON.stringify(config['early_header_mutation_extensions'])).toContain('"value":"%PATH(NQ)%"');
    expect((config['http_filters'] as JsonObject[])[0]!['name']).toBe(FILTER.scopeFallback);
  });

  test('every host has a virtual host in every scope, routes or not', () => {
    const text = sources([['web-api', '{ prefix: /api/ }'], ['catch-all', '{ prefix: / }']]);
    text[1]!.text = text[1]!.text.replace('spec:\n', 'spec:\n  host: api.example.com\n');
    const out = translateEnvironment(environmentOf(compiledOrThrow(compileSources(text, NOW)), 't'), 'edge-t');
    for (const r of out.routes) expect((r.value['virtual_hosts'] as JsonObject[]).map((vh) => vh['name'])).toEqual(['api.example.com', '*']);
  });

  test("a scope's client networks are those its routes name", () => {
    const ir = YAML.parse(readFileSync(join(__dirname, '../testdata/envoy/access-scoped.in.yaml'), 'utf8')) as EnvironmentIR;
    const out = translateEnvironment(ir, ir.fleets[0]!);
    let withNetworks = 0;
    for (const r of out.routes) {
      const named = new Set(JSON.stringify(r.value['virtual_hosts']).match(/"(deny|allow) [^"]+"/g) ?? []);
      const block = (r.value['typed_per_filter_config'] as JsonObject)[FILTER.clientNetworks];
      const held = new Set(JSON.stringify(block ?? {}).match(/"(deny|allow) [^"]+"/g) ?? []);
      expect(held).toEqual(named);
      if (named.size > 0) withNetworks++;
    }
    // Some scopes have networks and some have none: the restriction is visible.
    expect(withNetworks).toBeGreaterThan(0);
    expect(withNetworks).toBeLessThan(out.routes.length);
  });
});

describe('versions: a one-route change re-sends one scope', () => {
  const files = sources(ROUTES);
  const compiler = createIncrementalCompiler();
  compiler.replaceAll(files);
  const translate = (): EnvoyResources => translateEnvironment(environmentOf(compiledOrThrow(compiler.compile(NOW)), 't'), 'edge-t');
  const edit = (name: string, from: string, to: string): EnvoyResources => {
    const file = files.find((f) => f.path === `routes/${name}.yaml`)!;
    file.text = file.text.replace(from, to);
    compiler.update([file]);
    return translate();
  };
  const changed = (a: readonly EnvoyResource[], b: readonly EnvoyResource[]): string[] =>
    b.filter((r) => a.find((x) => x.name === r.name)?.version !== r.version).map((r) => r.name);

  test('a pinned route: only its scope changes version; the others keep their objects; no scope or listener changes', () => {
    const before = translate();
    const after = edit('apple', 'service: echo', 'service: echo\n  timeout: 9s');
    expect(changed(before.routes, after.routes)).toEqual(['portcullis/t/routes/apple']);
    for (const r of after.routes.filter((x) => x.name !== 'portcullis/t/routes/apple')) {
      expect(r.value).toBe(before.routes.find((x) => x.name === r.name)!.value);
    }
    expect(after.scopes).toEqual(before.scopes);
    expect(after.listeners).toEqual(before.listeners);
    // And the warm result is what a cold translation gives.
    const env = environmentOf(compiledOrThrow(compiler.compile(NOW)), 't');
    expect(JSON.stringify(translateEnvironment(structuredClone(env), 'edge-t'))).toBe(JSON.stringify(after));
  });

  test('a partial prefix: the scopes it reaches and the fallback', () => {
    const before = translate();
    const after = edit('ap', 'service: echo', 'service: echo\n  timeout: 8s');
    expect(changed(before.routes, after.routes)).toEqual(['portcullis/t/routes/api', 'portcullis/t/routes/apple', 'portcullis/t/routes:fallback']);
  });

  test('a catch-all: every scope', () => {
    const before = translate();
    const after = edit('catch-all', 'service: echo', 'service: echo\n  timeout: 7s');
    expect(changed(before.routes, after.routes)).toEqual(after.routes.map((r) => r.name));
    expect(after.scopes).toEqual(before.scopes);
  });

  test('a route moved to a new segment: a new scope, its old scope changes, nothing else', () => {
    const before = translate();
    const after = edit('b', 'prefix: /b/', 'prefix: /c/');
    expect(after.scopes.map((s) => s.name)).toEqual(['portcullis/t/routes/api', 'portcullis/t/routes/apple', 'portcullis/t/routes/c', 'portcullis/t/routes:fallback']);
    expect(changed(before.routes, after.routes)).toEqual(['portcullis/t/routes/c']);
    expect(changed(before.scopes, after.scopes)).toEqual(['portcullis/t/routes/c']);
  });
});
