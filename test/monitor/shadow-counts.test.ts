/**
 * The monitor's shadow figures (monitor/shadow-counts.ts) from access-log entries carrying the RBAC
 * shadow result: exact requests and clients per overlay, by status and route, token use, the
 * unaffected requests; nothing counted before the overlay was served or after it ended.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { accessEntry } from '../../bench/monitor/als-encode';
import { compileSources } from '../../compiler';
import type { PolicyIR } from '../../compiler/ir/ir';
import { createMonitor } from '../../monitor/monitor';
import { POLICY as policyText, T0 } from './policy';

function compiled(shadow: boolean): PolicyIR {
  const files = [{ path: 'p.yaml', text: policyText }];
  const overlay = { path: 'shadow/stuffing.yaml', text: SHADOW };
  const r = compileSources(shadow ? [...files, overlay] : files, new Date(T0), shadow ? new Map([['stuffing', 'prod']]) : undefined);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}

const SHADOW = `apiVersion: portcullis.dev/v1
kind: Lockdown
metadata: { name: stuffing }
spec:
  reason: test
  owner: "@oncall"
  createdAt: 2026-06-01T10:00:00Z
  expiresAt: 2026-06-01T11:00:00Z
  environments: [prod]
  actions: [{ type: blockNetworks, cidrs: [198.51.100.0/24], routes: [login] }]
`;

test('per overlay: requests, distinct clients, statuses, routes, token use and the unaffected ones', () => {
  let clock = T0 + 1000;
  const monitor = createMonitor({ registry: new Registry(), logger: pino({ level: 'silent' }), alertmanager: null, prometheusUrl: null, now: () => clock });
  monitor.setPolicy(compiled(true));
  const env = monitor.environment('prod')!;
  const start = clock;
  const blocked = (i: number) => accessEntry({ startMs: start + 10, route: 'login', status: i % 3 ? 200 : 401, clientIp: `198.51.100.${1 + (i % 4)}`, sub: i % 2 ? 'u' : '', shadowPolicy: 'shadow stuffing' });
  monitor.ingest('edge-prod', 'portcullis/prod', [
    ...Array.from({ length: 12 }, (_, i) => blocked(i)),
    ...Array.from({ length: 7 }, (_, i) => accessEntry({ startMs: start + 20, route: 'home', clientIp: `10.0.0.${i}` })),
    // Before the overlay was served: not counted at all.
    accessEntry({ startMs: start - 5000, route: 'login', clientIp: '198.51.100.9', shadowPolicy: 'shadow stuffing' }),
    // Another overlay's result is not this one's.
    accessEntry({ startMs: start + 30, route: 'login', clientIp: '198.51.100.9', shadowPolicy: 'shadow other' }),
  ]);
  clock += 2000;
  const f = env.shadows.figures('stuffing', 300_000, clock)!;
  expect(f).toMatchObject({
    overlay: 'stuffing',
    active: true,
    notShadowed: [],
    wouldBlock: { requests: 12, clients: 4, byStatus: { '200': 8, '401': 4 }, withValidToken: { requests: 6, clients: 2 }, byRoute: [{ route: 'login', requests: 12 }] },
    unaffected: { requests: 8 },
  });

  // Ended (the policy without it): later entries are not counted, the last figures stay readable.
  monitor.setPolicy(compiled(false));
  monitor.ingest('edge-prod', 'portcullis/prod', [blocked(0), blocked(1)]);
  const after = monitor.environment('prod')!.shadows.figures('stuffing', 300_000, clock)!;
  expect(after.active).toBe(false);
  expect(after.endedAt).toBe(new Date(clock).toISOString());
  expect(after.wouldBlock.requests).toBe(12);
  expect(after.unaffected.requests).toBe(8);
});
