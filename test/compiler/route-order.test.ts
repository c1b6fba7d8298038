/** Route match order: the comparator and the sort key the builder uses agree on any set of routes. */
import type { RouteIR } from '../../compiler/ir/ir';
import { compareRoutes, routeSortKey } from '../../compiler/ir/route-order';
import { compareDiagnostics } from '../../compiler/result';
import { compareText } from '../../compiler/text-order';

function route(name: string, host: string, kind: 'exact' | 'prefix' | 'regex', value: string, methods: string[] = [], headers = 0): RouteIR {
  return {
    name,
    host,
    match: {
      path: { kind, value },
      methods,
      headers: Array.from({ length: headers }, (_, i) => ({ name: `x-${i}`, match: { kind: 'present' as const }, invert: false })),
    },
    service: 's',
    timeoutMs: 1000,
    retries: null,
    disabled: null,
    access: { authentication: 'none', providers: [], rules: [], allowedNetworks: [], deniedNetworks: [] },
    rateLimits: [],
  };
}

test('the documented order', () => {
  const routes = [
    route('catch-all', '*', 'prefix', '/'),
    route('a-long-prefix', '*', 'prefix', '/api/v1/'),
    route('regex', '*', 'regex', '^/api/[0-9]+$'),
    route('exact-any', '*', 'exact', '/api'),
    route('exact-get', '*', 'exact', '/api', ['GET']),
    route('exact-get-header', '*', 'exact', '/api', ['GET'], 1),
    route('wild', '*.example.com', 'prefix', '/'),
    route('named', 'api.example.com', 'prefix', '/'),
    route('b-prefix', '*', 'prefix', '/api/v1/'),
  ];
  expect([...routes].sort(compareRoutes).map((r) => r.name)).toEqual([
    'named',
    'wild',
    'exact-get-header',
    'exact-get',
    'exact-any',
    'regex',
    'a-long-prefix',
    'b-prefix',
    'catch-all',
  ]);
});

test('routeSortKey orders exactly like compareRoutes (seeded random routes)', () => {
  let seed = 7;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const hosts = ['*', 'a.example.com', 'ab.example.com', '*.example.com', 'a.example.com:8443'];
  const paths = ['/', '/a', '/ab', '/a/b', '/b', '^/a$', '^/a.*$'];
  const routes: RouteIR[] = [];
  for (let i = 0; i < 500; i++) {
    const kind = (['exact', 'prefix', 'regex'] as const)[next(3)] ?? 'prefix';
    routes.push(route(`r${next(1000)}-${i}`, hosts[next(hosts.length)] ?? '*', kind, paths[next(paths.length)] ?? '/', next(2) ? ['GET'] : [], next(3)));
  }
  const byComparator = [...routes].sort(compareRoutes).map((r) => r.name);
  const byKey = [...routes].sort((a, b) => (routeSortKey(a) < routeSortKey(b) ? -1 : routeSortKey(a) > routeSortKey(b) ? 1 : 0)).map((r) => r.name);
  expect(byKey).toEqual(byComparator);
});

describe('one string order for every output (compiler/text-order)', () => {
  test('diagnostics are reported in code-unit order of files and messages, whatever the locale', () => {
    const d = (file: string, message: string) => ({ file, line: 1, column: 1, subject: '', path: '', message });
    const sorted = [d('policies/b.yaml', 'x'), d('policies/B.yaml', 'x'), d('policies/a.yaml', 'y'), d('policies/a.yaml', 'Y')].sort(compareDiagnostics);
    // localeCompare would put a before B and y before Y; the walk, the IR and Envoy output use code units.
    expect(sorted.map((x) => `${x.file} ${x.message}`)).toEqual(['policies/B.yaml x', 'policies/a.yaml Y', 'policies/a.yaml y', 'policies/b.yaml x']);
    expect(['b', 'B', 'a', 'é', 'z'].sort(compareText)).toEqual(['B', 'a', 'b', 'z', 'é']);
  });
});
