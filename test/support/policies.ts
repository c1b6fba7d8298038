/**
 * Test harness: the policy repository the end-to-end tests commit to, written in the policy language
 * (docs/policy-language.md) with the ports and keys of one test run filled in.
 */

export interface E2ePorts {
  /** Listener of environment `e2e` (fleet e2e-delta). */
  readonly listener: number;
  /** Listener of environment `e2e-sotw` (fleet e2e-sotw). */
  readonly sotwListener: number;
  readonly catalog: number;
  readonly accounts0: number;
  readonly accounts1: number;
  readonly orders0: number;
  readonly orders1: number;
}

export const ISSUER = 'https://idp.e2e.test';
export const AUDIENCE = 'api.e2e.test';
export const REVOKED_JTI = 'revoked-jti-0001';
export const DENIED_CIDR = '203.0.113.0/24';

/** Services, routes, access and two environments; lockdowns are separate files (`lockdownFile`). */
export function basePolicies(ports: E2ePorts, jwks: string): Record<string, string> {
  return {
    'policies/services.yaml': `apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: catalog }
spec:
  endpoints:
    - { address: 127.0.0.1, port: ${ports.catalog} }
---
apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: accounts }
spec:
  endpoints:
    - { address: 127.0.0.1, port: ${ports.accounts0}, tier: 0 }
    - { address: 127.0.0.1, port: ${ports.accounts1}, tier: 1 }
  healthCheck:
    path: /healthz
    interval: 200ms
    timeout: 150ms
    healthyThreshold: 1
    unhealthyThreshold: 1
---
apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: orders }
spec:
  endpoints:
    - { address: 127.0.0.1, port: ${ports.orders0} }
    - { address: 127.0.0.1, port: ${ports.orders1} }
`,
    'policies/routes.yaml': `apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: catalog }
spec:
  path: { prefix: /catalog }
  service: catalog
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: limited }
spec:
  path: { prefix: /limited }
  service: catalog
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: shadowed }
spec:
  path: { prefix: /shadowed }
  service: catalog
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: accounts }
spec:
  path: { prefix: /accounts }
  service: accounts
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: orders }
spec:
  path: { prefix: /orders }
  service: orders
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: export }
spec:
  path: { prefix: /export }
  service: orders
`,
    'policies/limits.yaml': `apiVersion: portcullis.dev/v1
kind: RateLimit
metadata: { name: limited-per-ip }
spec:
  routes: [limited]
  requests: 3
  per: minute
  key: { type: clientIp }
---
apiVersion: portcullis.dev/v1
kind: RateLimit
metadata: { name: shadowed-per-ip }
spec:
  routes: [shadowed]
  requests: 1
  per: minute
  key: { type: clientIp }
  mode: shadow
`,
    'policies/access.yaml': `apiVersion: portcullis.dev/v1
kind: Access
metadata: { name: api-access }
spec:
  providers:
    - name: e2e-idp
      issuer: ${ISSUER}
      audiences: [${AUDIENCE}]
      jwks: { inline: '${jwks}' }
  rules:
    - routes: [orders, export]
      roles: [reader, admin]
    - routes: [catalog, limited, shadowed, accounts]
      public: true
  networks:
    deny: [{ cidr: ${DENIED_CIDR} }]
  revoked:
    jtis: [${REVOKED_JTI}]
`,
    'policies/environments.yaml': `apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: e2e }
spec:
  fleets: [e2e-delta]
  listener: { address: 127.0.0.1, port: ${ports.listener}, xffNumTrustedHops: 1 }
---
apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: e2e-sotw }
spec:
  fleets: [e2e-sotw]
  listener: { address: 127.0.0.1, port: ${ports.sotwListener}, xffNumTrustedHops: 1 }
`,
  };
}

export type LockdownAction = Record<string, unknown> & { readonly type: string };

/** A Lockdown document active from 2020 until 2099 (or until `expiresAt`), in both environments. */
export function lockdownFile(name: string, actions: readonly LockdownAction[], expiresAt = '2099-01-01T00:00:00Z', createdAt = '2020-01-01T00:00:00Z'): string {
  const yamlActions = actions.map((a) => `    - ${JSON.stringify(a)}`).join('\n');
  return `apiVersion: portcullis.dev/v1
kind: Lockdown
metadata: { name: ${name} }
spec:
  reason: end-to-end test
  owner: "@e2e"
  createdAt: ${createdAt}
  expiresAt: ${expiresAt}
  environments: [e2e, e2e-sotw]
  actions:
${yamlActions}
`;
}
