/**
 * How soon an Envoy is back on ADS after a control-server restart, with `portcullis bootstrap`'s
 * backoff (ADS_RETRY_BACKOFF), with two --xds replicas of which one is dead, and, side by side on
 * the same restart, with Envoy's default backoff (no retry_policy). Real Envoys, the real server
 * as a child process, SIGKILLed and restarted.
 */
import { ADS_RETRY_BACKOFF } from '../../compiler/envoy';
import { runCli } from '../support/cli';
import { createPolicyWorld, spawnServer, type PolicyWorld } from '../support/e2e';
import { EnvoyProcess } from '../support/envoy';
import { freePort } from '../support/ports';
import { waitFor, type ManagedProcess } from '../support/processes';

jest.setTimeout(150_000);
/** Long enough for Envoy's default backoff to have grown well past our cap. */
const DOWN_MS = Number(process.env.RECONNECT_DOWN_MS ?? 20_000);

let world: PolicyWorld;
let server: ManagedProcess | undefined;
let ports: { xds: number; http: number };
const envoys: { label: string; envoy: EnvoyProcess }[] = [];

async function startServer(logName: string): Promise<ManagedProcess> {
  const proc = spawnServer(world, ports, logName);
  await waitFor('control server ready', async () => {
    if (!proc.running) throw new Error(`portcullis serve exited with ${proc.exitCode}; see ${world.dir}/${logName}`);
    const r = await fetch(`http://127.0.0.1:${ports.http}/readyz`).catch(() => null);
    return r?.status === 200;
  }, 60_000, 50);
  return proc;
}

/** An Envoy from `portcullis bootstrap` (as a user makes one); `envoyDefaults` strips its retry policy. */
async function startEnvoy(label: string, xds: string, envoyDefaults = false): Promise<void> {
  const adminPort = await freePort();
  const r = await runCli(['bootstrap', '--fleet', 'e2e-delta', '--node-id', `reconnect-${label}`, '--xds', xds, '--admin', String(adminPort), '--format', 'json'], { cwd: process.cwd(), now: new Date() });
  if (r.code !== 0) throw new Error(`portcullis bootstrap: ${r.err}`);
  const bootstrap = JSON.parse(r.out) as { dynamic_resources: { ads_config: { grpc_services: { envoy_grpc: Record<string, unknown> }[] } } };
  if (envoyDefaults) delete bootstrap.dynamic_resources.ads_config.grpc_services[0]!.envoy_grpc['retry_policy'];
  envoys.push({ label, envoy: EnvoyProcess.start({ bootstrap, adminPort, logLevel: 'warn' }) });
}

const connected = async (e: EnvoyProcess): Promise<boolean> => Number(await e.stat('control_plane.connected_state').catch(() => '0')) === 1;

beforeAll(async () => {
  world = await createPolicyWorld();
  ports = { xds: await freePort(), http: await freePort() };
  server = await startServer('server-1.log');
  const live = `127.0.0.1:${ports.xds}`;
  await startEnvoy('ours', live);
  await startEnvoy('envoy-default', live, true);
  // Two replicas, the first never up: each new stream goes to the next one, so it costs a backoff at most.
  await startEnvoy('replicas', `127.0.0.1:${await freePort()},${live}`);
  await Promise.all(envoys.map((e) => e.envoy.waitReady()));
}, 120_000);

afterAll(async () => {
  await Promise.all(envoys.map((e) => e.envoy.stop()));
  await server?.stop();
  await world?.close();
});

test(`after ${DOWN_MS / 1000} s without a control server, Envoy is back within the backoff cap of its return`, async () => {
  await server!.kill();
  for (const { envoy } of envoys) await waitFor('Envoy noticing the server is gone', async () => !(await connected(envoy)), 10_000);
  await new Promise((r) => setTimeout(r, DOWN_MS));

  server = await startServer('server-2.log');
  const back = Date.now();
  const delays = new Map<string, number>();
  await waitFor('every Envoy reconnected', async () => {
    for (const { label, envoy } of envoys) if (!delays.has(label) && (await connected(envoy))) delays.set(label, Date.now() - back);
    return delays.size === envoys.length;
  }, 60_000, 50);
  // The figures docs/operations.md quotes come from runs of this test.
  process.stdout.write(`reconnect after ${DOWN_MS} ms down: ${[...delays].map(([l, ms]) => `${l} ${ms} ms`).join(', ')}\n`);
  // 50 ms polling plus a readyz round trip on a loaded machine: one second of slack.
  expect(delays.get('ours')).toBeLessThanOrEqual(ADS_RETRY_BACKOFF.maxIntervalMs + 1000);
  // Round robin may pick the dead replica first: one more backoff.
  expect(delays.get('replicas')).toBeLessThanOrEqual(2 * ADS_RETRY_BACKOFF.maxIntervalMs + 1000);
});
