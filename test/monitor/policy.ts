/** The policy the monitor tests share: routes login and home in prod, and a per-/24 trigger on login's 401s (> 30 per minute). */
import { compileSources } from '../../compiler';
import type { PolicyIR } from '../../compiler/ir/ir';
import { compiledOrThrow, stuffingTrigger } from '../support/policy-fixtures';

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
${stuffingTrigger({ name: 'login-stuffing', route: 'login', rate: '{ above: 30, per: minute }', reason: false })}`;

export function policy(): PolicyIR {
  return compiledOrThrow(compileSources([{ path: 'p.yaml', text: POLICY }], new Date(T0)));
}

