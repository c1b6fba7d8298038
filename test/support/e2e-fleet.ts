/**
 * Test harness: the setup the control-server end-to-end tests share (gitops, envoy-validation,
 * control-server-guards, shadow-overlays, shadow-bot): a policy world, the control server in this process with the test's
 * hooks, one real Envoy of fleet e2e-delta over delta ADS, in sync before the first test; the
 * cluster Envoy refuses, an extra route, and one /metrics sample.
 */
import type { EnvoyResources } from '../../compiler/envoy/resources';
import { startAdsEnvoy, type EnvoyProcess } from './envoy';
import { createPolicyWorld, startServerInProcess, waitInSync, type PolicyWorld } from './e2e';
import { freePort } from './ports';

export const E2E_FLEET = 'e2e-delta';

export interface E2eFleet {
  readonly world: PolicyWorld;
  readonly server: Awaited<ReturnType<typeof startServerInProcess>>;
  readonly envoy: EnvoyProcess;
  /** One sample of the server's /metrics by its exact series text; undefined when absent. */
  metric(series: string): Promise<number | undefined>;
  close(): Promise<void>;
}

/** World, server (with `hooks`) and one Envoy `nodeId` of e2e-delta, in sync. */
export async function startE2eFleet(nodeId: string, hooks: Parameters<typeof startServerInProcess>[1] = {}): Promise<E2eFleet> {
  const world = await createPolicyWorld();
  const server = await startServerInProcess(world, hooks);
  const envoy = startAdsEnvoy({ nodeId, fleet: E2E_FLEET, xdsPort: server.xdsPort, adminPort: await freePort(), delta: true });
  await envoy.waitReady();
  await waitInSync(server.http.url, E2E_FLEET);
  return {
    world,
    server,
    envoy,
    async metric(series) {
      const text = await (await fetch(`${server.http.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    },
    async close() {
      await envoy.stop();
      await server.stop();
      await world.close();
    },
  };
}

/** A resources hook that, while `on()` holds, adds a cluster Envoy refuses (a negative connect timeout). */
export function badClusterHook(on: () => boolean): (r: EnvoyResources) => EnvoyResources {
  return (r) => {
    if (!on()) return r;
    const bad = {
      name: 'e2e-rejected',
      type: 'STATIC',
      connect_timeout: '-1s',
      load_assignment: { cluster_name: 'e2e-rejected', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9 } } } }] }] },
    };
    return { ...r, clusters: [...r.clusters, { name: 'e2e-rejected', version: 'bad-0001', value: bad }].sort((a, b) => (a.name < b.name ? -1 : 1)) };
  };
}

/** A Route `extra` on `prefix` to the catalog service. */
export const extraRoute = (prefix: string): string => `apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: extra }\nspec:\n  path: { prefix: ${prefix} }\n  service: catalog\n`;
