/**
 * Issue 7 items 10 and 16 on the ADS core: labelled counters exist at 0 before the first event, a
 * per-node in-sync and staleness gauge, refused streams remembered by node, and log lines that
 * name their component once.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createXdsServer } from '../../xds-server/ads-server';
import { fleetResources } from '../xds/fixtures';
import { CDS, type Harness, publish, startHarness } from '../xds/harness';
import { waitFor } from '../support/processes';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

async function series(name: string): Promise<string[]> {
  return (await h.registry.getSingleMetricAsString(name)).split('\n').filter((l) => l.startsWith(name));
}

test('nacks_total exists at 0 for every type of a published fleet; rejected_streams_total at 0 for every reason', async () => {
  h = await startHarness();
  expect(await series('portcullis_xds_rejected_streams_total')).toEqual([
    'portcullis_xds_rejected_streams_total{reason="unknown_fleet"} 0',
    'portcullis_xds_rejected_streams_total{reason="fleet_removed"} 0',
    'portcullis_xds_rejected_streams_total{reason="no_node"} 0',
  ]);
  await publish(h, fleetResources());
  expect(await series('portcullis_xds_nacks_total')).toEqual(
    ['cluster', 'endpoint', 'listener', 'scope', 'route', 'ratelimit'].map((t) => `portcullis_xds_nacks_total{type="${t}",fleet="edge"} 0`),
  );
});

test('per-node gauges: in sync after the ACK; after a NACK out of sync and stale for as long as it lasts', async () => {
  h = await startHarness();
  await publish(h, fleetResources());
  const c = h.client('sotw', { id: 'edge-1', cluster: 'edge' });
  c.sotw({ typeUrl: CDS });
  const v1 = await c.next('cluster');
  c.ack(v1);
  await c.quiet(100);
  expect(await series('portcullis_xds_node_in_sync')).toEqual(['portcullis_xds_node_in_sync{fleet="edge",node="edge-1"} 1']);
  expect(await series('portcullis_xds_node_stale_seconds')).toEqual(['portcullis_xds_node_stale_seconds{fleet="edge",node="edge-1"} 0']);

  await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b', 'svc-c'] }), 'c2');
  const v2 = await c.next('cluster');
  c.nack(v2, 'refused', v1.versionInfo);
  await waitFor('the NACK recorded', () => h.server.nodes()[0]?.lastNack);
  expect(await series('portcullis_xds_node_in_sync')).toEqual(['portcullis_xds_node_in_sync{fleet="edge",node="edge-1"} 0']);
  // Stale for as long as the NACKed version is not replaced: the gauge grows while we wait.
  const staleness = async () => Number((await series('portcullis_xds_node_stale_seconds'))[0]!.split(' ')[1]);
  const stale = await waitFor('staleness to reach 0.25 s', async () => ((s) => s >= 0.25 && s)(await staleness()), 10_000, 25);
  expect(stale).toBeLessThan(10);

  c.cancel();
  await waitFor('the node gone with its stream', () => h.server.nodes().length === 0);
  expect(await series('portcullis_xds_node_in_sync')).toEqual([]);
});

test('a stream of an unknown fleet is remembered by node, fleet and time until the node gets config', async () => {
  h = await startHarness();
  await publish(h, fleetResources());
  const lost = h.client('sotw', { id: 'lost-1', cluster: 'edge-typo' });
  lost.sotw({ typeUrl: CDS });
  expect((await lost.status).code).toBe(5); // NOT_FOUND
  const [refused] = h.server.refusedStreams();
  expect(refused).toMatchObject({ node: 'lost-1', fleet: 'edge-typo', reason: 'unknown_fleet', count: 1 });
  expect(refused!.message).toContain('no configuration for fleet "edge-typo"');
  expect(Date.parse(refused!.lastAt)).toBeGreaterThan(Date.now() - 5000);
  expect(await series('portcullis_xds_rejected_streams_total')).toContain('portcullis_xds_rejected_streams_total{reason="unknown_fleet"} 1');

  await publish(h, [fleetResources(), fleetResources({ fleet: 'edge-typo' })], 'c2');
  const back = h.client('sotw', { id: 'lost-1', cluster: 'edge-typo' });
  back.sotw({ typeUrl: CDS });
  await back.next('cluster');
  expect(h.server.refusedStreams()).toEqual([]);
});

test('log lines carry the key "component" once, also when the caller already set it', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter((l) => l.trim()));
      cb();
    },
  });
  for (const logger of [pino(sink), pino(sink).child({ component: 'ads' })]) {
    lines.length = 0;
    const server = createXdsServer({ logger, registry: new Registry() });
    await server.listen('127.0.0.1', 0);
    await server.shutdown(100);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.match(/"component":/g)).toEqual(['"component":']);
    expect(JSON.parse(lines[0]!)).toMatchObject({ component: 'ads' });
  }
});

test('a publication dropping a fleet with connected Envoys is refused unless allowed; an idle fleet may go', async () => {
  h = await startHarness();
  await publish(h, [fleetResources(), fleetResources({ fleet: 'idle' })]);
  const c = h.client('sotw', { id: 'edge-1', cluster: 'edge' });
  c.sotw({ typeUrl: CDS });
  c.ack(await c.next('cluster'));
  await c.quiet(100);

  const none = await h.server.setSnapshots(new Map(), { commit: 'c-empty', compiledAt: '2026-01-01T00:00:00Z' });
  expect(none.ok).toBe(false);
  expect(!none.ok && none.errors.map((e) => [e.subject, e.message])).toEqual([
    ['fleet/edge', expect.stringMatching(/drops fleet "edge" .* while 1 Envoy\(s\) of it are connected \(edge-1\)/)],
  ]);
  expect(h.server.published()?.commit).toBe('c1'); // nothing changed
  expect(h.server.nodes()).toHaveLength(1);

  const idleGone = await h.server.setSnapshots(new Map([['edge', fleetResources()]]), { commit: 'c2', compiledAt: '2026-01-01T00:00:00Z' });
  expect(idleGone.ok && idleGone.value.removedFleets).toEqual(['idle']);

  const allowed = await h.server.setSnapshots(new Map(), { commit: 'c3', compiledAt: '2026-01-01T00:00:00Z' }, { allowFleetRemoval: ['edge'] });
  expect(allowed.ok && allowed.value.removedFleets).toEqual(['edge']);
  expect((await c.status).code).toBe(5);
});

test('event_loop_delay_max_seconds: the longest stall since the previous scrape, reset by the scrape', async () => {
  h = await startHarness();
  const read = async (): Promise<number> => Number((await series('portcullis_xds_event_loop_delay_max_seconds'))[0]!.split(' ')[1]);
  await read(); // reset
  await new Promise((r) => setTimeout(r, 30));
  const end = Date.now() + 150;
  while (Date.now() < end); // hold the loop 150 ms
  await new Promise((r) => setTimeout(r, 30));
  const stalled = await read();
  expect(stalled).toBeGreaterThanOrEqual(0.12);
  await new Promise((r) => setTimeout(r, 50));
  expect(await read()).toBeLessThan(stalled);
});
