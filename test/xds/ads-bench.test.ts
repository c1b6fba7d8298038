import { runAdsBench } from '../../bench/xds/ads-bench';

// The benchmark's harness on a small scale: it runs end to end, and a one-route change pushes
// exactly one route response per client, encoded once. (Timings are measured, not asserted.)
test('ADS bench harness: 20 clients, one-route change → one RDS push each, one encode', async () => {
  const r = await runAdsBench({ server: 'portcullis', clients: 20, rounds: 2, connectBatch: 10, phaseTimeoutMs: 20_000 });
  expect(r.clients).toBe(20);
  expect(r.rounds.map((x) => x.acked)).toEqual([20, 20]);
  expect(r.encodesPerVersion).toBe(1);
  expect(r.routePushesPerClient).toBe(1);
  expect(r.otherPushes).toBe(0);
  expect(r.p99Ms).toBeGreaterThan(0);
}, 60_000);
