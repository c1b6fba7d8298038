/**
 * Shadow overlays on a real Envoy fed by the control server (issue 10, item 4): a Lockdown put
 * through the authenticated API runs as RBAC shadow rules — every request still gets its answer —
 * and the monitor counts, from the access logs' shadow result, exactly what it would have blocked.
 * Also: the API's refusals change nothing, a shadow start/stop is an RDS-only change (the listener
 * keeps its version), DELETE and the TTL end the counting, revoke-sub and require-role shadows with
 * real JWTs.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import type { ControlServer } from '../../cli/control-server';
import type { EnvoyProcess } from '../support/envoy';
import { call, waitInSync, type PolicyWorld } from '../support/e2e';
import { startE2eFleet, type E2eFleet } from '../support/e2e-fleet';
import { lockdownFile } from '../support/policies';
import { waitFor } from '../support/processes';

jest.setTimeout(120_000);

const TOKEN = 'e2e-shadow-token-0123456789abcdef';
const NET = '198.51.100';
let fleet: E2eFleet;
let world: PolicyWorld;
let server: ControlServer;
let envoy: EnvoyProcess;

beforeAll(async () => {
  fleet = await startE2eFleet('e2e-shadow-1', { shadow: { token: TOKEN } });
  ({ world, server, envoy } = fleet);
});

afterAll(() => fleet?.close());

interface Figures {
  active: boolean;
  wouldBlock: { requests: number; clients: number; byStatus: Record<string, number>; withValidToken: { requests: number; clients: number }; byRoute: { route: string; requests: number }[] };
  unaffected: { requests: number };
}

function api(method: string, name: string | null, body?: unknown, token: string | null = TOKEN): Promise<Response> {
  return fetch(`${server.http.url}/shadow/overlays${name === null ? '' : `/${name}`}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function figures(overlay: string): Promise<Figures> {
  const r = await fetch(`${server.http.url}/monitor/shadow?environment=e2e&overlay=${overlay}&window=5m`);
  expect(r.status).toBe(200);
  return (await r.json()) as Figures;
}

/** Waits until the monitor counted `requests` blocked and `unaffected` others, then checks nothing more comes. */
async function settled(overlay: string, requests: number, unaffected: number): Promise<Figures> {
  await waitFor(`${overlay}: ${requests} would-block, ${unaffected} unaffected`, async () => {
    const f = await figures(overlay);
    return f.wouldBlock.requests >= requests && f.unaffected.requests >= unaffected ? f : undefined;
  }, 15_000, 200);
  await new Promise((r) => setTimeout(r, 1500)); // one more access-log flush: an overcount would show now
  return figures(overlay);
}

/** Sends `n` requests (the i-th from address `xff(i)`), every one answered 200. */
async function sendAll(n: number, urlPath: string, xff: (i: number) => string, token?: string): Promise<void> {
  for (let i = 0; i < n; i++) expect((await call(world.ports.listener, urlPath, { token, xff: xff(i) })).status).toBe(200);
}

/** PUTs a new overlay (201) and waits until Envoy has it and the fleet is in sync; the API's answer. */
async function startShadow(name: string, lockdown: string): Promise<unknown> {
  const base = await versions();
  const put = await api('PUT', name, { environment: 'e2e', lockdown });
  expect(put.status).toBe(201);
  await waitFor('Envoy has the shadow', async () => ((await versions()).routes[0] !== base.routes[0] ? true : undefined));
  await waitInSync(server.http.url, 'e2e-delta');
  return put.json();
}

const versions = () => envoy.versions();
const served = () => server.follower.status().served?.version;
const stuffing = (name: string) => lockdownFile(name, [{ type: 'blockNetworks', cidrs: [`${NET}.0/24`], routes: ['catalog'] }]);

test('the API refuses without a valid token, bad YAML with its position, an overlay that does not compile: nothing published', async () => {
  const before = { envoy: await versions(), served: served() };
  const body = { environment: 'e2e', lockdown: stuffing('stuffing') };
  expect((await api('PUT', 'stuffing', body, null)).status).toBe(401);
  expect((await api('PUT', 'stuffing', body, `${TOKEN}x`)).status).toBe(401);
  expect((await api('GET', null, undefined, 'nope')).status).toBe(401);

  const badYaml = await api('PUT', 'stuffing', { environment: 'e2e', lockdown: 'apiVersion: portcullis.dev/v1\nkind: Lockdown\nmetadata: { name: stuffing\n' });
  expect(badYaml.status).toBe(400);
  const yamlErrors = ((await badYaml.json()) as { errors: { file: string; line: number; column: number }[] }).errors;
  expect(yamlErrors[0]).toMatchObject({ file: 'portcullis-shadow/stuffing.yaml' });
  expect(yamlErrors[0]!.line).toBeGreaterThan(0);
  expect(yamlErrors[0]!.column).toBeGreaterThan(0);

  const unknownRoute = await api('PUT', 'stuffing', { environment: 'e2e', lockdown: lockdownFile('stuffing', [{ type: 'blockNetworks', cidrs: [`${NET}.0/24`], routes: ['nowhere'] }]) });
  expect(unknownRoute.status).toBe(400);
  const routeErrors = ((await unknownRoute.json()) as { errors: { file: string; line: number; path: string; message: string }[] }).errors;
  expect(routeErrors[0]).toMatchObject({ file: 'portcullis-shadow/stuffing.yaml', path: expect.stringContaining('routes') });
  expect(routeErrors[0]!.line).toBeGreaterThan(1);
  expect(routeErrors[0]!.message).toMatch(/nowhere/);

  expect((await api('PUT', 'other-name', body)).status).toBe(400); // metadata.name must be the overlay's name
  expect((await api('PUT', 'stuffing', { environment: 'e2e', lockdown: stuffing('stuffing'), ttl: 'soon' })).status).toBe(400);

  expect(((await (await api('GET', null)).json()) as { overlays: unknown[] }).overlays).toEqual([]);
  expect(served()).toBe(before.served);
  expect(await versions()).toEqual(before.envoy);
});

test('a network shadow: every request answered, exact would-block figures, RDS-only start and stop, DELETE ends the counting', async () => {
  const before = await versions();
  const putAt = Date.now();
  const put = await api('PUT', 'stuffing', { environment: 'e2e', lockdown: stuffing('stuffing') });
  expect(put.status).toBe(201);
  expect(await put.json()).toMatchObject({ name: 'stuffing', environment: 'e2e', policy: 'shadow stuffing', shadowed: [{ route: 'catalog', deniedNetworks: [`${NET}.0/24`] }], notShadowed: [] });
  await waitFor('Envoy has the shadow route configuration', async () => ((await versions()).routes[0] !== before.routes[0] ? true : undefined));
  await waitInSync(server.http.url, 'e2e-delta');
  const inSyncS = (Date.now() - putAt) / 1000;
  const after = await versions();
  expect(after.listeners).toEqual(before.listeners);
  expect(after.clusters).toEqual(before.clusters);
  // Idempotent: the same PUT again replaces it with the same content (200) and changes nothing in Envoy.
  expect((await api('PUT', 'stuffing', { environment: 'e2e', lockdown: stuffing('stuffing') })).status).toBe(200);
  expect(await versions()).toEqual(after);

  // N = 12 from K = 4 addresses of the /24, through the trusted hop; M = 9 others + 3 from the /24 elsewhere.
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await call(world.ports.listener, '/catalog/items', { xff: `${NET}.${1 + (i % 4)}` })).status);
  for (let i = 0; i < 9; i++) statuses.push((await call(world.ports.listener, '/catalog/items', { xff: `192.0.2.${10 + i}` })).status);
  for (let i = 0; i < 3; i++) statuses.push((await call(world.ports.listener, '/accounts/me', { xff: `${NET}.9` })).status);
  expect(statuses.every((s) => s === 200)).toBe(true);
  const f = await settled('stuffing', 12, 12);
  console.log(`shadow: PUT → Envoy in sync ${inSyncS.toFixed(2)} s; PUT → all 12 counted ${((Date.now() - putAt) / 1000 - 1.5).toFixed(1)} s (requests sent after the sync)`);
  expect(f).toMatchObject({
    active: true,
    wouldBlock: { requests: 12, clients: 4, byStatus: { '200': 12 }, withValidToken: { requests: 0, clients: 0 }, byRoute: [{ route: 'catalog', requests: 12 }] },
    unaffected: { requests: 12 },
  });

  const del = await api('DELETE', 'stuffing');
  expect(del.status).toBe(200);
  await waitFor('Envoy without the shadow', async () => ((await versions()).routes[0] === before.routes[0] ? true : undefined));
  expect((await versions()).listeners).toEqual(before.listeners);
  for (let i = 0; i < 5; i++) expect((await call(world.ports.listener, '/catalog/items', { xff: `${NET}.1` })).status).toBe(200);
  await new Promise((r) => setTimeout(r, 2000));
  expect(await figures('stuffing')).toMatchObject({ active: false, wouldBlock: { requests: 12, clients: 4 }, unaffected: { requests: 12 } });
  expect((await api('DELETE', 'stuffing')).status).toBe(404);
});

test('a shadow ends by itself at its TTL: later requests are not counted', async () => {
  const base = await versions();
  const put = await api('PUT', 'brief', { environment: 'e2e', lockdown: stuffing('brief'), ttl: '4s' });
  expect(put.status).toBe(201);
  const { expiresAt } = (await put.json()) as { expiresAt: string };
  await waitFor('Envoy has the shadow', async () => ((await versions()).routes[0] !== base.routes[0] ? true : undefined));
  for (let i = 0; i < 4; i++) expect((await call(world.ports.listener, '/catalog/items', { xff: `${NET}.${20 + i}` })).status).toBe(200);
  expect((await settled('brief', 4, 0)).wouldBlock).toMatchObject({ requests: 4, clients: 4 });
  await waitFor('the overlay expired', async () => (((await (await api('GET', null)).json()) as { overlays: unknown[] }).overlays.length === 0 ? true : undefined), 15_000, 200);
  expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiresAt));
  await waitFor('Envoy without the shadow', async () => ((await versions()).routes[0] === base.routes[0] ? true : undefined));
  for (let i = 0; i < 3; i++) expect((await call(world.ports.listener, '/catalog/items', { xff: `${NET}.30` })).status).toBe(200);
  await new Promise((r) => setTimeout(r, 2000));
  expect(await figures('brief')).toMatchObject({ active: false, wouldBlock: { requests: 4, clients: 4 } });
  // Persisted: the state file in the work dir holds no overlay any more.
  const state = JSON.parse(readFileSync(path.join(String((server.follower as unknown as { opts: { workDir: string } }).opts.workDir), 'portcullis-shadow-overlays.json'), 'utf8')) as { overlays: unknown[] };
  expect(state.overlays).toEqual([]);
});

/**
 * Token shadows with real JWTs: `blocked` requests (the i-th from 192.0.2.<from + i % clients>) would
 * be refused, with a valid token; `others` (one address) would not; every one is answered.
 */
const tokenShadows = [
  {
    what: 'a revoke-sub shadow: the subject\'s requests would be blocked, the others not',
    name: 'scraper',
    actions: [{ type: 'revokeTokens', subjects: ['svc-scraper-7'] }, { type: 'tightenRateLimit', rateLimit: 'limited-per-ip', requests: 1 }],
    answer: { notShadowed: [expect.stringMatching(/^not shadowed: tightenRateLimit limited-per-ip: 1; see the history figures/)] },
    route: 'orders',
    blocked: { n: 6, from: 50, clients: 2, claims: { roles: ['reader'], sub: 'svc-scraper-7' } },
    others: { n: 4, claims: { roles: ['reader'], sub: 'user-1' } },
  },
  {
    what: 'a require-role shadow: tokens without the role would be blocked, those with it not',
    name: 'admins',
    actions: [{ type: 'requireRole', routes: ['export'], roles: ['admin'] }],
    answer: { shadowed: [{ route: 'export', requiredRoles: ['admin'] }], notShadowed: [] },
    route: 'export',
    blocked: { n: 5, from: 70, clients: 3, claims: { roles: ['reader'], sub: 'user-reader' } },
    others: { n: 4, claims: { roles: ['admin'], sub: 'user-admin' } },
  },
];

test.each(tokenShadows)('with real JWTs, $what; all answered', async ({ name, actions, answer, route, blocked, others }) => {
  expect(await startShadow(name, lockdownFile(name, actions))).toMatchObject(answer);
  await sendAll(blocked.n, `/${route}/all`, (i) => `192.0.2.${blocked.from + (i % blocked.clients)}`, world.token(blocked.claims));
  await sendAll(others.n, `/${route}/all`, () => '192.0.2.99', world.token(others.claims));
  const f = await settled(name, blocked.n, others.n);
  expect(f).toMatchObject({
    wouldBlock: { requests: blocked.n, clients: blocked.clients, byStatus: { '200': blocked.n }, withValidToken: { requests: blocked.n, clients: blocked.clients }, byRoute: [{ route, requests: blocked.n }] },
    unaffected: { requests: others.n },
  });
  expect((await api('DELETE', name)).status).toBe(200);
});

test('figure: shadow start → first counted entry (a request every 50 ms from the /24 from the PUT on)', async () => {
  const cpu = process.cpuUsage();
  const putAt = Date.now();
  const put = api('PUT', 'timing', { environment: 'e2e', lockdown: lockdownFile('timing', [{ type: 'blockNetworks', cidrs: [`${NET}.0/24`], routes: ['accounts'] }]) });
  let sent = 0;
  let counted = 0;
  let putDoneS = 0;
  void put.then(() => (putDoneS = (Date.now() - putAt) / 1000));
  for (; sent < 200 && Date.now() - putAt < 15_000; sent++) {
    expect((await call(world.ports.listener, '/accounts/me', { xff: `${NET}.77` })).status).toBe(200);
    const r = await fetch(`${server.http.url}/monitor/shadow?environment=e2e&overlay=timing&window=5m`);
    counted = r.status === 200 ? ((await r.json()) as Figures).wouldBlock.requests : 0;
    if (counted > 0) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const firstS = (Date.now() - putAt) / 1000;
  const used = process.cpuUsage(cpu);
  console.log(`shadow: PUT answered ${putDoneS.toFixed(2)} s, first counted entry ${firstS.toFixed(2)} s after the PUT (${sent + 1} requests sent; test process CPU ${((used.user + used.system) / 1e6).toFixed(2)} s, load ${loadavg()[0]!.toFixed(1)})`);
  expect(counted).toBeGreaterThan(0);
  expect(counted).toBeLessThanOrEqual(sent + 1);
  expect((await put).status).toBe(201);
  expect((await api('DELETE', 'timing')).status).toBe(200);
});
