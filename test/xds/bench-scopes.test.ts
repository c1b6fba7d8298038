/**
 * The xDS benchmark with route scopes (bench/xds/bench-snapshot.ts --scopes, tools/xds-loadgen,
 * tools/gcp-peer): a real Envoy accepts the scoped fleet and routes by the first path segment, and
 * on a small scale, against both servers and in both variants, a one-route change is timed to the
 * ACK of the one scope's route configuration that holds it, and costs each client a third of the
 * table where the server sends only that one.
 */
import { benchResources, scopeRouteConfigName } from '../../bench/xds/bench-snapshot';
import { spawnOn } from '../../bench/xds/ads-bench';
import { runScaleBench, type ScaleOptions, routeTableSize } from '../../bench/xds/xds-scale-bench';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEncoder } from '../../xds-server/encode';
import { loadEnvoyApi } from '../../xds-server/descriptors';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { freePort } from '../support/ports';
import { waitFor } from '../support/processes';
import { type Harness, publish, startHarness } from './harness';

const SCOPES = 3;

describe('bench snapshot with route scopes, a real Envoy over delta ADS', () => {
  let h: Harness | undefined;
  let envoy: EnvoyProcess | undefined;
  afterEach(async () => {
    await envoy?.stop();
    await h?.close();
  });

  test('Envoy accepts the scopes and their route configurations, and routes /s{k}/... by scope (an unknown segment: the empty fallback, 404)', async () => {
    h = await startHarness();
    const listenerPort = await freePort();
    const resources = benchResources({ clusters: 2, routes: 6, variant: 0, scopes: SCOPES, listenerPort });
    expect(resources.scopes.map((s) => s.name)).toEqual([0, 1, 2, null].map(scopeRouteConfigName));
    await publish(h, resources);
    const e = (envoy = startAdsEnvoy({ nodeId: 'bench-scoped', fleet: 'bench', xdsPort: h.port, adminPort: await freePort(), delta: true, logLevel: 'error' }));
    const routes = await waitFor(
      'scoped routes served',
      async () => {
        const n = await e.activeNames();
        if (n.listeners.length === 1 && n.routes.length === SCOPES + 1) return n.routes;
        throw new Error(`last seen ${JSON.stringify(n)}`);
      },
      15_000,
      100,
    );
    expect(routes).toEqual([0, 1, 2, null].map(scopeRouteConfigName).sort());
    const rejected = [...(await e.stats('update_rejected'))].filter(([, v]) => Number(v) > 0);
    expect(rejected).toEqual([]);
    // Route 4 is /s1/api/v1/resource-4/: matched in scope s1, its cluster has no live endpoint (503).
    // A segment without a scope goes to the fallback scope, which has no route (404).
    const status = async (path: string): Promise<number> => (await fetch(`http://127.0.0.1:${listenerPort}${path}`)).status;
    expect(await status('/s1/api/v1/resource-4/x')).toBe(503);
    expect(await status('/s2/api/v1/resource-4/x')).toBe(404);
    expect(await status('/other/api/v1/resource-4/x')).toBe(404);
  }, 30_000);
});

// Bytes: a third of the table where the server sends only the changed scope's RouteConfiguration
// (both in delta, Portcullis in SotW); go-control-plane's SotW sends every one the node asked for.
describe.each([
  ['portcullis', 'delta', 'under'],
  ['go-control-plane', 'delta', 'under'],
  ['portcullis', 'sotw', 'under'],
  ['go-control-plane', 'sotw', 'whole'],
] as const)('scale bench with route scopes, %s, %s', (server, variant, share) => {
  test(`20 clients: every client ACKs the changed scope's route configuration, one route response each, ${share === 'under' ? 'under half' : 'all'} of the table`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-scopes-'));
    try {
      const o: ScaleOptions = { server, variant, routes: 60, clients: 20, clusters: 4, scopes: SCOPES, rounds: 1, warmupRounds: 0, timeoutSeconds: 20, maxRssBytes: 4 * 1024 ** 3 };
      const files = [0, 1].map((v) => {
        const file = join(dir, `v${v}.json`);
        writeFileSync(file, JSON.stringify(benchResources({ clusters: o.clusters, routes: o.routes, variant: v, scopes: SCOPES })));
        return file;
      });
      const table = routeTableSize(createEncoder(loadEnvoyApi()), benchResources({ clusters: o.clusters, routes: o.routes, variant: 0, scopes: SCOPES }));
      const r = await runScaleBench(o, files, table);
      expect(r.failure).toBeNull();
      expect(r.synced).toBe(20);
      const [round] = r.rounds;
      expect(round).toMatchObject({ acked: 20, routePushesPerClient: 1, otherPushes: 0 });
      // The earliest ACK is measured, and the percentiles are in order.
      const { firstMs, p50Ms, p99Ms, lastMs } = round!;
      expect(firstMs).toBeGreaterThan(0);
      expect([firstMs, p50Ms, p99Ms, lastMs]).toEqual([firstMs, p50Ms, p99Ms, lastMs].sort((a, b) => a - b));
      // A reconnected client gets every type again, the whole route table once.
      expect(r.storm).toMatchObject({ synced: 20 });
      expect(r.storm!.pushesPerClient).toBeGreaterThanOrEqual(5);
      expect(r.storm!.bytesPerClient).toBeGreaterThanOrEqual(table);
      // One scope of three (20 routes of 60) is well under half the table.
      if (share === 'under') expect(round!.bytesPerClient).toBeLessThan(table / 2);
      else expect(round!.bytesPerClient).toBeGreaterThanOrEqual(table);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

test('--pin: a bench process runs on the CPUs it is given, and reads that affinity itself', async () => {
  const child = spawnOn('0', 'sh', ['-c', 'taskset -cp $$; nproc']);
  child.stdin!.end();
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(code).toBe(0);
  expect(out).toMatch(/current affinity list: 0\n1\n$/);
});
