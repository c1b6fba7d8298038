/**
 * Envoy rebuilds an EDS cluster whose definition changed and warms the rebuilt cluster only on a
 * ClusterLoadAssignment sent after it (envoy-ads.test.ts shows the 15 s wait on a real Envoy). At
 * the protocol level, both variants: the endpoints of a changed cluster go out right after the
 * cluster response, unchanged, before its ACK; and an endpoint response that was in flight when the
 * cluster changed does not count.
 */
import { versioned } from '../../compiler/envoy';
import type { AdsClient } from '../../bench/xds/ads-client';
import { cluster, fleetResources, loadAssignment } from './fixtures';
import { CDS, EDS, type Harness, names, publish, startHarness } from './harness';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const base = fleetResources({ clusters: ['svc-a', 'svc-b'] });
/** The base fleet with svc-a's definition at `timeout` and its endpoints on `port`. */
const withA = (timeout: string, port = 9000) => ({
  ...base,
  clusters: [versioned('cluster', 'svc-a', cluster('svc-a', { timeout })), base.clusters[1]!],
  endpoints: [versioned('endpoint', 'svc-a', loadAssignment('svc-a', [port])), base.endpoints[1]!],
});

/** CDS then EDS for its clusters, both ACKed. */
async function start(c: AdsClient): Promise<void> {
  if (c.options.variant === 'sotw') c.sotw({ typeUrl: CDS });
  else c.delta({ typeUrl: CDS });
  const cds = await c.next('cluster');
  c.ack(cds);
  if (c.options.variant === 'sotw') c.sotw({ typeUrl: EDS, resourceNames: names(cds) });
  else c.delta({ typeUrl: EDS, subscribe: names(cds) });
  c.ack(await c.next('endpoint'), names(cds));
}

describe.each(['sotw', 'delta'] as const)('%s: a changed EDS cluster', (variant) => {
  test('gets its unchanged endpoints again right after the cluster response, before its ACK', async () => {
    h = await startHarness();
    await publish(h, withA('0.25s'));
    const c = h.client(variant);
    await start(c);
    await publish(h, withA('0.5s'), 'c2');
    const cds = await c.next('cluster');
    expect(cds.resources.map((r) => r.name)).toContain('svc-a');
    const eds = await c.next('endpoint');
    expect(names(eds)).toEqual(['svc-a']);
    c.ack(eds, ['svc-a', 'svc-b']);
    c.ack(cds);
    expect(await c.quiet(100)).toEqual([]);
    expect(h.server.nodes()[0]!.inSync).toBe(true);
  });

  test('an endpoint response in flight when the cluster changed does not count', async () => {
    h = await startHarness();
    await publish(h, withA('0.25s'));
    const c = h.client(variant);
    await start(c);
    await publish(h, withA('0.25s', 9100), 'c2');
    const before = await c.next('endpoint'); // not ACKed yet
    await publish(h, withA('0.5s', 9100), 'c3');
    const cds = await c.next('cluster');
    expect(cds.resources.map((r) => r.name)).toContain('svc-a');
    c.ack(before, ['svc-a', 'svc-b']);
    const again = await c.next('endpoint');
    expect(names(again)).toEqual(['svc-a']);
    c.ack(again, ['svc-a', 'svc-b']);
    c.ack(cds);
    expect(await c.quiet(100)).toEqual([]);
    expect(h.server.nodes()[0]!.inSync).toBe(true);
  });
});
