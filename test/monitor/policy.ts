/** The policy the monitor tests share: routes login and home in prod, and a per-/24 trigger on login's 401s (> 30 per minute). */
import { compileSources } from '../../compiler';
import type { PolicyIR } from '../../compiler/ir/ir';
import { formatDiagnostic } from '../../compiler/result';

export const T0 = Date.parse('2026-06-01T10:00:00Z');

export const POLICY = `apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: accounts }
spec: { endpoints: [{ address: 127.0.0.1, port: 9 }] }
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: login }
spec: { path: { exact: /login }, service: accounts }
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: home }
spec: { path: { prefix: / }, service: accounts }
---
apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: prod }
spec: { fleets: [edge-prod] }
---
apiVersion: portcullis.dev/v1
kind: Trigger
metadata: { name: login-stuffing }
spec:
  routes: [login]
  responses: { statuses: [401] }
  key: clientNetwork
  condition: { rate: { above: 30, per: minute } }
  severity: critical
  lockdown:
    duration: 1h
    owner: "@oncall"
    actions: [{ type: blockNetworks, cidrs: ["{{network}}"], routes: [login] }]
`;

export function policy(): PolicyIR {
  const r = compileSources([{ path: 'p.yaml', text: POLICY }], new Date(T0));
  if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
  return r.value;
}

