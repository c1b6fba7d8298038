/**
 * mTLS on the xDS port: an Envoy with a client certificate from the fleet CA gets its config; an
 * Envoy without one gets nothing (and, with the bootstrap's infinite initial fetch timeout, stays
 * not-ready instead of serving an empty listener set).
 */
import type { ControlServer } from '../../cli/control-server';
import { makePki } from '../support/certs';
import { startAdsEnvoy, type EnvoyProcess } from '../support/envoy';
import { call, createPolicyWorld, serverStatus, startServerInProcess, waitInSync, type PolicyWorld } from '../support/e2e';
import { freePort } from '../support/ports';
import { waitFor } from '../support/processes';

jest.setTimeout(60_000);

let world: PolicyWorld;
let server: ControlServer;
const envoys: EnvoyProcess[] = [];

beforeAll(async () => {
  world = await createPolicyWorld();
  const pki = makePki(world.dir);
  server = await startServerInProcess(world, { tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caCert } });
  const withCert = startAdsEnvoy({
    nodeId: 'e2e-mtls-1',
    fleet: 'e2e-delta',
    xdsPort: server.xdsPort,
    adminPort: await freePort(),
    delta: true,
    tls: { caFile: pki.caCert, certChainFile: pki.clientCert, privateKeyFile: pki.clientKey },
  });
  const withoutCert = startAdsEnvoy({ nodeId: 'e2e-mtls-nocert', fleet: 'e2e-sotw', xdsPort: server.xdsPort, adminPort: await freePort(), delta: false, tls: { caFile: pki.caCert } });
  envoys.push(withCert, withoutCert);
});

afterAll(async () => {
  await Promise.allSettled(envoys.map((e) => e.stop()));
  await server?.stop();
  await world?.close();
});

test('an Envoy with a fleet client certificate gets its config over mTLS; one without is refused', async () => {
  const [withCert, withoutCert] = envoys as [EnvoyProcess, EnvoyProcess];
  await withCert.waitReady();
  expect((await call(world.ports.listener, '/catalog')).json?.service).toBe('catalog');
  const status = await waitInSync(server.http.url, 'e2e-delta');
  expect(status.nodes.map((n) => n.id)).toEqual(['e2e-mtls-1']);
  // Several connection attempts of the certificate-less Envoy, counted by its xDS cluster (not timed).
  await waitFor('3 refused xDS connections', async () => Number(await withoutCert.stat('cluster.xds_cluster.upstream_cx_total')) >= 3, 20_000, 100);
  expect((await fetch(`${withoutCert.adminUrl}/ready`)).status).toBe(503);
  // Not connected_state: with TLS 1.3 the client finishes its handshake before the server checks
  // its certificate, so Envoy can read "connected" for a moment before the stream is refused. What
  // must hold is that it never received any configuration.
  expect(Number(await withCert.stat('cluster_manager.cds.update_success'))).toBeGreaterThan(0);
  expect(Number(await withoutCert.stat('cluster_manager.cds.update_success'))).toBe(0);
  expect(Number(await withoutCert.stat('listener_manager.lds.update_success'))).toBe(0);
  expect((await serverStatus(server.http.url)).nodes.map((n) => n.id)).toEqual(['e2e-mtls-1']);
});
