/**
 * Two replicas with real processes (issue 9 item 5, docs/monitor.md): two Envoys of one fleet, each
 * streaming its access logs to its own monitor (the ALS service on a gRPC server, as the control
 * server runs it), the monitors merged through a real Redis and posting to one real Alertmanager.
 * A credential-stuffing burst from one /24 is split over the two Envoys, 20 requests each, under a
 * threshold of 30 that only the sum crosses: the webhook arrives once for the incident, from the
 * replica holding its lease, and the resolved notification follows when the attack stops.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { compileSources } from '../../compiler';
import { staticBootstrap, translatePolicy } from '../../compiler/envoy';
import type { PolicyIR } from '../../compiler/ir/ir';
import { createMonitor, type Monitor } from '../../monitor/monitor';
import { createXdsServer, type XdsServer } from '../../xds-server/ads-server';
import { call } from '../support/e2e';
import { EnvoyProcess } from '../support/envoy';
import { BOT_TOKEN, writeMonitoring } from '../support/monitor-stack';
import { startAlertmanager, startWebhookReceiver, type WebhookDelivery } from '../support/monitoring';
import { freePorts } from '../support/ports';
import { waitFor, type ManagedProcess } from '../support/processes';
import { metricSum } from '../support/metrics';
import { compiledOrThrow } from '../support/policy-fixtures';
import { RedisProcess } from '../support/ratelimit-service';

jest.setTimeout(120_000);

const ATTACK_NET = '198.51.100.0/24';
const INCIDENT = `login-stuffing/e2e/${ATTACK_NET}`;

/** One Envoy's policy: the login route answers 401 from the upstream; more than 30 per /24 in 10 s fire. */
function policy(listener: number, upstream: number): PolicyIR {
  const text = `apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: accounts }
spec: { endpoints: [{ address: 127.0.0.1, port: ${upstream} }] }
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: login }
spec: { path: { prefix: /login }, service: accounts }
---
apiVersion: portcullis.dev/v1
kind: Access
metadata: { name: public }
spec: { rules: [{ routes: [login], public: true }] }
---
apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: e2e }
spec: { fleets: [edge], listener: { address: 127.0.0.1, port: ${listener}, xffNumTrustedHops: 1 } }
---
apiVersion: portcullis.dev/v1
kind: Trigger
metadata: { name: login-stuffing }
spec:
  routes: [login]
  responses: { statuses: [401], causes: [upstream] }
  key: clientNetwork
  condition: { rate: { above: 30, window: 10s } }
  severity: critical
  lockdown:
    duration: 1h
    owner: "@oncall"
    actions: [{ type: blockNetworks, cidrs: ["{{network}}"], routes: [login] }]
`;
  return compiledOrThrow(compileSources([{ path: 'replicas.yaml', text }], new Date()));
}

interface Replica {
  readonly name: string;
  readonly monitor: Monitor;
  readonly registry: Registry;
  readonly xds: XdsServer;
  readonly envoy: EnvoyProcess;
  readonly listener: number;
}

let redis: RedisProcess;
let upstream: Server;
let alertmanager: ManagedProcess;
let hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
let dir: string;
const replicas: Replica[] = [];

async function startReplica(name: string, amPort: number): Promise<Replica> {
  const [listener, admin] = (await freePorts(2)) as [number, number];
  const ir = policy(listener, (upstream.address() as AddressInfo).port);
  const registry = new Registry();
  const logger = pino({ level: 'warn' });
  const monitor = createMonitor({ registry, logger, alertmanager: { url: `http://127.0.0.1:${amPort}` }, fleetMerge: { redisUrl: `redis://127.0.0.1:${redis.port}`, replica: name } });
  monitor.setPolicy(ir);
  monitor.start();
  const xds = createXdsServer({ logger, registry, services: [monitor.grpcService] });
  const als = await xds.listen('127.0.0.1', 0);
  const [resources] = translatePolicy(ir);
  if (!resources) throw new Error('no Envoy resources');
  const envoy = EnvoyProcess.start({ bootstrap: staticBootstrap(resources, { adminPort: admin, nodeId: `envoy-${name}`, accessLogService: { host: '127.0.0.1', port: als } }), adminPort: admin, logLevel: 'warn', concurrency: 1 });
  const r = { name, monitor, registry, xds, envoy, listener };
  replicas.push(r);
  await envoy.waitReady();
  return r;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-replicas-'));
  redis = await RedisProcess.start();
  upstream = createServer((_req, res) => res.writeHead(401).end('bad credentials'));
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  hook = await startWebhookReceiver(BOT_TOKEN);
  const [amPort] = (await freePorts(1)) as [number];
  const env = policy(1, 1).environments[0];
  if (!env) throw new Error('no environment');
  writeMonitoring(dir, env, { portcullis: '127.0.0.1:1', envoys: [], amPort, hookPort: hook.port });
  alertmanager = await startAlertmanager(dir, amPort);
  await startReplica('replica-a', amPort);
  await startReplica('replica-b', amPort);
});

afterAll(async () => {
  for (const r of replicas) r.monitor.stop();
  await Promise.all([...replicas.map((r) => r.envoy.stop()), alertmanager?.stop(), redis?.stop()]);
  await Promise.all(replicas.map((r) => r.xds.shutdown(200)));
  await hook?.close();
  await new Promise((resolve) => upstream?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const about = (status: string) => (d: WebhookDelivery) => d.body.status === status && d.body.alerts.some((a) => a.labels.incident === INCIDENT);

test('an attack split over two replicas fires once on the sum, through one Alertmanager, and resolves once', async () => {
  // 20 bad logins from the /24 through each Envoy, alternating, with normal-looking callers between.
  const firstAnomalous = Date.now();
  for (let i = 0; i < 40; i++) {
    const r = replicas[i % 2] as Replica;
    expect((await call(r.listener, '/login', { xff: `198.51.100.${i + 1}` })).status).toBe(401);
    expect((await call(r.listener, '/login', { xff: `10.9.${i}.1` })).status).toBe(401);
  }
  const firing = await waitFor('the firing webhook', () => hook.deliveries.find(about('firing')), 20_000, 50);
  console.log(`two replicas: first anomalous request → Alertmanager webhook: ${((firing.receivedAt - firstAnomalous) / 1000).toFixed(2)} s`);
  const alert = firing.body.alerts.find((a) => a.labels.incident === INCIDENT);
  expect(Number(alert?.annotations.value)).toBeGreaterThan(30);
  expect(Number(alert?.annotations.value)).toBeLessThanOrEqual(40);

  // Each replica counted only its Envoy's half; each evaluated the fleet's sum.
  for (const r of replicas) {
    expect(await metricSum(r.registry, 'portcullis_route_responses_total', { route: 'login', code_class: '4xx', cause: 'upstream' })).toBe(40);
    expect(await metricSum(r.registry, 'portcullis_monitor_fleet_merge_up')).toBe(1);
  }
  const resolved = await waitFor('the resolved webhook', () => hook.deliveries.find(about('resolved')), 40_000, 100);
  console.log(`two replicas: resolved notification ${((resolved.receivedAt - firing.receivedAt) / 1000).toFixed(1)} s after the firing one`);

  // One replica posted the incident; the other left it to that one.
  const posts = await Promise.all(replicas.map((r) => metricSum(r.registry, 'portcullis_monitor_alert_posts_total', { result: 'ok' })));
  const left = await Promise.all(replicas.map((r) => metricSum(r.registry, 'portcullis_monitor_alerts_left_to_replica_total')));
  expect(posts.filter((n) => n > 0)).toHaveLength(1);
  expect(left[posts.findIndex((n) => n > 0) === 0 ? 1 : 0]).toBeGreaterThan(0);
  expect(hook.deliveries.filter(about('firing'))).toHaveLength(1);
  expect(hook.deliveries.filter(about('resolved'))).toHaveLength(1);
  expect(hook.refused).toBe(0);
});
