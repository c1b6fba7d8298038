/**
 * Route scopes on a real Envoy: the same policies compiled with `listener.routeScopes: none` (one
 * route table) and `firstPathSegment` (one table per first path segment, SRDS, with the Lua
 * fallback) route every request of a list to the same route. Both Envoys run a static bootstrap of
 * the translator's output (scopes inline). Each route has its own timeout, which Envoy tells the
 * upstream in `x-envoy-expected-rq-timeout-ms`: the echo upstream's answer names the route.
 */
import { type SourceFile } from '../../compiler';
import { httpRequest, type HttpResult } from '../envoy/echo-upstream';
import { echoRoute, trustedProxyEnvironment, useStaticEnvoy } from '../support/static-envoy';

const NOW = new Date('2026-12-02T12:00:00Z');

/** Route name → [path condition and other conditions, timeout in seconds]: the timeout identifies the route. */
const ROUTES: ReadonlyArray<readonly [string, string, number]> = [
  ['api-exact', 'path: { exact: /api }', 1],
  ['api-prefix', 'path: { prefix: /api/ }', 2],
  ['api-post', 'path: { prefix: /api/ }\n  methods: [POST]', 3],
  ['api-beta', 'path: { prefix: /api/ }\n  headers: [{ name: x-beta, present: true }]', 4],
  ['ap-partial', 'path: { prefix: /ap }', 5],
  ['apple', 'path: { prefix: /apple/ }', 6],
  ['orders-regex', 'path: { regex: "/orders/[0-9]+" }', 7],
  ['items-regex', 'path: { regex: "/(v1|v2)/items" }', 8],
  ['root', 'path: { exact: / }', 9],
  ['catch-all', 'path: { prefix: / }', 10],
  ['b', 'path: { prefix: /b/ }', 11],
  ['search', 'path: { prefix: "/search?q=" }', 12],
  ['users-me', 'path: { exact: /users/me }', 13],
  ['host-api', 'host: api.example.com\n  path: { prefix: /api/ }', 14],
];

function policies(routeScopes: 'none' | 'firstPathSegment'): (listenerPort: number, upstreamPort: number) => SourceFile[] {
  return (listenerPort, upstreamPort) => [
    { path: 'environment.yaml', text: trustedProxyEnvironment(listenerPort, upstreamPort).replace('xffNumTrustedHops: 1 }', `xffNumTrustedHops: 1, routeScopes: ${routeScopes} }`) },
    ...ROUTES.map(([name, conditions, seconds]) => ({
      path: `routes/${name}.yaml`,
      text: echoRoute(name).replace(/path: .*\n/, `${conditions}\n`).replace('service: echo', `service: echo\n  timeout: ${seconds}s`),
    })),
  ];
}

/** One request: method, path as sent (raw), headers. */
type Probe = readonly [method: string, path: string, headers?: Record<string, string>];

const PROBES: readonly Probe[] = [
  ['GET', '/api'],
  ['GET', '/api?x=1'],
  ['GET', '/api/x'],
  ['POST', '/api/x'],
  ['GET', '/api/x', { 'x-beta': '1' }],
  ['GET', '/ap'],
  ['GET', '/apx'],
  ['GET', '/apple'],
  ['GET', '/apple?x=1'],
  ['GET', '/apple/pie'],
  ['GET', '/orders/12'],
  ['GET', '/orders/abc'],
  ['GET', '/v1/items'],
  ['GET', '/api/../v2/items'],
  ['GET', '/'],
  ['GET', '/?x=1'],
  ['GET', '/unknown/path'],
  ['GET', '//api/x'],
  ['GET', '/a/../b/c'],
  ['GET', '/b'],
  ['GET', '/search?q=envoy'],
  ['GET', '/search'],
  ['GET', '/users/me?x=1'],
  ['GET', '/users'],
  ['GET', '/api/x', { host: 'api.example.com' }],
  ['GET', '/zzz', { host: 'api.example.com' }],
  ['GET', '/api/x', { 'x-portcullis-scope': '/unknown' }],
  ['GET', '/unknown', { 'x-portcullis-scope': '/api' }],
  ['GET', '/api/x', { 'x-forwarded-for': 'not-an-address' }],
];

/** What identifies the route a request took: the status and, when it reached the upstream, the route's timeout. */
function routeOf(r: HttpResult): string {
  if (r.status !== 200 || r.headers['content-type'] !== 'application/json') return `status ${r.status}`;
  const upstream = JSON.parse(r.body) as { headers: Record<string, string> };
  return `timeout ${upstream.headers['x-envoy-expected-rq-timeout-ms'] ?? 'none'}`;
}

/** Probe → route, for the requests that go through the scopes' less obvious paths. */
const SCOPED_CASES: Record<string, string> = {
  'GET /apple {}': 'timeout 5000', // partial prefix /ap, repeated inside scope apple
  'GET /apx {}': 'timeout 5000', // no scope apx: the fallback's /ap
  'GET /v1/items {}': 'timeout 8000', // unpinned regex: fallback
  'GET / {}': 'timeout 9000', // empty first segment: fallback
  'GET /orders/abc {}': 'timeout 10000', // scope orders, the catch-all repeated in it
  'GET //api/x {}': 'timeout 2000', // merged slashes before the key is taken
  'GET /zzz {"host":"api.example.com"}': 'status 404', // the host has no route there, in any scope
  'GET /unknown {"x-portcullis-scope":"/api"}': 'timeout 10000', // a client's key is overwritten
};

const oneTable = useStaticEnvoy(policies('none'), NOW);
const scoped = useStaticEnvoy(policies('firstPathSegment'), NOW);

const send = (port: number, [method, path, headers]: Probe): Promise<HttpResult> => httpRequest(port, method, path, headers);

test('every request takes the same route with route scopes as with one table', async () => {
  const outcomes = new Map<string, { one: string; scoped: string }>();
  for (const probe of PROBES) {
    const one = routeOf(await send(oneTable().port, probe));
    outcomes.set(`${probe[0]} ${probe[1]} ${JSON.stringify(probe[2] ?? {})}`, { one, scoped: routeOf(await send(scoped().port, probe)) });
  }
  expect([...outcomes].filter(([, o]) => o.one !== o.scoped)).toEqual([]);
  // The list reaches every route (and the 404 and 400 answers): agreement is not vacuous.
  expect(new Set([...outcomes.values()].map((o) => o.one)).size).toBeGreaterThanOrEqual(ROUTES.length);
  // The cases that exercise the scopes, as the scoped Envoy answers them.
  expect(Object.fromEntries([...outcomes].filter(([probe]) => SCOPED_CASES[probe] !== undefined).map(([probe, o]) => [probe, o.scoped]))).toEqual(SCOPED_CASES);
}, 60_000);

test('the scope key header never reaches the upstream, whatever the client sends', async () => {
  const sent: Record<string, string>[] = [{}, { 'x-portcullis-scope': '/elsewhere' }];
  for (const headers of sent) {
    const r = await httpRequest(scoped().port, 'GET', '/api/x', headers);
    expect(r.status).toBe(200);
    const upstream = JSON.parse(r.body) as { headers: Record<string, string> };
    expect(upstream.headers['x-envoy-expected-rq-timeout-ms']).toBe('2000');
    expect(upstream.headers).not.toHaveProperty('x-portcullis-scope');
  }
});
