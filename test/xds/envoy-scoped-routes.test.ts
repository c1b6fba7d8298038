/**
 * Route scopes (SRDS) on a real Envoy 1.40, both ADS variants: a listener routing by first path
 * segment over 20 scopes, each with its own RouteConfiguration, plus the fallback scope. A one-route
 * change sends one RouteConfiguration and Envoy serves it; a new scope and a removed one leave the
 * other scopes answering throughout; a refused RouteConfiguration or scope set is a NACK Envoy
 * survives on its last good config while the other scopes keep updating; a scope whose table has
 * not arrived answers from the fallback scope; a restarted server gets the reconnecting Envoy back
 * in sync with nothing re-sent; and a listener switched from one table (`rds`) to scopes and back
 * keeps answering.
 */
import { versioned } from '../../compiler/envoy';
import { call, steadyLoad } from '../support/e2e';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { freePort } from '../support/ports';
import { scopedFleetResources, type ScopedFleetSpec, scopeRoutesName } from './fixtures';
import { eventually, type Harness, publish, startHarness } from './harness';

const SEGMENTS = Array.from({ length: 20 }, (_, i) => `s${i}`);

interface AuditLine {
  readonly kind: string;
  readonly type: string;
  readonly resources?: number;
  readonly commit: string;
}

let h: Harness;
let envoy: EnvoyProcess | undefined;
let audit: AuditLine[] = [];
afterEach(async () => {
  await envoy?.stop();
  await h?.close();
});

/** A server whose audit records (xds.pushed / ack / nack, in the order the streams made them) land in `audit`. */
async function start(variant: 'GRPC' | 'DELTA_GRPC'): Promise<{ e: EnvoyProcess; port: number; fleet: (s?: Partial<ScopedFleetSpec>) => ReturnType<typeof scopedFleetResources> }> {
  audit = [];
  h = await startHarness({ audit: { record: async (kind, fields) => void audit.push({ kind, ...fields } as AuditLine) } });
  const port = await freePort();
  envoy = startAdsEnvoy({ nodeId: `envoy-${variant}`, fleet: 'edge', xdsPort: h.port, adminPort: await freePort(), delta: variant === 'DELTA_GRPC', logLevel: 'error' });
  return { e: envoy, port, fleet: (s = {}) => scopedFleetResources({ segments: SEGMENTS, listenerPort: port, ...s }) };
}

/** Waits until Envoy answers `path` with 200 and `body`. */
const serves = (port: number, path: string, body: string) =>
  eventually(() => call(port, path).then((a) => `${a.status} ${a.body}`).catch((e: Error) => e.message), (v) => v === `200 ${body}`, `${path} answering ${body}`, 15_000);

/** Waits until the node ACKed every type it subscribes to (clusters … routes) at `commit`. */
const inSyncOn = (commit: string, types = 5) =>
  eventually(async () => h.server.nodes()[0], (n) => n?.inSync === true && n.servedCommit === commit && n.types.length === types, `node in sync on ${commit}`, 15_000);

/** Envoy's xDS counters that say it refused something (none when it accepted everything). */
async function rejections(e: EnvoyProcess): Promise<string[]> {
  return [...(await e.stats('update_rejected'))].filter(([, v]) => Number(v) > 0).map(([k]) => k);
}

/** Audit records since `from` of `kind` (xds.pushed …), as `type:resources`. */
const pushedSince = (from: number) => audit.slice(from).filter((a) => a.kind === 'xds.pushed').map((a) => `${a.type}:${a.resources}`);

describe.each([['GRPC'], ['DELTA_GRPC']] as const)('scoped routes on a real Envoy (%s)', (variant) => {
  test('20 scopes: a one-route change sends one RouteConfiguration; scopes come and go without a miss elsewhere; NACKs of a route table and of the scopes', async () => {
    const { e, port, fleet } = await start(variant);
    await publish(h, fleet());
    await inSyncOn('c1');
    await serves(port, '/s3/a', 's3:v1');
    await serves(port, '/elsewhere', 'fallback'); // no scope for `elsewhere`: the Lua filter picks the fallback scope
    await serves(port, '//s4/../s3/a?q=1', 's3:v1'); // the key is the normalized path's first segment

    // One route changes: one RouteConfiguration goes out, nothing else; Envoy serves it.
    const s1Version = (await e.stats('http.ingress.rds.scope-s1.version_text')).get('http.ingress.rds.scope-s1.version_text');
    let mark = audit.length;
    await publish(h, fleet({ revisions: { s7: 'v2' } }), 'c2');
    await inSyncOn('c2');
    await serves(port, '/s7/a', 's7:v2');
    expect(pushedSince(mark)).toEqual(['route:1']);
    expect((await call(port, '/s1/a')).body).toBe('s1:v1'); // kept though absent from the SotW response
    // Envoy applied s7's table alone; the other scopes' subscriptions took no update and keep their
    // version (SotW: a response without their table is skipped for them, not an update_empty).
    const rds = await e.stats('http.ingress.rds.scope-s(1|7)\\.(update_success|version_text)');
    expect(rds.get('http.ingress.rds.scope-s7.update_success')).toBe('2');
    expect(rds.get('http.ingress.rds.scope-s1.update_success')).toBe('1');
    expect(rds.get('http.ingress.rds.scope-s1.version_text')).toBe(s1Version);

    // A new scope (new first segment): the others answer throughout, the new one once in sync.
    mark = audit.length;
    const during = steadyLoad(port, '/s1/a', { maxRequests: 2000, maxMs: 20_000, body: 's1:v1' });
    await publish(h, fleet({ segments: [...SEGMENTS, 'new'], revisions: { s7: 'v2' } }), 'c3');
    await inSyncOn('c3');
    await serves(port, '/new/a', 'new:v1');
    const order = audit.slice(mark).map((a) => `${a.kind}:${a.type}`);
    // Envoy ACKs the scopes before it has the new scope's table (it does not hold the ACK): the
    // table goes out after that ACK, as the push order wants.
    expect(order.indexOf('xds.ack:scope')).toBeGreaterThan(-1);
    expect(order.indexOf('xds.ack:scope')).toBeLessThan(order.indexOf('xds.pushed:route'));
    expect(pushedSince(mark)).toEqual([variant === 'GRPC' ? `scope:${SEGMENTS.length + 2}` : 'scope:1', 'route:1']);

    // A scope removed: its paths fall back, the others keep answering.
    const kept = SEGMENTS.filter((s) => s !== 's19');
    await publish(h, fleet({ segments: [...kept, 'new'], revisions: { s7: 'v2' } }), 'c4');
    await inSyncOn('c4');
    await serves(port, '/s19/a', 'fallback');
    during.stop();
    const load = await during.done;
    expect(load.examples).toEqual([]);
    expect(load.failed).toBe(0);
    expect(load.sent).toBeGreaterThan(10);
    expect(await rejections(e)).toEqual([]);

    // One scope's table refused: a NACK naming it; Envoy keeps the old one; other scopes update.
    const spec = { segments: [...kept, 'new'], revisions: { s7: 'v2' } };
    await publish(h, fleet({ ...spec, refused: ['s5'] }), 'c5');
    const nacked = await eventually(async () => h.server.nodes()[0], (n) => n?.lastNack?.commit === 'c5', 'route NACK recorded');
    expect(nacked!.lastNack).toMatchObject({ type: 'route', resources: [scopeRoutesName('s5')] });
    expect(nacked!.lastNack!.error).toMatch(/missing \)/); // RE2 on the invalid regex
    expect(nacked!.inSync).toBe(false);
    await publish(h, fleet({ ...spec, refused: ['s5'], revisions: { s7: 'v2', s6: 'v2' } }), 'c6');
    await serves(port, '/s6/a', 's6:v2');
    expect((await call(port, '/s5/a')).body).toBe('s5:v1');
    expect(await h.metric('portcullis_xds_nacks_total', { type: 'route', fleet: 'edge' })).toBe(1);

    // The scope set refused (two scopes on one key): a NACK of type scope; routes still follow.
    await publish(h, fleet({ ...spec, refused: ['s5'], revisions: { s7: 'v2', s6: 'v2', s3: 'v2' }, extraScopes: { dup: 's1' } }), 'c7');
    const scopeNack = await eventually(async () => h.server.nodes()[0], (n) => n?.lastNack?.commit === 'c7', 'scope NACK recorded');
    expect(scopeNack!.lastNack).toMatchObject({ type: 'scope' });
    expect(await h.metric('portcullis_xds_nacks_total', { type: 'scope', fleet: 'edge' })).toBe(1);
    await serves(port, '/s3/a', 's3:v2');
    expect((await call(port, '/s1/a')).body).toBe('s1:v1');
    // Nothing re-sent in a loop.
    expect(await h.metric('portcullis_xds_nacks_total', { type: 'route', fleet: 'edge' })).toBe(1);
    expect(await h.metric('portcullis_xds_nacks_total', { type: 'scope', fleet: 'edge' })).toBe(1);
  });

  test('a scope whose table has not arrived answers from the fallback scope, not 404 (the window a new scope has)', async () => {
    const { e, port, fleet } = await start(variant);
    const f = fleet({ segments: ['a', 'b'] });
    await publish(h, f);
    await serves(port, '/a/x', 'a:v1');
    // A scope naming a RouteConfiguration the server does not have: Envoy asks for it and waits.
    const waiting = versioned('scope', 'waiting', { name: 'waiting', route_configuration_name: 'scope-waiting', key: { fragments: [{ string_key: 'waiting' }] } });
    await publish(h, { ...f, scopes: [...f.scopes, waiting] }, 'c2');
    await eventually(async () => h.server.nodes()[0]?.types.find((t) => t.type === 'scope'), (t) => t?.ackedCommit === 'c2', 'scope ACKed');
    await eventually(() => e.stats('http.ingress.rds.scope-waiting.update_attempt'), (s) => Number(s.get('http.ingress.rds.scope-waiting.update_attempt')) > 0, 'Envoy asked for the table');
    // No route in the scope (it has no table yet), so the Lua filter runs and picks the fallback scope.
    expect(await call(port, '/waiting/x')).toMatchObject({ status: 200, body: 'fallback' });
    expect(await call(port, '/a/x')).toMatchObject({ status: 200, body: 'a:v1' });
  });

  test('a restarted server computes the same versions: the reconnecting Envoy holds every scope and table, nothing re-sent', async () => {
    const { e, port, fleet } = await start(variant);
    await publish(h, fleet());
    await inSyncOn('c1');
    // Envoy's last RDS response carries s2's table alone (SotW: under the version of all 21).
    await publish(h, fleet({ revisions: { s2: 'v2' } }), 'c2');
    await inSyncOn('c2');
    expect(pushedSince(0).at(-1)).toBe('route:1');
    const xdsPort = h.port;
    await h.close();
    h = await startHarness({}, xdsPort);
    await publish(h, fleet({ revisions: { s2: 'v2' } }), 'c2');
    await inSyncOn('c2');
    expect(await h.metric('portcullis_xds_pushes_total')).toBe(0);
    expect((await call(port, '/s2/a')).body).toBe('s2:v2');
    expect(await rejections(e)).toEqual([]);
  });

  test('a listener switched from one route table to scopes and back keeps answering every path', async () => {
    const { e, port, fleet } = await start(variant);
    const segments = SEGMENTS.slice(0, 5);
    await publish(h, fleet({ segments, routing: 'rds' }));
    await inSyncOn('c1', 4);
    await serves(port, '/s1/a', 's1:v1');
    const loads = [
      steadyLoad(port, '/s1/a', { maxRequests: 2000, maxMs: 30_000, body: 's1:v1' }),
      steadyLoad(port, '/elsewhere', { maxRequests: 2000, maxMs: 30_000, body: 'fallback' }),
    ];
    const mark = audit.length;
    await publish(h, fleet({ segments }), 'c2');
    await inSyncOn('c2');
    // The new listener warms on its scopes and their tables: Envoy ACKed the scopes before it had
    // the tables (were the ACK held until then, the push order would deadlock here).
    const order = audit.slice(mark).map((a) => `${a.kind}:${a.type}`);
    expect(order.indexOf('xds.ack:scope')).toBeGreaterThan(-1);
    expect(order.indexOf('xds.ack:scope')).toBeLessThan(order.indexOf('xds.pushed:route'));
    await eventually(() => e.stats('scoped_rds'), (s) => [...s].some(([k, v]) => k.endsWith('update_success') && Number(v) > 0), 'Envoy applied scopes');
    await publish(h, fleet({ segments, routing: 'rds' }), 'c3');
    await eventually(async () => h.server.nodes()[0], (n) => n?.inSync === true && n.servedCommit === 'c3', 'node in sync on c3', 15_000);
    for (const l of loads) l.stop();
    for (const l of loads) {
      const r = await l.done;
      expect(r.examples).toEqual([]);
      expect(r.failed).toBe(0);
      expect(r.sent).toBeGreaterThan(10);
    }
    expect(await rejections(e)).toEqual([]);
  });
});
