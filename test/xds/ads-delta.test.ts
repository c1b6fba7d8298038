import type { AdsClient, AdsResponse } from '../../bench/xds/ads-client';
import { fleetResources } from './fixtures';
import { CDS, EDS, LDS, RDS, type Harness, names, publish, startHarness } from './harness';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const versions = (r: AdsResponse): Record<string, string> => Object.fromEntries(r.resources.map((x) => [x.name, x.version]));

/** Envoy-like delta start: wildcard CDS and LDS, EDS and RDS by name; ACKs all. */
async function deltaStart(c: AdsClient): Promise<Record<string, Record<string, string>>> {
  c.delta({ typeUrl: CDS });
  const cds = await c.next('cluster');
  c.ack(cds);
  c.delta({ typeUrl: EDS, subscribe: names(cds) });
  const eds = await c.next('endpoint');
  c.ack(eds);
  c.delta({ typeUrl: LDS });
  const lds = await c.next('listener');
  c.ack(lds);
  c.delta({ typeUrl: RDS, subscribe: ['ingress-routes'] });
  const rds = await c.next('route');
  c.ack(rds);
  return { cluster: versions(cds), endpoint: versions(eds), listener: versions(lds), route: versions(rds) };
}

describe('delta ADS', () => {
  test('initial config in order, each resource with its version; system_version_info is the type version', async () => {
    h = await startHarness();
    const res = fleetResources();
    await publish(h, res);
    const c = h.client('delta');
    c.delta({ typeUrl: CDS });
    c.delta({ typeUrl: LDS });
    const cds = await c.next();
    expect(cds.kind).toBe('cluster');
    expect(versions(cds)).toEqual(Object.fromEntries(res.clusters.map((r) => [r.name, r.version])));
    expect(cds.versionInfo).toBe(h.server.snapshots().get('edge')!.types.cluster.version);
    expect(await c.quiet(100)).toEqual([]);
    c.ack(cds);
    c.delta({ typeUrl: EDS, subscribe: ['svc-a', 'svc-b'] });
    expect((await c.next()).kind).toBe('endpoint');
    c.ack(c.responses.at(-1)!);
    expect((await c.next()).kind).toBe('listener');
    c.ack(c.responses.at(-1)!);
    c.delta({ typeUrl: RDS, subscribe: ['ingress-routes'] });
    const rds = await c.next('route');
    c.ack(rds);
    await c.quiet(50);
    expect(h.server.nodes()[0]).toMatchObject({ protocol: 'delta', inSync: true });
  });

  test('update: only changed resources are sent; removed_resources for a dropped cluster after the routes are ACKed', async () => {
    h = await startHarness();
    await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b'] }));
    const c = h.client('delta');
    await deltaStart(c);

    await publish(h, fleetResources({ clusters: ['svc-a', 'svc-c'] }), 'c2');
    const cds1 = await c.next();
    expect(cds1.kind).toBe('cluster');
    expect(names(cds1)).toEqual(['svc-c']); // only the new one; svc-a unchanged
    expect(cds1.removed).toEqual([]); // svc-b still routed to
    // Like Envoy: the new cluster asks for its endpoints; the cluster ACK comes once it warmed.
    c.delta({ typeUrl: EDS, subscribe: ['svc-c'] });
    const eds = await c.next();
    expect(eds.kind).toBe('endpoint');
    expect(names(eds)).toEqual(['svc-c']);
    c.ack(eds);
    expect(await c.quiet(100)).toEqual([]); // routes wait for the cluster ACK
    c.ack(cds1);
    const rds = await c.next();
    expect(rds.kind).toBe('route');
    expect(await c.quiet(100)).toEqual([]);
    c.ack(rds);
    const cds2 = await c.next();
    expect(cds2.kind).toBe('cluster');
    expect(cds2.resources).toEqual([]);
    expect(cds2.removed).toEqual(['svc-b']);
    c.ack(cds2);
    // Then svc-b's endpoints, kept for as long as svc-b was.
    const eds2 = await c.next();
    expect(eds2.kind).toBe('endpoint');
    expect(eds2.removed).toEqual(['svc-b']);
    c.ack(eds2);
    c.delta({ typeUrl: EDS, unsubscribe: ['svc-b'] });
    expect(await c.quiet(100)).toEqual([]);
    expect(h.server.nodes()[0]!.inSync).toBe(true);
  });

  test('reconnect with initial_resource_versions: only what differs is sent, and what is gone is removed', async () => {
    h = await startHarness();
    const res = fleetResources({ clusters: ['svc-a', 'svc-b'] });
    await publish(h, res);
    const c = h.client('delta', { id: 'envoy-7', cluster: 'edge' });
    const held = await deltaStart(c);
    c.cancel();

    const c2 = h.client('delta', { id: 'envoy-7', cluster: 'edge' });
    c2.delta({ typeUrl: CDS, initialResourceVersions: { ...held.cluster, 'svc-b': 'outdated' } });
    const cds = await c2.next('cluster');
    expect(versions(cds)).toEqual({ 'svc-b': res.clusters[1]!.version });
    c2.ack(cds);
    c2.delta({ typeUrl: EDS, subscribe: ['svc-a', 'svc-b'], initialResourceVersions: held.endpoint });
    c2.delta({ typeUrl: LDS, initialResourceVersions: { ...held.listener, 'old-listener': 'v0' } });
    const lds = await c2.next('listener');
    expect(lds.resources).toEqual([]);
    expect(lds.removed).toEqual(['old-listener']);
    c2.ack(lds);
    c2.delta({ typeUrl: RDS, subscribe: ['ingress-routes'], initialResourceVersions: held.route });
    expect(await c2.quiet(150)).toEqual([]); // endpoints and routes: already current
    expect(h.server.nodes().find((n) => n.id === 'envoy-7')!.inSync).toBe(true);
  });

  test('a NACKed resource version is not re-sent; the next version is', async () => {
    h = await startHarness();
    await publish(h, fleetResources());
    const c = h.client('delta');
    await deltaStart(c);
    await publish(h, fleetResources({ timeouts: { 0: '77s' } }), 'c2');
    const bad = await c.next('route');
    c.nack(bad, 'route: invalid timeout');
    expect(await c.quiet(200)).toEqual([]);
    const node = h.server.nodes()[0]!;
    expect(node.lastNack).toMatchObject({ type: 'route', commit: 'c2', error: 'route: invalid timeout', resources: ['ingress-routes'] });
    expect(await h.metric('portcullis_xds_nacks_total', { type: 'route', fleet: 'edge' })).toBe(1);
    // Re-subscribing to the same name does not bring the rejected version back either.
    c.delta({ typeUrl: RDS, subscribe: ['ingress-routes'] });
    expect(await c.quiet(150)).toEqual([]);
    await publish(h, fleetResources({ timeouts: { 0: '7s' } }), 'c3');
    const good = await c.next('route');
    expect(good.resources[0]!.version).not.toBe(bad.resources[0]!.version);
    c.ack(good);
    await c.quiet(50);
    expect(h.server.nodes()[0]!.inSync).toBe(true);
  });

  test('stale nonce: its NACK is ignored, its subscription change still applies', async () => {
    h = await startHarness();
    await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b', 'svc-c'] }));
    const c = h.client('delta');
    c.delta({ typeUrl: EDS, subscribe: ['svc-a'] });
    const first = await c.next('endpoint');
    c.ack(first);
    c.delta({ typeUrl: EDS, subscribe: ['svc-b'] });
    const second = await c.next('endpoint');
    expect(names(second)).toEqual(['svc-b']);
    // Quoting the first nonce again with an error: stale, not a NACK; the subscribe still counts.
    c.delta({ typeUrl: EDS, responseNonce: first.nonce, errorDetail: { code: 3, message: 'late' }, subscribe: ['svc-c'] });
    await c.quiet(100);
    expect(h.server.nodes()[0]!.lastNack).toBeNull();
    c.ack(second);
    const third = await c.next('endpoint');
    expect(names(third)).toEqual(['svc-c']);
  });

  test('an endpoint unsubscribed while its response awaits the ACK is not kept (asked again, it is sent again); a change published before an ACK follows it with only what changed', async () => {
    h = await startHarness();
    const res = fleetResources({ clusters: ['svc-a', 'svc-b', 'svc-c'] });
    /** `res` with the endpoints of `changed` at another version. */
    const bumped = (version: string, ...changed: string[]) => ({ ...res, endpoints: res.endpoints.map((e) => (changed.includes(e.name) ? { ...e, version } : e)) });
    await publish(h, res);
    const c = h.client('delta');
    c.delta({ typeUrl: EDS, subscribe: ['svc-a', 'svc-b'] });
    const first = await c.next('endpoint');
    expect(names(first)).toEqual(['svc-a', 'svc-b']);
    c.delta({ typeUrl: EDS, unsubscribe: ['svc-b'] });
    c.ack(first);
    expect(await c.quiet(100)).toEqual([]);
    c.delta({ typeUrl: EDS, subscribe: ['svc-b'] });
    const again = await c.next('endpoint');
    expect(names(again)).toEqual(['svc-b']);
    c.ack(again);
    await publish(h, bumped('e2', 'svc-a'), 'c2');
    const a2 = await c.next('endpoint');
    expect(versions(a2)).toEqual({ 'svc-a': 'e2' });
    await publish(h, bumped('e3', 'svc-a', 'svc-c'), 'c3');
    c.ack(a2);
    const a3 = await c.next('endpoint');
    expect(versions(a3)).toEqual({ 'svc-a': 'e3' });
    c.ack(a3);
    expect(await c.quiet(100)).toEqual([]);
    expect(h.server.nodes()[0]!.inSync).toBe(true);
    // The per-push debug line (guarded by the level) is still written at debug.
    expect(h.logs.filter((l) => l['msg'] === 'xds push' && l['type'] === 'endpoint')).toHaveLength(4);
  });

  test('unsubscribe and wildcard: a named RDS unsubscribe is forgotten; LDS wildcard sees additions and removals', async () => {
    h = await startHarness();
    await publish(h, fleetResources());
    const c = h.client('delta');
    c.delta({ typeUrl: LDS });
    const l1 = await c.next('listener');
    expect(names(l1)).toEqual(['ingress']);
    c.ack(l1);
    const two = fleetResources();
    const extra = { ...two.listeners[0]!, name: 'admin-in', version: 'x1', value: { ...two.listeners[0]!.value, name: 'admin-in' } };
    await publish(h, { ...two, listeners: [...two.listeners, extra] }, 'c2');
    const l2 = await c.next('listener');
    expect(names(l2)).toEqual(['admin-in']);
    c.ack(l2);
    await publish(h, fleetResources(), 'c3');
    const l3 = await c.next('listener');
    expect(l3.removed).toEqual(['admin-in']);
    c.ack(l3);
    c.delta({ typeUrl: RDS, subscribe: ['ingress-routes'] });
    c.ack(await c.next('route'));
    c.delta({ typeUrl: RDS, unsubscribe: ['ingress-routes'] });
    expect(await c.quiet(100)).toEqual([]); // (lets the server read the unsubscribe before publishing)
    await publish(h, fleetResources({ timeouts: { 0: '3s' } }), 'c4');
    expect(await c.quiet(150)).toEqual([]);
  });
});

test('delta: unknown fleet ends the stream with NOT_FOUND too', async () => {
  const hd = await startHarness();
  try {
    await publish(hd, fleetResources());
    const c = hd.client('delta', { id: 'stray-2', cluster: 'nowhere' });
    c.delta({ typeUrl: CDS });
    const status = await c.status;
    expect(status.code).toBe(5); // NOT_FOUND
    expect(status.details).toMatch(/no configuration for fleet "nowhere"/);
    expect(c.responses).toEqual([]);
  } finally {
    await hd.close();
  }
});
