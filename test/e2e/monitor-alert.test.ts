/**
 * The incident loop's detection half with real processes: Envoy (over ADS from the control server)
 * streams access logs to the monitor inside the control server; a credential-stuffing burst from one
 * /24, interleaved with normal traffic from many other addresses, fires its Trigger; the monitor posts
 * to a real Alertmanager, which delivers a webhook naming the route, the /24 and the proposed
 * lockdown; a real Prometheus scrapes the bounded series; the resolved notification follows when the
 * attack stops. Prints first anomalous request → webhook, in seconds.
 */
import { call } from '../support/e2e';
import { expectNothingFires, firingWebhook, useMonitorStack, STUFFING_TRIGGER } from '../support/monitor-stack';
import { promQuery, type WebhookDelivery } from '../support/monitoring';
import { waitFor } from '../support/processes';

jest.setTimeout(120_000);

const ATTACK_NET = '198.51.100.0/24';
const stack = useMonitorStack({ 'policies/triggers.yaml': STUFFING_TRIGGER }, 'e2e-monitor-1');

/** Normal callers: valid tokens from 40 other networks. */
async function normalRequest(i: number, token: string): Promise<number> {
  return (await call(stack().world.ports.listener, '/orders', { token, xff: `10.${i % 40}.${i % 7}.${(i % 200) + 1}` })).status;
}

function firing(d: WebhookDelivery): boolean {
  return d.body.status === 'firing' && d.body.alerts.some((a) => a.labels.key === ATTACK_NET);
}

test('a credential-stuffing burst from one /24 fires, reaches the webhook through Alertmanager, and resolves', async () => {
  const { world, hook, promPort } = stack();
  const token = world.token({ roles: ['reader'] });
  // Steady normal traffic first: evaluated on all of it, nothing fires.
  await expectNothingFires(stack(), 'orders-stuffing', 60, async () => {
    for (let i = 0; i < 60; i++) expect(await normalRequest(i, token)).toBe(200);
  });

  // The attack: bad logins (no valid token) from 198.51.100.0/24, interleaved with normal traffic.
  const firstAnomalous = Date.now();
  let attackRequests = 0;
  const statuses = new Map<number, number>();
  for (let i = 0; i < 400 && !hook.deliveries.some(firing) && Date.now() - firstAnomalous < 20_000; i++) {
    const s = (await call(world.ports.listener, '/orders', { token: 'not-a-jwt', xff: `198.51.100.${(i % 50) + 1}` })).status;
    statuses.set(s, (statuses.get(s) ?? 0) + 1);
    attackRequests++;
    if (i % 2 === 0) expect(await normalRequest(i, token)).toBe(200);
    await new Promise((r) => setTimeout(r, 20));
  }
  expect([...statuses]).toEqual([[401, attackRequests]]);
  console.log(`credential stuffing: ${attackRequests} attack requests sent`);
  const { delivery, alert } = await firingWebhook(stack(), ATTACK_NET, firstAnomalous, 'credential stuffing');
  expect(alert?.labels).toEqual({
    alertname: 'PortcullisTrigger',
    trigger: 'orders-stuffing',
    environment: 'e2e',
    severity: 'critical',
    key_type: 'clientNetwork',
    key: ATTACK_NET,
    route: 'orders',
    incident: `orders-stuffing/e2e/${ATTACK_NET}`,
  });
  expect(delivery.body.groupKey).toContain(`incident="orders-stuffing/e2e/${ATTACK_NET}"`);
  expect(alert?.annotations.summary).toMatch(/^orders-stuffing: \d+ matching responses from network 198\.51\.100\.0\/24 on orders in 10s \(threshold 20\) in e2e$/);
  const lockdown = JSON.parse(alert?.annotations.lockdown ?? '{}') as Record<string, unknown>;
  expect(lockdown).toMatchObject({ reason: `Credential stuffing on orders from ${ATTACK_NET}`, owner: '@oncall', environments: ['e2e'], actions: [{ type: 'blockNetworks', cidrs: [ATTACK_NET], routes: ['orders'] }] });
  const evidence = JSON.parse(alert?.annotations.evidence ?? '{}') as { top: { key: string }[]; routes: { route: string }[] };
  expect(evidence.top[0]?.key).toBe(ATTACK_NET);
  expect(evidence.routes).toEqual([expect.objectContaining({ route: 'orders' })]);
  expect(hook.refused).toBe(0);

  // Prometheus scraped the bounded series: Envoy's own 401s, attributed to the route and to jwt_authn.
  const series = await waitFor('Prometheus to scrape the 401s', async () => {
    const r = await promQuery(promPort, 'portcullis_route_responses_total{environment="e2e",route="orders",code_class="4xx",cause="jwt"}');
    return r.length > 0 && (r[0]?.value ?? 0) >= 20 ? r : undefined;
  }, 15_000, 250);
  expect(series[0]?.metric.fleet).toBe('e2e-delta');

  // The attack has stopped: once the window has passed, the resolved notification arrives.
  const resolved = await waitFor('the resolved webhook', () => hook.deliveries.find((d) => d.body.status === 'resolved' && d.body.alerts.some((a) => a.labels.key === ATTACK_NET)), 40_000, 100);
  console.log(`resolved notification ${((resolved.receivedAt - delivery.receivedAt) / 1000).toFixed(1)} s after the firing one`);
  expect(resolved.body.alerts[0]?.endsAt).not.toBe('0001-01-01T00:00:00Z');
});
