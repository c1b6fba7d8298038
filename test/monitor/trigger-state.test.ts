/** Trigger evaluation without processes: share per token, baseline with warm-up, `for`, resolution. */
import { compileSources } from '../../compiler';
import type { TriggerIR } from '../../compiler/ir/ir';
import { TriggerState, type EntryKeys } from '../../monitor/trigger-state';
import { compiledOrThrow } from '../support/policy-fixtures';

const T0 = Date.parse('2026-06-01T10:00:00Z');

function trigger(spec: string, action = '{ type: revokeTokens, subjects: ["{{sub}}"] }'): TriggerIR {
  const text = `apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: s }
spec: { endpoints: [{ address: 10.0.0.1, port: 80 }] }
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: orders }
spec: { path: { prefix: /orders }, service: s }
---
apiVersion: portcullis.dev/v1
kind: Access
metadata: { name: a }
spec:
  providers: [{ name: idp, issuer: https://idp, audiences: [api], jwks: { uri: https://idp/jwks } }]
  rules: [{ routes: [orders] }]
---
apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: prod }
spec: { fleets: [f] }
---
apiVersion: portcullis.dev/v1
kind: Trigger
metadata: { name: t }
spec:
${spec}
  lockdown: { duration: 1h, owner: me, actions: [${action}] }
`;
  return compiledOrThrow(compileSources([{ path: 't.yaml', text }], new Date(T0))).environments[0]?.triggers[0] as TriggerIR;
}

const keys = (sub: string): EntryKeys => ({ clientNetwork: '10.0.0.0/24', clientIp: '10.0.0.1', tokenSubject: sub, tokenId: '' });

test('share: one subject above 40 % of at least 200 requests fires; a busy but fair spread does not', () => {
  const s = new TriggerState(trigger('  routes: [orders]\n  key: tokenSubject\n  condition: { share: { above: 40, minRequests: 200, window: 5m } }'), 'prod', T0);
  // A legitimate spike: 300 requests spread over 10 subjects (10 % each).
  for (let i = 0; i < 300; i++) s.add(T0 + i, T0 + 1000, 'orders', 200, '2xx', 'upstream', keys(`user-${i % 10}`));
  expect(s.evaluate(T0 + 1000).firing).toEqual([]);
  // One subject sends 300 more: 300 / 600 = 50 %.
  for (let i = 0; i < 300; i++) s.add(T0 + 2000, T0 + 2000, 'orders', 200, '2xx', 'upstream', keys('leaked'));
  const r = s.evaluate(T0 + 2000);
  expect(r.firing.map((a) => [a.key, a.value, a.threshold])).toEqual([['leaked', 50, 40]]);
  // Requests without a token are not counted for a token key.
  s.add(T0 + 2000, T0 + 2000, 'orders', 401, '4xx', 'jwt', keys(''));
  expect(s.evaluate(T0 + 2000).firing[0]?.evidence.matched).toBe(600);
  // Five minutes later the window is empty: resolved.
  const later = s.evaluate(T0 + 2000 + 301_000);
  expect(later.firing).toEqual([]);
  expect(later.resolved.map((a) => a.key)).toEqual(['leaked']);
});

test('baseline: only the floor during warm-up; afterwards a multiple of the learned rate; `for` delays firing', () => {
  const s = new TriggerState(trigger('  condition: { baseline: { multiple: 3, minRate: { above: 10, window: 10s }, warmUp: 1m, window: 10s } }\n  for: 2s', '{ type: disableRoute, route: orders }'), 'prod', T0);
  const burst = (at: number, n: number) => {
    for (let i = 0; i < n; i++) s.add(at - 500, at, 'orders', 200, '2xx', 'upstream', keys('u'));
  };
  // Warm-up: 15 in 10 s is above the floor of 10: pending at once, firing after `for`.
  burst(T0 + 1000, 15);
  expect(s.evaluate(T0 + 1000).firing).toEqual([]);
  const warm = s.evaluate(T0 + 3000);
  expect(warm.firing.map((a) => [a.value, a.threshold, a.evidence.warmingUp])).toEqual([[15, 10, true]]);
  // Steady 20 per 10 s for two minutes: the baseline learns ~20 (it does not learn while firing).
  let t = T0 + 20_000;
  for (; t < T0 + 140_000; t += 1000) {
    burst(t, 2);
    s.evaluate(t);
  }
  const steady = s.evaluate(t);
  expect(steady.firing).toEqual([]);
  expect(steady.baseline).toBeGreaterThan(15);
  expect(steady.threshold).toBeGreaterThan(45);
  // 100 in the window: above 3 × baseline.
  burst(t + 1000, 100);
  s.evaluate(t + 1000);
  const fired = s.evaluate(t + 3500);
  expect(fired.firing).toHaveLength(1);
  expect(fired.firing[0]?.evidence.warmingUp).toBe(false);
});
