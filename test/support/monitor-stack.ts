/**
 * Test harness for the monitor's end-to-end tests: the policy world with extra Trigger files, the
 * control server in process (monitor posting to Alertmanager), one Envoy over ADS (fleet e2e-delta,
 * environment e2e), and the configuration `portcullis monitoring-config` writes, run by a real
 * Prometheus and a real Alertmanager whose webhook goes to a receiver standing in for the bot.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvironmentIR } from '../../compiler/ir/ir';
import { monitoringConfig } from '../../compiler/monitor/monitoring-config';
import { compileDirectory } from '../../sources';
import { createPolicyWorld, startServerInProcess, waitInSync, type PolicyWorld } from './e2e';
import { startAdsEnvoy, type EnvoyProcess } from './envoy';
import { startAlertmanager, startPrometheus, startWebhookReceiver, writeConfigs, type WebhookDelivery } from './monitoring';
import { metricSum } from './metrics';
import { freePorts } from './ports';
import { waitFor, type ManagedProcess } from './processes';
import { compiledOrThrow, environmentOf, stuffingTrigger } from './policy-fixtures';

/** The bearer token Alertmanager sends to the webhook receiver. */
export const BOT_TOKEN = 'e2e-bot-token';

export interface MonitorStack {
  readonly world: PolicyWorld;
  readonly server: Awaited<ReturnType<typeof startServerInProcess>>;
  readonly envoy: EnvoyProcess;
  readonly hook: Awaited<ReturnType<typeof startWebhookReceiver>>;
  readonly promPort: number;
  readonly amPort: number;
  /** What the monitor and Envoy counted, for a failure message. */
  diagnostics(): Promise<string>;
  stop(): Promise<void>;
}

/** The files `portcullis monitoring-config` writes for `env` (1 s scrape, evaluation and group wait), and the bot's token. */
export function writeMonitoring(dir: string, env: EnvironmentIR, o: { portcullis: string; envoys: string[]; amPort: number; hookPort: number }): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'bot-token'), `${BOT_TOKEN}\n`);
  writeConfigs(
    dir,
    monitoringConfig(env, {
      portcullis: o.portcullis,
      envoys: o.envoys,
      alertmanager: `127.0.0.1:${o.amPort}`,
      webhookUrl: `http://127.0.0.1:${o.hookPort}/hooks/alertmanager`,
      webhookAuth: { kind: 'bearer', credentialsFile: join(dir, 'bot-token') },
      scrapeIntervalMs: 1000,
      evaluationIntervalMs: 1000,
      groupWaitMs: 1000,
      groupIntervalMs: 1000,
      repeatIntervalMs: 3_600_000,
    }),
  );
}

/** Everything started, in sync; `files` are extra policy files (the Triggers). */
export async function startMonitorStack(files: Record<string, string>, nodeId: string): Promise<MonitorStack> {
  const world = await createPolicyWorld(files);
  const procs: ManagedProcess[] = [];
  const hook = await startWebhookReceiver(BOT_TOKEN);
  const [amPort, promPort, adminPort] = (await freePorts(3)) as [number, number, number];
  const server = await startServerInProcess(world, { monitor: { alertmanagerUrl: `http://127.0.0.1:${amPort}`, prometheusUrl: `http://127.0.0.1:${promPort}` } });
  const envoy = startAdsEnvoy({ nodeId, fleet: 'e2e-delta', xdsPort: server.xdsPort, adminPort, delta: true, logLevel: 'warn' });
  const stop = async () => {
    await Promise.all([envoy.stop(), ...procs.map((p) => p.stop())]);
    await server.stop();
    await hook.close();
    await world.close();
  };
  try {
    await envoy.waitReady();
    await waitInSync(server.http.url, 'e2e-delta');
    const env = environmentOf(compiledOrThrow(await compileDirectory(join(world.repo.dir, 'policies'), new Date())), 'e2e');
    const dir = join(world.dir, 'monitoring');
    writeMonitoring(dir, env, { portcullis: server.http.url.replace(/^http:\/\//, ''), envoys: [`127.0.0.1:${adminPort}`], amPort, hookPort: hook.port });
    procs.push(...(await Promise.all([startAlertmanager(dir, amPort), startPrometheus(dir, promPort)])));
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    world,
    server,
    envoy,
    hook,
    promPort,
    amPort,
    async diagnostics() {
      const metrics = await server.registry.metrics();
      const mine = metrics.split('\n').filter((l) => /^portcullis_(monitor|route_responses|trigger)/.test(l));
      const stats = [...(await envoy.stats('access_log'))].map(([k, v]) => `${k}: ${v}`);
      return [...mine, ...stats, `webhooks: ${JSON.stringify(hook.deliveries).slice(0, 2000)}`].join('\n');
    },
    stop,
  };
}

/** One token subject sending more than 40 % of the orders traffic (≥ 60 requests in 10 s). */
export const TOKEN_ABUSE_TRIGGER = `apiVersion: portcullis.dev/v1
kind: Trigger
metadata: { name: orders-token-abuse }
spec:
  description: One token subject sends most of the orders traffic
  environments: [e2e]
  routes: [orders]
  key: tokenSubject
  condition: { share: { above: 40, minRequests: 60, window: 10s } }
  severity: warning
  lockdown:
    duration: 2h
    owner: "@oncall"
    reason: "Token abuse on {{route}} by {{sub}}"
    actions:
      - { type: revokeTokens, subjects: ["{{sub}}"] }
`;

/** More than 20 401s on orders from one /24 in 10 s. */
export const STUFFING_TRIGGER = stuffingTrigger({
  name: 'orders-stuffing',
  description: 'Failed authentication on the orders API from one network',
  environments: ['e2e'],
  route: 'orders',
  rate: '{ above: 20, window: 10s }',
});

/** Starts the stack before the file's tests and stops it after; the getter returns it. */
export function useMonitorStack(files: Record<string, string>, nodeId: string): () => MonitorStack {
  let stack: MonitorStack | undefined;
  beforeAll(async () => {
    stack = await startMonitorStack(files, nodeId);
  });
  afterAll(async () => {
    await stack?.stop();
  });
  return () => {
    if (!stack) throw new Error('the monitor stack did not start');
    return stack;
  };
}

/**
 * Waits for the first firing webhook with an alert whose `key` label is `key`; prints and checks
 * (≤ 10 s, the target) the time since the first anomalous request. Fails with diagnostics.
 */
export async function firingWebhook(stack: MonitorStack, key: string, since: number, what: string): Promise<{ delivery: WebhookDelivery; alert: WebhookDelivery['body']['alerts'][number] | undefined }> {
  const match = (d: WebhookDelivery) => d.body.status === 'firing' && d.body.alerts.some((a) => a.labels.key === key);
  const delivery = await waitFor('the firing webhook', () => stack.hook.deliveries.find(match), 20_000, 50).catch(async (e: unknown) => {
    throw new Error(`${String(e)}\n${await stack.diagnostics()}`);
  });
  const seconds = (delivery.receivedAt - since) / 1000;
  console.log(`${what}: first anomalous request → Alertmanager webhook: ${seconds.toFixed(2)} s`);
  expect(seconds).toBeLessThan(10);
  return { delivery, alert: delivery.body.alerts.find((a) => a.labels.key === key) };
}

/**
 * "Nothing fires" made provable: after `send` (traffic of `responses` responses), waits until the
 * monitor has counted them all, runs one evaluation tick (it resolves once its alerts are posted),
 * and checks that `trigger` was evaluated (its threshold is exported) and nothing was posted or
 * delivered.
 */
export async function expectNothingFires(stack: MonitorStack, trigger: string, responses: number, send: () => Promise<void>): Promise<void> {
  const { registry, monitor } = stack.server;
  const counted = () => metricSum(registry, 'portcullis_monitor_entries_total', { result: 'counted' });
  const before = await counted();
  await send();
  await waitFor(`the monitor to count ${responses} responses`, async () => (await counted()) >= before + responses, 15_000, 50);
  await monitor.evaluate();
  expect(await metricSum(registry, 'portcullis_trigger_threshold', { trigger })).toBeGreaterThan(0);
  expect(await metricSum(registry, 'portcullis_trigger_firing_keys', { trigger })).toBe(0);
  expect(await metricSum(registry, 'portcullis_monitor_alert_posts_total')).toBe(0);
  expect(stack.hook.deliveries).toEqual([]);
}
