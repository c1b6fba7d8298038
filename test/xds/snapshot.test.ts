import { Registry } from 'prom-client';
import { createXdsMetrics } from '../../xds-server/metrics';
import { loadEnvoyApi } from '../../xds-server/descriptors';
import { createEncoder } from '../../xds-server/encode';
import { buildSnapshot, EncodeCache, keepUnchangedTypes } from '../../xds-server/snapshot';
import { fleetResources } from './fixtures';
import { CDS, EDS, LDS, RDS, names, publish, startHarness, type Harness } from './harness';

const meta = { commit: 'abc', compiledAt: '2026-01-01T00:00:00Z' };

describe('snapshots', () => {
  test('versions are content hashes: equal on a second replica, different when one resource changes', () => {
    const a = buildSnapshot(fleetResources(), meta, new EncodeCache(createEncoder(loadEnvoyApi())));
    const b = buildSnapshot(fleetResources(), { ...meta, commit: 'other' }, new EncodeCache(createEncoder(loadEnvoyApi())));
    const c = buildSnapshot(fleetResources({ timeouts: { 2: '5s' } }), meta, new EncodeCache(createEncoder(loadEnvoyApi())));
    if (!a.ok || !b.ok || !c.ok) throw new Error('build failed');
    expect(b.value.version).toBe(a.value.version);
    expect(b.value.types.cluster.version).toBe(a.value.types.cluster.version);
    expect(c.value.types.route.version).not.toBe(a.value.types.route.version);
    expect(c.value.types.cluster.version).toBe(a.value.types.cluster.version);
    expect(c.value.version).not.toBe(a.value.version);
    // Shared bytes across snapshots of one cache are the same objects.
    expect(Object.isFrozen(a.value)).toBe(true);
    expect(a.value.edsNameOfCluster.get('svc-a')).toBe('svc-a');
  });

  test('a new snapshot keeps the previous one\'s type objects where the version is the same (the streams\' memos stay valid)', () => {
    const cache = new EncodeCache(createEncoder(loadEnvoyApi()));
    const a = buildSnapshot(fleetResources(), meta, cache);
    const c = buildSnapshot(fleetResources({ timeouts: { 2: '5s' } }), { ...meta, commit: 'next' }, cache);
    if (!a.ok || !c.ok) throw new Error('build failed');
    expect(keepUnchangedTypes(c.value, undefined)).toBe(c.value);
    const kept = keepUnchangedTypes(c.value, a.value);
    expect(kept.types.cluster).toBe(a.value.types.cluster);
    expect(kept.types.endpoint).toBe(a.value.types.endpoint);
    expect(kept.types.listener).toBe(a.value.types.listener);
    expect(kept.types.route).toBe(c.value.types.route);
    expect(kept.types.cluster).not.toBe(c.value.types.cluster);
    expect({ ...kept, types: null }).toEqual({ ...c.value, types: null });
    expect(Object.isFrozen(kept) && Object.isFrozen(kept.types)).toBe(true);
  });

  test('a resource that does not encode refuses the whole snapshot, with every error', () => {
    const res = fleetResources();
    const broken = {
      ...res,
      clusters: [{ ...res.clusters[0]!, value: { ...res.clusters[0]!.value, bogus: 1 } }, res.clusters[1]!],
      routes: [{ ...res.routes[0]!, value: { name: 'ingress-routes', virtual_hosts: 'nope' } }],
    };
    const out = buildSnapshot(broken, meta, new EncodeCache(createEncoder(loadEnvoyApi())));
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.errors.map((e) => `${e.subject} ${e.path}: ${e.message}`)).toEqual([
        'cluster/svc-a bogus: unknown field "bogus" in envoy.config.cluster.v3.Cluster',
        'route/ingress-routes virtual_hosts: expected an array, got string "nope"',
      ]);
    }
  });

  test('each resource version is encoded once (the cache is keyed by version) and counted', async () => {
    const registry = new Registry();
    const metrics = createXdsMetrics(registry);
    const cache = new EncodeCache(createEncoder(loadEnvoyApi()), metrics.encodes);
    expect(buildSnapshot(fleetResources(), meta, cache).ok).toBe(true);
    expect(cache.encodeCount).toBe(6);
    // Another fleet with the same clusters and one different route: only the route is encoded.
    expect(buildSnapshot(fleetResources({ fleet: 'edge-2', timeouts: { 0: '9s' } }), meta, cache).ok).toBe(true);
    expect(cache.encodeCount).toBe(7);
    const m = await registry.getSingleMetric('portcullis_xds_resource_encodes_total')!.get();
    expect(m.values.reduce((s, v) => s + v.value, 0)).toBe(7);
  });
});

describe('encodes through the server', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  test('encode count = distinct resource versions, however many streams of either variant receive them', async () => {
    h = await startHarness();
    await publish(h, fleetResources());
    expect(await h.metric('portcullis_xds_resource_encodes_total')).toBe(6);
    const clients = [h.client('sotw'), h.client('sotw'), h.client('delta'), h.client('delta'), h.client('sotw')];
    await Promise.all(
      clients.map(async (c) => {
        if (c.options.variant === 'sotw') {
          c.sotw({ typeUrl: CDS });
          c.ack(await c.next('cluster'));
          c.sotw({ typeUrl: EDS, resourceNames: ['svc-a', 'svc-b'] });
          c.ack(await c.next('endpoint'), ['svc-a', 'svc-b']);
          c.sotw({ typeUrl: LDS });
          c.ack(await c.next('listener'));
          c.sotw({ typeUrl: RDS, resourceNames: ['ingress-routes'] });
          c.ack(await c.next('route'), ['ingress-routes']);
        } else {
          c.delta({ typeUrl: CDS });
          c.ack(await c.next('cluster'));
          c.delta({ typeUrl: EDS, subscribe: ['svc-a', 'svc-b'] });
          c.ack(await c.next('endpoint'));
          c.delta({ typeUrl: LDS });
          c.ack(await c.next('listener'));
          c.delta({ typeUrl: RDS, subscribe: ['ingress-routes'] });
          c.ack(await c.next('route'));
        }
      }),
    );
    expect(await h.metric('portcullis_xds_resource_encodes_total')).toBe(6);
    expect(await h.metric('portcullis_xds_pushes_total')).toBe(20);
    await publish(h, fleetResources({ timeouts: { 1: '4s' } }), 'c2');
    const updates = await Promise.all(clients.map((c) => c.next('route')));
    expect(updates.map(names)).toEqual(clients.map(() => ['ingress-routes']));
    expect(await h.metric('portcullis_xds_resource_encodes_total')).toBe(7);
    expect(await h.metric('portcullis_xds_resource_encodes_total', { type: 'route' })).toBe(2);
    // Bytes on the wire are the cached ones: every stream got identical Any bytes.
    const anyBytes = updates.map((u) => Buffer.from(u.resources[0]!.any).toString('base64'));
    expect(new Set(anyBytes).size).toBe(1);
  });

  test('setSnapshots is all-or-nothing and reports what changed', async () => {
    h = await startHarness();
    await publish(h, fleetResources());
    const before = h.server.snapshots().get('edge')!;
    const bad = fleetResources({ timeouts: { 0: 'soon' } });
    const refused = await h.server.setSnapshots(new Map([['edge', bad]]), { commit: 'bad', compiledAt: 'x' });
    expect(refused.ok).toBe(false);
    expect(h.server.snapshots().get('edge')).toBe(before);
    expect(h.server.published()?.commit).toBe('c1');
    const next = await h.server.setSnapshots(
      new Map([
        ['edge', fleetResources({ timeouts: { 0: '1s' } })],
        ['edge-eu', fleetResources({ fleet: 'edge-eu' })],
      ]),
      { commit: 'c2', compiledAt: 'y' },
    );
    expect(next.ok && next.value.fleets).toEqual([
      { fleet: 'edge', environment: 'prod', version: expect.any(String), changedTypes: ['route'] },
      { fleet: 'edge-eu', environment: 'prod', version: expect.any(String), changedTypes: ['cluster', 'endpoint', 'listener', 'scope', 'route', 'ratelimit'] },
    ]);
    expect(next.ok && next.value.encoded).toBe(1);
    // Only the changed type is a new object: streams find the other types as they left them.
    const after = h.server.snapshots().get('edge')!;
    expect(after.types.cluster).toBe(before.types.cluster);
    expect(after.types.route).not.toBe(before.types.route);
    const text = await h.registry.metrics();
    expect(text).toMatch(/portcullis_xds_served_version_info\{environment="prod",fleet="edge",version="[0-9a-f]{16}",commit="c2"\} 1/);
    expect(text).not.toMatch(/commit="c1"/);
  });
});
