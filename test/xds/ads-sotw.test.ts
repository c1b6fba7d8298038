import * as grpc from '@grpc/grpc-js';
import { createEncoder } from '../../xds-server/encode';
import { loadEnvoyApi } from '../../xds-server/descriptors';
import type { AdsClient } from '../../bench/xds/ads-client';
import { fleetResources } from './fixtures';
import { CDS, EDS, LDS, RDS, type Harness, names, publish, startHarness } from './harness';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

/** Drives a SotW client the way Envoy does on start: CDS, then EDS for the clusters, LDS, RDS; ACKs all. */
async function envoyLikeStart(c: AdsClient): Promise<Record<string, string>> {
  c.sotw({ typeUrl: CDS });
  const cds = await c.next('cluster');
  c.ack(cds);
  c.sotw({ typeUrl: EDS, resourceNames: names(cds) });
  const eds = await c.next('endpoint');
  c.ack(eds, names(cds));
  c.sotw({ typeUrl: LDS });
  const lds = await c.next('listener');
  c.ack(lds);
  c.sotw({ typeUrl: RDS, resourceNames: ['ingress-routes'] });
  const rds = await c.next('route');
  c.ack(rds, ['ingress-routes']);
  return { cluster: cds.versionInfo, endpoint: eds.versionInfo, listener: lds.versionInfo, route: rds.versionInfo };
}

describe('SotW ADS', () => {
  test('initial config in make-before-break order: listeners wait for CDS ACK and EDS subscription', async () => {
    h = await startHarness();
    await publish(h, fleetResources());
    const c = h.client('sotw');
    // Ask for clusters and listeners at once: listeners must not come before clusters are ACKed.
    c.sotw({ typeUrl: CDS });
    c.sotw({ typeUrl: LDS });
    const cds = await c.next();
    expect(cds.kind).toBe('cluster');
    expect(names(cds)).toEqual(['svc-a', 'svc-b']);
    expect(cds.controlPlane).toMatch(/^portcullis@/);
    expect(await c.quiet(150)).toEqual([]); // no LDS before the CDS ACK
    c.ack(cds);
    expect(await c.quiet(150)).toEqual([]); // nor before EDS for the clusters is asked for
    c.sotw({ typeUrl: EDS, resourceNames: ['svc-a', 'svc-b'] });
    const eds = await c.next();
    expect(eds.kind).toBe('endpoint');
    expect(names(eds)).toEqual(['svc-a', 'svc-b']);
    expect(await c.quiet(100)).toEqual([]);
    c.ack(eds, ['svc-a', 'svc-b']);
    const lds = await c.next();
    expect(lds.kind).toBe('listener');
    expect(names(lds)).toEqual(['ingress']);
    c.ack(lds);
    c.sotw({ typeUrl: RDS, resourceNames: ['ingress-routes'] });
    const rds = await c.next();
    expect(rds.kind).toBe('route');
    c.ack(rds, ['ingress-routes']);
    expect(await c.quiet(100)).toEqual([]);

    // The resource bytes decode to what was published.
    const enc = createEncoder(loadEnvoyApi());
    const decoded = enc.decodeMessage('google.protobuf.Any', rds.resources[0]!.any) as Record<string, unknown>;
    expect(decoded['@type']).toBe(RDS);
    expect(decoded['name']).toBe('ingress-routes');

    const [node] = h.server.nodes();
    expect(node).toMatchObject({ id: 'node-1', fleet: 'edge', environment: 'prod', protocol: 'sotw', inSync: true, lastNack: null });
    expect(node!.types.map((t) => [t.type, t.ackedVersion === t.servedVersion, t.ackedCommit])).toEqual([
      ['cluster', true, 'c1'],
      ['endpoint', true, 'c1'],
      ['listener', true, 'c1'],
      ['route', true, 'c1'],
    ]);
    expect(await h.metric('portcullis_xds_connected_nodes', { fleet: 'edge', environment: 'prod', variant: 'sotw' })).toBe(1);
    expect(await h.metric('portcullis_xds_pushes_total', { type: 'cluster' })).toBe(1);
    expect(await h.metric('portcullis_xds_push_ack_seconds', { type: 'route' })).toBe(1);
  });

  test('update: new cluster and its endpoints first, routes after the cluster ACK, the dropped cluster last', async () => {
    h = await startHarness();
    await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b'] }));
    const c = h.client('sotw');
    await envoyLikeStart(c);
    const lastEds = c.responses.filter((r) => r.kind === 'endpoint').at(-1)!;

    await publish(h, fleetResources({ clusters: ['svc-a', 'svc-c'] }), 'c2');
    const cds1 = await c.next();
    expect(cds1.kind).toBe('cluster');
    expect(names(cds1)).toEqual(['svc-a', 'svc-b', 'svc-c']); // svc-b kept: routes still point at it
    expect(await c.quiet(100)).toEqual([]);
    // Like Envoy: the new cluster warms first (asks for its endpoints), the cluster ACK comes after.
    c.ack(lastEds, ['svc-a', 'svc-b', 'svc-c']);
    const eds = await c.next();
    expect(eds.kind).toBe('endpoint');
    // Only what the node lacks: svc-a and svc-b (kept while svc-b is, though no longer published) it
    // holds at their versions; Envoy leaves a named resource absent from a response as it is.
    expect(names(eds)).toEqual(['svc-c']);
    c.ack(eds, ['svc-a', 'svc-b', 'svc-c']);
    expect(await c.quiet(100)).toEqual([]); // routes wait for the cluster ACK (= warmed)
    c.ack(cds1);
    const rds = await c.next();
    expect(rds.kind).toBe('route'); // the listener did not change: not pushed
    expect(await c.quiet(100)).toEqual([]); // svc-b stays until the routes are ACKed
    c.ack(rds, ['ingress-routes']);
    const cds2 = await c.next();
    expect(cds2.kind).toBe('cluster');
    expect(names(cds2)).toEqual(['svc-a', 'svc-c']);
    c.ack(cds2);
    expect(await c.quiet(100)).toEqual([]);
    const node = h.server.nodes()[0]!;
    expect(node.inSync).toBe(true);
    expect(node.types.find((t) => t.type === 'cluster')!.ackedVersion).toBe(h.server.snapshots().get('edge')!.types.cluster.version);
    expect(node.types.every((t) => t.ackedCommit === 'c2')).toBe(true);
  });

  test('a NACKed version is recorded and never re-sent; the next good version is sent', async () => {
    h = await startHarness();
    await publish(h, fleetResources());
    const c = h.client('sotw');
    const v1 = await envoyLikeStart(c);

    await publish(h, fleetResources({ timeouts: { 1: '99s' } }), 'c2');
    const bad = await c.next('route');
    c.nack(bad, 'Proto constraint validation failed: route timeout too long', v1.route, ['ingress-routes']);
    expect(await c.quiet(200)).toEqual([]); // no re-send loop

    const node = h.server.nodes()[0]!;
    expect(node.inSync).toBe(false);
    expect(node.lastNack).toMatchObject({
      type: 'route',
      version: bad.versionInfo,
      commit: 'c2',
      error: 'Proto constraint validation failed: route timeout too long',
      resources: ['ingress-routes'],
    });
    const rt = node.types.find((t) => t.type === 'route')!;
    expect(rt.ackedVersion).toBe(v1.route); // Envoy keeps its last ACKed version
    expect(rt.lastNack?.error).toMatch(/route timeout too long/);
    expect(await h.metric('portcullis_xds_nacks_total', { type: 'route', fleet: 'edge' })).toBe(1);
    const line = h.logs.find((l) => String(l['msg']).startsWith('xds NACK'));
    expect(line).toMatchObject({ level: 40, type: 'route', node: 'node-1', fleet: 'edge', error: 'Proto constraint validation failed: route timeout too long' });

    // The same content again (another commit): same version, still not re-sent.
    await publish(h, fleetResources({ timeouts: { 1: '99s' } }), 'c3');
    expect(await c.quiet(150)).toEqual([]);
    // A new version is.
    await publish(h, fleetResources({ timeouts: { 1: '20s' } }), 'c4');
    const good = await c.next('route');
    expect(good.versionInfo).not.toBe(bad.versionInfo);
    expect(good.versionInfo).not.toBe(v1.route);
    c.ack(good, ['ingress-routes']);
    await c.quiet(50);
    expect(h.server.nodes()[0]!.inSync).toBe(true);
    expect(h.server.nodes()[0]!.types.find((t) => t.type === 'route')!.ackedCommit).toBe('c4');
  });

  test('a request with a stale nonce is ignored (neither ACK nor NACK nor subscription change)', async () => {
    h = await startHarness();
    await publish(h, fleetResources());
    const c = h.client('sotw');
    c.sotw({ typeUrl: CDS });
    const first = await c.next('cluster');
    c.ack(first);
    await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b', 'svc-d'] }), 'c2');
    const second = await c.next('cluster');
    // A late NACK quoting the first nonce: stale.
    c.sotw({ typeUrl: CDS, versionInfo: first.versionInfo, responseNonce: first.nonce, errorDetail: { code: 3, message: 'late' } });
    expect(await c.quiet(150)).toEqual([]);
    expect(h.server.nodes()[0]!.lastNack).toBeNull();
    expect(await h.metric('portcullis_xds_nacks_total')).toBe(0);
    expect(h.logs.some((l) => l['msg'] === 'xds stale nonce ignored')).toBe(true);
    // The current nonce is still the one that counts.
    c.ack(second);
    await c.quiet(50);
    const cluster = h.server.nodes()[0]!.types.find((t) => t.type === 'cluster')!;
    expect(cluster.ackedVersion).toBe(second.versionInfo);
  });

  test('named subscriptions: RDS/EDS get only the names asked for; a name change gets a response', async () => {
    h = await startHarness();
    await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b', 'svc-c'] }));
    const c = h.client('sotw');
    c.sotw({ typeUrl: EDS, resourceNames: ['svc-b'] });
    const e1 = await c.next('endpoint');
    expect(names(e1)).toEqual(['svc-b']);
    c.ack(e1, ['svc-b', 'svc-c']);
    const e2 = await c.next('endpoint');
    // svc-b is held at its version: only svc-c, under the version of the whole selection.
    expect(names(e2)).toEqual(['svc-c']);
    expect(e2.versionInfo).toBe(h.server.nodes()[0]!.types.find((t) => t.type === 'endpoint')!.servedVersion);
    c.ack(e2, ['svc-b', 'svc-c']);
    // A change to an endpoint nobody here asked for sends nothing.
    const changed = fleetResources({ clusters: ['svc-a', 'svc-b', 'svc-c'] });
    await publish(h, { ...changed, endpoints: changed.endpoints.map((e) => (e.name === 'svc-a' ? { ...e, version: 'other' } : e)) }, 'c2');
    expect(await c.quiet(150)).toEqual([]);
    // Asking for a name that does not exist yet sends nothing either.
    const d = h.client('sotw');
    d.sotw({ typeUrl: RDS, resourceNames: ['nope'] });
    expect(await d.quiet(150)).toEqual([]);
  });

  test('a request repeating the subscription in another order sends nothing; a dropped name is forgotten and sent again when asked for', async () => {
    h = await startHarness();
    await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b', 'svc-c'] }));
    const c = h.client('sotw');
    c.sotw({ typeUrl: EDS, resourceNames: ['svc-b', 'svc-c'] });
    const e1 = await c.next('endpoint');
    expect(names(e1)).toEqual(['svc-b', 'svc-c']);
    c.ack(e1, ['svc-b', 'svc-c']);
    c.ack(e1, ['svc-c', 'svc-b']);
    expect(await c.quiet(150)).toEqual([]);
    expect(h.server.nodes()[0]!.inSync).toBe(true);
    // Envoy drops what it unsubscribes from: asked for again, it is sent again.
    c.ack(e1, ['svc-b']);
    expect(await c.quiet(150)).toEqual([]);
    c.ack(e1, ['svc-b', 'svc-c']);
    expect(names(await c.next('endpoint'))).toEqual(['svc-c']);
  });

  test('unknown fleet: the stream ends with NOT_FOUND and a clear message, and a log line', async () => {
    h = await startHarness();
    await publish(h, fleetResources());
    const c = h.client('sotw', { id: 'stray-1', cluster: 'mystery' });
    c.sotw({ typeUrl: CDS });
    const status = await c.status;
    expect(status.code).toBe(grpc.status.NOT_FOUND);
    expect(status.details).toMatch(/no configuration for fleet "mystery" \(node "stray-1".*known fleets: edge/);
    expect(c.responses).toEqual([]);
    expect(h.logs.some((l) => l['reason'] === 'unknown_fleet' && l['node'] === 'stray-1')).toBe(true);
    expect(await h.metric('portcullis_xds_rejected_streams_total', { reason: 'unknown_fleet' })).toBe(1);
    expect(h.server.nodes()).toEqual([]);
  });

  test('a stream that connects before the first publication waits for it (never an empty config)', async () => {
    h = await startHarness();
    const c = h.client('sotw');
    c.sotw({ typeUrl: CDS });
    expect(await c.quiet(150)).toEqual([]);
    await publish(h, fleetResources());
    const cds = await c.next('cluster');
    expect(names(cds)).toEqual(['svc-a', 'svc-b']);
  });

  test('reconnect and a second replica compute the same versions; a node holding them gets no re-send', async () => {
    h = await startHarness();
    await publish(h, fleetResources());
    const before = await envoyLikeStart(h.client('sotw'));
    await h.close();

    h = await startHarness(); // a fresh server process state: new cache, new registry
    await publish(h, fleetResources(), 'c1');
    const fresh = await envoyLikeStart(h.client('sotw'));
    expect(fresh).toEqual(before);

    // Envoy reconnecting holding those versions: it quotes them, and nothing is re-sent.
    const again = h.client('sotw', { id: 'node-reconnected', cluster: 'edge' });
    again.sotw({ typeUrl: CDS, versionInfo: before.cluster! });
    again.sotw({ typeUrl: EDS, versionInfo: before.endpoint!, resourceNames: ['svc-a', 'svc-b'] });
    again.sotw({ typeUrl: LDS, versionInfo: before.listener! });
    again.sotw({ typeUrl: RDS, versionInfo: before.route!, resourceNames: ['ingress-routes'] });
    expect(await again.quiet(200)).toEqual([]);
    const status = h.server.nodes().find((n) => n.id === 'node-reconnected')!;
    expect(status.inSync).toBe(true);
  });

  test('graceful shutdown ends streams with UNAVAILABLE', async () => {
    h = await startHarness();
    await publish(h, fleetResources());
    const c = h.client('sotw');
    c.sotw({ typeUrl: CDS });
    await c.next('cluster');
    await h.server.shutdown(500);
    const status = await c.status;
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(status.details).toMatch(/shutting down/);
  });
});
