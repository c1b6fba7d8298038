/**
 * Issue 14 item 2 through the server: the encoding of a publication runs across turns of the event
 * loop (before, a fresh 10,000-route table held it ≈ 280 ms in one piece), publications take
 * effect in call order, and the pushes go out in slices between turns (before, every stream was
 * written inside setSnapshots): bounded by time, and SotW pushes also by count (PUSH_COST).
 */
import type { AdsClient } from '../../bench/xds/ads-client';
import { BENCH_FLEET, benchResources } from '../../bench/xds/bench-snapshot';
import { PUBLICATION_SLICE } from '../../xds-server/fanout';
import { fleetResources } from './fixtures';
import { CDS, type Harness, publish, startHarness } from './harness';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const STREAMS = 150;
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** portcullis_xds_push_slice_max_seconds as scraped (the scrape resets it). */
async function sliceGauge(h: Harness): Promise<number> {
  const line = (await h.registry.getSingleMetricAsString('portcullis_xds_push_slice_max_seconds')).split('\n').find((l) => l.startsWith('portcullis_xds_push_slice_max_seconds '));
  return Number(line!.split(' ')[1]);
}

async function waitUntil(what: string, ok: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** STREAMS streams on one connection (the global subchannel pool: cheap, same server path), each synced on clusters. */
async function syncedClusterStreams(h: Harness, variant: 'sotw' | 'delta'): Promise<AdsClient[]> {
  await publish(h, fleetResources());
  const clients: AdsClient[] = [];
  for (let i = 0; i < STREAMS; i++) {
    const c = h.client(variant, { id: `n${i}`, cluster: 'edge' }, { channelOptions: { 'grpc.use_local_subchannel_pool': 0 }, onResponse: (r, self) => self.ack(r) });
    if (variant === 'sotw') c.sotw({ typeUrl: CDS });
    else c.delta({ typeUrl: CDS });
    clients.push(c);
  }
  await waitUntil('every stream got and ACKed its clusters', async () => (await clusterPushes(h)) === STREAMS && h.server.nodes().every((n) => n.inSync));
  return clients;
}

const clusterPushes = (h: Harness): Promise<number> => h.metric('portcullis_xds_pushes_total', { type: 'cluster' });

test(`a push to ${STREAMS} SotW streams leaves setSnapshots unwritten and goes out ≤ ${PUBLICATION_SLICE.maxTasks} streams per turn`, async () => {
  h = await startHarness();
  const clients = await syncedClusterStreams(h, 'sotw');

  await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b', 'svc-c'] }), 'c2');
  // The new snapshot is in force at once (status reads it), but nothing was written yet.
  expect(await clusterPushes(h)).toBe(STREAMS);
  expect(h.server.nodes().every((n) => n.servedCommit === 'c2')).toBe(true);
  await turn();
  const afterOneTurn = (await clusterPushes(h)) - STREAMS;
  expect(afterOneTurn).toBeGreaterThan(0);
  expect(afterOneTurn).toBeLessThanOrEqual(PUBLICATION_SLICE.maxTasks);
  await waitUntil('every stream got the new clusters', async () => (await clusterPushes(h)) === 2 * STREAMS);
  await waitUntil('every stream ACKed them', () => h.server.nodes().every((n) => n.inSync && n.types[0]!.ackedCommit === 'c2'));
  // The longest slice (wall clock) of the work just done: more than nothing, and the scrape resets it.
  expect(await sliceGauge(h)).toBeGreaterThan(0);
  expect(await sliceGauge(h)).toBe(0);
  for (const c of clients) expect(c.responses.filter((r) => r.kind === 'cluster').at(-1)!.resources.map((r) => r.name)).toEqual(['svc-a', 'svc-b', 'svc-c']);
}, 60_000);

test(`delta pushes are bounded by time only: ${STREAMS} streams go out in one turn, no ACK read between them`, async () => {
  h = await startHarness();
  await syncedClusterStreams(h, 'delta');
  await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b', 'svc-c'] }), 'c2');
  expect(await clusterPushes(h)).toBe(STREAMS);
  await turn();
  // Counted like SotW pushes (before), the loop read the first streams' ACKs before writing the others.
  expect((await clusterPushes(h)) - STREAMS).toBe(STREAMS);
  await waitUntil('every stream ACKed the new clusters', () => h.server.nodes().every((n) => n.inSync && n.types[0]!.ackedCommit === 'c2'));
}, 60_000);

const bench = (routes: number, variant = 0): Map<string, ReturnType<typeof benchResources>> => new Map([[BENCH_FLEET, benchResources({ clusters: 20, routes, variant })]]);

test('a fresh 5,000-route table is encoded across turns of the event loop; the previous snapshot serves until setSnapshots resolves', async () => {
  h = await startHarness();
  await publish(h, [...bench(10).values()]);
  let pending = true;
  let turnsWithOld = 0;
  const count = (): void => {
    if (!pending) return;
    if (h.server.published()?.commit === 'c1') turnsWithOld++;
    setImmediate(count);
  };
  setImmediate(count);
  const t0 = performance.now();
  const out = await h.server.setSnapshots(bench(5000, 1), { commit: 'c2', compiledAt: '2026-01-01T00:00:00Z' });
  const totalMs = performance.now() - t0;
  pending = false;
  expect(out.ok && out.value.fleets.map((f) => [f.fleet, f.changedTypes])).toEqual([[BENCH_FLEET, ['route']]]);
  expect(h.server.published()?.commit).toBe('c2');
  // The loop turned while the table was encoded (a synchronous encode gives 0 or 1 turn).
  expect(turnsWithOld).toBeGreaterThan(3);
  const longestMs = (await sliceGauge(h)) * 1000;
  expect(longestMs).toBeGreaterThan(0);
  expect(longestMs).toBeLessThan(totalMs);
}, 60_000);

test('publications take effect one after the other, in call order', async () => {
  h = await startHarness();
  const order: string[] = [];
  const meta = (commit: string) => ({ commit, compiledAt: '2026-01-01T00:00:00Z' });
  // The first is the slower to encode: without the order kept it would finish last and stay in force.
  const first = h.server.setSnapshots(bench(2000), meta('c1')).then((r) => (order.push('c1'), r));
  const second = h.server.setSnapshots(bench(10), meta('c2')).then((r) => (order.push('c2'), r));
  const [a, b] = await Promise.all([first, second]);
  expect([a.ok, b.ok]).toEqual([true, true]);
  expect(order).toEqual(['c1', 'c2']);
  expect(h.server.published()?.commit).toBe('c2');
  expect(h.server.snapshots().get(BENCH_FLEET)!.commit).toBe('c2');
}, 60_000);
