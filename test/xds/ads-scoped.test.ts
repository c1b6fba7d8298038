/**
 * Route scopes (SRDS) and many RouteConfigurations at the protocol level, both ADS variants, with
 * the bench's ADS client playing Envoy: a one-route change re-sends the one RouteConfiguration that
 * holds it (SotW too: a named response carries only what the node lacks, under the version of its
 * whole selection), streams due the same subset share one frame, scopes come before routes, and a
 * refused RouteConfiguration is not sent again while the other scopes keep updating.
 */
import { TYPE_URL } from '../../compiler/envoy/resources';
import type { AdsClient } from '../../bench/xds/ads-client';
import { scopedFleetResources, scopeRoutesName } from './fixtures';
import { CDS, EDS, LDS, RDS, type Harness, names, publish, startHarness } from './harness';

const SRDS = TYPE_URL.scope;
const SEGMENTS = Array.from({ length: 20 }, (_, i) => `s${i}`);
const ROUTE_NAMES = [...SEGMENTS, 'fallback'].map(scopeRoutesName).sort();
const fleet = (extra: Partial<Parameters<typeof scopedFleetResources>[0]> = {}) =>
  scopedFleetResources({ segments: SEGMENTS, listenerPort: 10000, ...extra });

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/** Subscribes like Envoy (SotW: names in every request; delta: each name once) and ACKs. */
function ask(c: AdsClient, typeUrl: string, subscribe: readonly string[] = [], all: readonly string[] = subscribe): void {
  if (c.options.variant === 'sotw') c.sotw({ typeUrl, resourceNames: all });
  else c.delta({ typeUrl, subscribe });
}

/** CDS, EDS, LDS, SRDS (wildcard), then RDS for every scope's RouteConfiguration, all ACKed. */
async function envoyLikeStart(c: AdsClient): Promise<void> {
  ask(c, CDS);
  const cds = await c.next('cluster');
  c.ack(cds);
  ask(c, EDS, names(cds));
  c.ack(await c.next('endpoint'), names(cds));
  ask(c, LDS);
  c.ack(await c.next('listener'));
  ask(c, SRDS);
  const srds = await c.next('scope');
  expect(srds.resources).toHaveLength(SEGMENTS.length + 1);
  c.ack(srds);
  ask(c, RDS, ROUTE_NAMES);
  const rds = await c.next('route');
  expect(names(rds)).toEqual(ROUTE_NAMES);
  c.ack(rds, ROUTE_NAMES);
  expect(await c.quiet(100)).toEqual([]);
}

describe.each(['sotw', 'delta'] as const)('scoped routes over %s ADS', (variant) => {
  test('a one-route change among 21 RouteConfigurations sends that one, in one frame shared by the streams due it', async () => {
    h = await startHarness();
    await publish(h, fleet());
    const clients = [h.client(variant, { id: 'n1', cluster: 'edge' }), h.client(variant, { id: 'n2', cluster: 'edge' })];
    for (const c of clients) await envoyLikeStart(c);
    const before = await h.metric('portcullis_xds_pushes_total');

    await publish(h, fleet({ revisions: { s7: 'v2' } }), 'c2');
    const changed = await Promise.all(clients.map((c) => c.next()));
    for (const r of changed) {
      expect(r.kind).toBe('route');
      expect(names(r)).toEqual([scopeRoutesName('s7')]);
    }
    expect(changed[1]!.nonce).toBe(changed[0]!.nonce);
    const served = h.server.nodes()[0]!.types.find((t) => t.type === 'route')!.servedVersion;
    expect(changed[0]!.versionInfo).toBe(served); // the version of the whole selection
    clients.forEach((c, i) => c.ack(changed[i]!, ROUTE_NAMES));
    for (const c of clients) expect(await c.quiet(100)).toEqual([]);
    expect(await h.metric('portcullis_xds_pushes_total')).toBe(before + 2);
    for (const n of h.server.nodes()) expect(n).toMatchObject({ inSync: true, servedCommit: 'c2' });
  });

  test('a new scope: every scope (SotW) or the new one (delta) first, its RouteConfiguration once Envoy asks', async () => {
    h = await startHarness();
    await publish(h, fleet());
    const c = h.client(variant);
    await envoyLikeStart(c);

    await publish(h, scopedFleetResources({ segments: [...SEGMENTS, 'new'], listenerPort: 10000 }), 'c2');
    const srds = await c.next();
    expect(srds.kind).toBe('scope');
    expect(names(srds)).toEqual(variant === 'sotw' ? [...SEGMENTS, 'new', 'portcullis-fallback'].sort() : ['new']);
    expect(await c.quiet(100)).toEqual([]); // routes wait for the scope ACK
    c.ack(srds);
    expect(await c.quiet(100)).toEqual([]); // nobody asked for the new RouteConfiguration yet
    const all = [...ROUTE_NAMES, scopeRoutesName('new')].sort();
    ask(c, RDS, [scopeRoutesName('new')], all);
    const rds = await c.next('route');
    expect(names(rds)).toEqual([scopeRoutesName('new')]);
    c.ack(rds, all);
    expect(await c.quiet(100)).toEqual([]);
    expect(h.server.nodes()[0]).toMatchObject({ inSync: true, servedCommit: 'c2' });
  });

  test('a refused RouteConfiguration is not sent again; a change to another scope goes alone', async () => {
    h = await startHarness();
    await publish(h, fleet());
    const c = h.client(variant);
    await envoyLikeStart(c);

    await publish(h, fleet({ refused: ['s5'] }), 'c2');
    const bad = await c.next('route');
    expect(names(bad)).toEqual([scopeRoutesName('s5')]);
    c.nack(bad, 'invalid regex', '', ROUTE_NAMES);
    expect(await c.quiet(100)).toEqual([]);
    const refused = h.server.nodes()[0]!;
    expect(refused.inSync).toBe(false);
    expect(refused.lastNack).toMatchObject({ type: 'route', commit: 'c2', resources: [scopeRoutesName('s5')] });

    await publish(h, fleet({ refused: ['s5'], revisions: { s6: 'v2' } }), 'c3');
    const next = await c.next('route');
    expect(names(next)).toEqual([scopeRoutesName('s6')]);
    // SotW: not the served version, for the node will not hold s5 as served (a reconnect with this
    // version to a server that forgot the refusal must not read as holding it). Delta resumes from
    // initial_resource_versions instead.
    const served = h.server.nodes()[0]!.types.find((t) => t.type === 'route')!.servedVersion;
    if (variant === 'sotw') expect(next.versionInfo).not.toBe(served);
    c.ack(next, ROUTE_NAMES);
    expect(await c.quiet(100)).toEqual([]);
    expect(await h.metric('portcullis_xds_nacks_total', { type: 'route' })).toBe(1);
    expect(h.server.nodes()[0]!.inSync).toBe(false); // s5 is still not what is served
    if (variant !== 'sotw') return;
    // Reconnecting with that version (a new stream knows no refusal): the refused table is due again.
    const again = h.client('sotw', { id: 'again', cluster: 'edge' });
    again.sotw({ typeUrl: RDS, resourceNames: ROUTE_NAMES, versionInfo: next.versionInfo });
    expect(names(await again.next('route'))).toContain(scopeRoutesName('s5'));
  });

  test('a refused scope response is a NACK of type scope; routes still follow', async () => {
    h = await startHarness();
    await publish(h, fleet());
    const c = h.client(variant);
    await envoyLikeStart(c);

    await publish(h, fleet({ extraScopes: { dup: 's1' }, revisions: { s3: 'v2' } }), 'c2');
    const srds = await c.next();
    expect(srds.kind).toBe('scope');
    c.nack(srds, 'scope key conflict');
    const rds = await c.next('route');
    expect(names(rds)).toEqual([scopeRoutesName('s3')]);
    c.ack(rds, ROUTE_NAMES);
    expect(await c.quiet(100)).toEqual([]);
    expect(await h.metric('portcullis_xds_nacks_total', { type: 'scope', fleet: 'edge' })).toBe(1);
    expect(h.server.nodes()[0]!.lastNack).toMatchObject({ type: 'scope', commit: 'c2' });
  });
});
