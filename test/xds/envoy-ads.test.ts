/**
 * The xDS server against a real Envoy 1.40 ($ENVOY_BIN), both ADS variants: Envoy accepts what the
 * server encodes, follows an update that adds and drops a cluster without rejecting anything, and a
 * config Envoy refuses shows up as a NACK with Envoy's own message. (The whole pipeline, git to
 * Envoy, is covered by the end-to-end tests; this is the protocol against the real client.)
 */
import { versioned } from '../../compiler/envoy';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { freePort } from '../support/ports';
import { cluster, fleetResources, loadAssignment } from './fixtures';
import { eventually, type Harness, publish, startHarness } from './harness';

type Envoy = EnvoyProcess;

/** A real Envoy bootstrapped with the product's own ADS bootstrap; a missing ENVOY_BIN fails the test. */
async function startEnvoy(xdsPort: number, variant: 'GRPC' | 'DELTA_GRPC', nodeId: string): Promise<Envoy> {
  return startAdsEnvoy({ nodeId, fleet: 'edge', xdsPort, adminPort: await freePort(), delta: variant === 'DELTA_GRPC', logLevel: 'error' });
}

/** Envoy's xDS update counters (success and rejected, per type). */
const UPDATE_COUNTERS = 'update_(success|rejected)';

/** The update_rejected counters above 0 (none, when Envoy accepted everything it was sent). */
async function rejections(envoy: Envoy): Promise<[string, string][]> {
  return [...(await envoy.stats(UPDATE_COUNTERS))].filter(([k, v]) => k.endsWith('update_rejected') && Number(v) > 0);
}

/** On a failed wait: what the server thinks of the node, Envoy's update counters, the server's log. */
function explain(h: Harness, e: Envoy) {
  return async (err: Error): Promise<never> => {
    const log = h.logs.map((l) => `${String(l['msg'])} ${String(l['type'] ?? '')} ${String(l['version'] ?? '')} ${String(l['error'] ?? '')}`);
    throw new Error(`${err.message}\nnodes: ${JSON.stringify(h.server.nodes())}\nenvoy: ${JSON.stringify(Object.fromEntries(await e.stats(UPDATE_COUNTERS)))}\nlog: ${log.join('\n')}`);
  };
}

describe.each([['GRPC'], ['DELTA_GRPC']] as const)('real Envoy over ADS (%s)', (variant) => {
  let h: Harness;
  let envoy: Envoy | undefined;
  afterEach(async () => {
    await envoy?.stop();
    await h?.close();
  });

  test('accepts the config, follows an update that adds and drops a cluster, and a refusal is a recorded NACK', async () => {
    h = await startHarness();
    const listenerPort = await freePort();
    await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b'], listenerPort }));
    envoy = await startEnvoy(h.port, variant, `envoy-${variant}`);
    const e = envoy;

    const first = await eventually(() => e.activeNames(), (n) => n.listeners.length === 1 && n.routes.length === 1, 'initial config').catch(explain(h, e));
    expect(first).toEqual({ clusters: ['svc-a', 'svc-b'], listeners: ['ingress'], routes: ['ingress-routes'] });
    await eventually(async () => h.server.nodes()[0], (n) => n?.inSync === true, 'node in sync');
    const node = h.server.nodes()[0]!;
    expect(node).toMatchObject({ id: `envoy-${variant}`, protocol: variant === 'GRPC' ? 'sotw' : 'delta', lastNack: null });
    expect(node.userAgent).toMatch(/^envoy 1\.40/);

    // Update: svc-c added, svc-b dropped, routes move to svc-c.
    await publish(h, fleetResources({ clusters: ['svc-a', 'svc-c'], listenerPort }), 'c2');
    const second = await eventually(
      () => e.activeNames(),
      (n) => n.clusters.join() === 'svc-a,svc-c',
      'update converged',
    ).catch(explain(h, e));
    expect(second.listeners).toEqual(['ingress']);
    await eventually(async () => h.server.nodes()[0], (n) => n?.inSync === true && n.types.every((t) => t.ackedCommit === 'c2'), 'node in sync on c2');
    expect(await rejections(e)).toEqual([]);

    // Envoy refuses a cluster with a zero connect timeout (a validation rule, not an encoding one).
    const bad = fleetResources({ clusters: ['svc-a', 'svc-c'], listenerPort });
    const zero = { ...bad.clusters[0]!.value, connect_timeout: '0s' };
    await publish(h, { ...bad, clusters: [versioned('cluster', 'svc-a', zero), bad.clusters[1]!] }, 'c3');
    const nacked = await eventually(async () => h.server.nodes()[0], (n) => n?.lastNack !== null, 'NACK recorded');
    expect(nacked!.lastNack).toMatchObject({ type: 'cluster', commit: 'c3' });
    expect(nacked!.lastNack!.error).toMatch(/connect_timeout|ConnectTimeout/i);
    expect(await h.metric('portcullis_xds_nacks_total', { type: 'cluster', fleet: 'edge' })).toBe(1);
    // Envoy keeps serving the last accepted clusters, and nothing is re-sent in a loop: a route
    // change published after the NACK is answered on the same ordered stream, so once Envoy has ACKed
    // it, a re-sent cluster response would have been sent (and NACKed) before it.
    const clusterPushes = await h.metric('portcullis_xds_pushes_total', { type: 'cluster' });
    publish(h, { ...bad, clusters: [versioned('cluster', 'svc-a', zero), bad.clusters[1]!], routes: fleetResources({ clusters: ['svc-a', 'svc-c'], listenerPort, routes: 4 }).routes }, 'c4');
    await eventually(async () => h.server.nodes()[0]?.types.find((t) => t.type === 'route'), (t) => t?.ackedCommit === 'c4', 'route change after the NACK ACKed').catch(explain(h, e));
    expect(await h.metric('portcullis_xds_pushes_total', { type: 'cluster' })).toBe(clusterPushes);
    expect(await h.metric('portcullis_xds_nacks_total', { type: 'cluster', fleet: 'edge' })).toBe(1);
    expect((await e.activeNames()).clusters).toEqual(['svc-a', 'svc-c']);
  });

  test('an EDS cluster whose definition changed warms at once: its endpoints are sent again', async () => {
    h = await startHarness();
    const listenerPort = await freePort();
    const base = fleetResources({ clusters: ['svc-a', 'svc-b'], listenerPort });
    await publish(h, base);
    envoy = await startEnvoy(h.port, variant, `envoy-rebuild-${variant}`);
    const e = envoy;
    await eventually(async () => h.server.nodes()[0], (n) => n?.inSync === true, 'node in sync').catch(explain(h, e));
    // svc-a changes, its endpoints do not; then svc-a again with svc-b's endpoints (only those changed).
    const changed = (timeout: string, bPort?: number) => ({
      ...base,
      clusters: [versioned('cluster', 'svc-a', cluster('svc-a', { timeout })), base.clusters[1]!],
      endpoints: bPort === undefined ? base.endpoints : [base.endpoints[0]!, versioned('endpoint', 'svc-b', loadAssignment('svc-b', [bPort]))],
    });
    for (const [commit, resources] of [['c2', changed('0.5s')], ['c3', changed('0.75s', 9100)]] as const) {
      await publish(h, resources, commit);
      // Without the endpoints re-sent, Envoy keeps the rebuilt cluster warming for
      // initial_fetch_timeout (15 s) and holds the cluster ACK that long.
      await eventually(async () => h.server.nodes()[0], (n) => n?.inSync === true && n.servedCommit === commit, `in sync on ${commit}`, 5_000).catch(explain(h, e));
      expect((await e.stats('cluster_manager.warming_clusters')).get('cluster_manager.warming_clusters')).toBe('0');
    }
    expect(await rejections(e)).toEqual([]);
  });

  test('a restarted server computes the same versions: the reconnecting Envoy is in sync with nothing re-sent', async () => {
    h = await startHarness();
    const listenerPort = await freePort();
    await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b'], listenerPort }));
    envoy = await startEnvoy(h.port, variant, `envoy-restart-${variant}`);
    const e = envoy;
    await eventually(async () => h.server.nodes()[0], (n) => n?.inSync === true && n.types.length === 4, 'node in sync').catch(explain(h, e));
    const port = h.port;
    await h.close();

    // A new server process state (new cache, new registry) on the same port, same commit.
    h = await startHarness({}, port);
    await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b'], listenerPort }));
    await eventually(async () => h.server.nodes()[0], (n) => n?.inSync === true && n.types.length === 4, 'node back in sync', 15_000).catch(explain(h, e));
    expect(await h.metric('portcullis_xds_pushes_total')).toBe(0);
    expect(await rejections(e)).toEqual([]);
    expect((await e.activeNames()).clusters).toEqual(['svc-a', 'svc-b']);
  });
});
