/**
 * Token abuse with real processes (issue 9): one token subject far above the others on the orders
 * route (valid tokens, 200s) fires the per-token Trigger; the monitor posts to a real Alertmanager,
 * whose webhook names the subject and proposes revoking it; when the abuser stops (normal traffic
 * going on) the resolved notification arrives. Prints first anomalous request → webhook, in seconds.
 */
import { call } from '../support/e2e';
import { expectNothingFires, firingWebhook, useMonitorStack, TOKEN_ABUSE_TRIGGER } from '../support/monitor-stack';
import type { WebhookDelivery } from '../support/monitoring';
import { waitFor } from '../support/processes';

jest.setTimeout(120_000);

const ABUSER = 'svc-scraper-7';
const stack = useMonitorStack({ 'policies/triggers.yaml': TOKEN_ABUSE_TRIGGER }, 'e2e-monitor-token');

const about = (status: string) => (d: WebhookDelivery) => d.body.status === status && d.body.alerts.some((a) => a.labels.key === ABUSER);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('one sub far above the others fires the per-token trigger, the webhook names it, and it resolves', async () => {
  const { world, hook } = stack();
  const users = Array.from({ length: 20 }, (_, i) => world.token({ roles: ['reader'], sub: `user-${i}` }));
  const abuser = world.token({ roles: ['reader'], sub: ABUSER });
  const normal = async (i: number) => expect((await call(world.ports.listener, '/orders', { token: users[i % users.length], xff: `10.20.${i % 20}.${(i % 9) + 1}` })).status).toBe(200);

  // Normal traffic first: 20 subjects, 5 % each; evaluated on all of it, nothing fires.
  await expectNothingFires(stack(), 'orders-token-abuse', 100, async () => {
    for (let i = 0; i < 100; i++) await normal(i);
  });

  // The abuser: two requests for each normal one (≈ 67 % of the route's traffic), until the webhook.
  const firstAnomalous = Date.now();
  let sent = 0;
  for (let i = 0; i < 600 && !hook.deliveries.some(about('firing')) && Date.now() - firstAnomalous < 20_000; i++) {
    expect((await call(world.ports.listener, '/orders', { token: abuser, xff: '192.0.2.77' })).status).toBe(200);
    sent++;
    if (i % 2 === 0) await normal(i);
    await pause(10);
  }
  console.log(`token abuse: ${sent} abusive requests sent`);
  const { alert } = await firingWebhook(stack(), ABUSER, firstAnomalous, 'token abuse');
  expect(alert?.labels).toEqual({
    alertname: 'PortcullisTrigger',
    trigger: 'orders-token-abuse',
    environment: 'e2e',
    severity: 'warning',
    key_type: 'tokenSubject',
    key: ABUSER,
    route: 'orders',
    incident: `orders-token-abuse/e2e/${ABUSER}`,
  });
  expect(alert?.annotations.summary).toMatch(new RegExp(`^orders-token-abuse: [\\d.]+% of matching responses from subject ${ABUSER} on orders in 10s \\(threshold 40\\) in e2e$`));
  expect(Number(alert?.annotations.value)).toBeGreaterThan(40);
  const lockdown = JSON.parse(alert?.annotations.lockdown ?? '{}') as Record<string, unknown>;
  expect(lockdown).toMatchObject({ reason: `Token abuse on orders by ${ABUSER}`, environments: ['e2e'], actions: [{ type: 'revokeTokens', subjects: [ABUSER] }] });
  const evidence = JSON.parse(alert?.annotations.evidence ?? '{}') as { top: { key: string; share: number }[] };
  expect(evidence.top[0]?.key).toBe(ABUSER);
  expect(evidence.top[1]?.key).toMatch(/^user-\d+$/);
  expect(evidence.top[1]?.share).toBeLessThan(0.1);

  // The abuser stops; normal traffic goes on: the resolved notification arrives (bounded loop).
  const stoppedAt = Date.now();
  let resolved: WebhookDelivery | undefined;
  for (let i = 0; i < 2000 && !(resolved = hook.deliveries.find(about('resolved'))) && Date.now() - stoppedAt < 40_000; i++) {
    await normal(i);
    await pause(20);
  }
  resolved ??= await waitFor('the resolved webhook', () => hook.deliveries.find(about('resolved')), 10_000, 100);
  console.log(`token abuse: resolved notification ${((resolved.receivedAt - stoppedAt) / 1000).toFixed(1)} s after the abuser stopped`);
  expect(resolved.body.alerts.find((a) => a.labels.key === ABUSER)?.endsAt).not.toBe('0001-01-01T00:00:00Z');
  expect(hook.refused).toBe(0);
});
