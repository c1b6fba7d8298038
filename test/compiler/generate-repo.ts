/**
 * Generates a large, valid policy repository in memory (services, routes spread over files, rate
 * limits, access rules, three environments, lockdowns) for the incremental-compiler test and the
 * compile benchmark.
 */
import type { SourceFile } from '../../compiler';

export interface RepoShape {
  readonly routes: number;
  readonly routesPerFile: number;
  readonly services: number;
}

export function generateRepo(shape: RepoShape): SourceFile[] {
  const files: SourceFile[] = [];
  const doc = (kind: string, name: string, spec: string) => `apiVersion: portcullis.dev/v1\nkind: ${kind}\nmetadata: { name: ${name} }\nspec:\n${spec}`;
  const services: string[] = [];
  for (let s = 0; s < shape.services; s++) {
    services.push(
      doc('Service', `svc-${s}`, `  endpoints:\n    - { address: 10.0.${s % 250}.10, port: 8080, tier: 0 }\n    - { address: 10.1.${s % 250}.10, port: 8080, tier: 1 }\n  healthCheck: { path: /healthz }\n`),
    );
  }
  files.push({ path: 'policies/services.yaml', text: services.join('---\n') });
  const fileCount = Math.ceil(shape.routes / shape.routesPerFile);
  for (let f = 0; f < fileCount; f++) {
    const docs: string[] = [];
    for (let r = f * shape.routesPerFile; r < Math.min(shape.routes, (f + 1) * shape.routesPerFile); r++) {
      const path = r % 3 === 0 ? `{ exact: /api/r${r} }` : r % 3 === 1 ? `{ prefix: /api/r${r}/ }` : `{ regex: "^/api/r${r}/[0-9]+$" }`;
      docs.push(doc('Route', `route-${r}`, `  host: api-${r % 7}.example.com\n  path: ${path}\n  methods: [GET, HEAD]\n  service: svc-${r % shape.services}\n  timeout: 5s\n`));
    }
    files.push({ path: `policies/routes/file-${String(f).padStart(4, '0')}.yaml`, text: docs.join('---\n') });
  }
  const limits: string[] = [];
  for (let r = 0; r < shape.routes; r += 50) {
    const routes = Array.from({ length: Math.min(50, shape.routes - r) }, (_, i) => `route-${r + i}`).join(', ');
    limits.push(doc('RateLimit', `limit-${r}`, `  routes: [${routes}]\n  requests: 100\n  per: minute\n  key: { type: clientIp }\n`));
  }
  files.push({ path: 'policies/rate-limits.yaml', text: limits.join('---\n') });
  const rules: string[] = [];
  for (let r = 0; r < shape.routes; r += 100) {
    const routes = Array.from({ length: Math.min(100, shape.routes - r) }, (_, i) => `route-${r + i}`).join(', ');
    rules.push(r % 200 === 0 ? `    - routes: [${routes}]\n      roles: [reader]\n` : `    - routes: [${routes}]\n      public: true\n`);
  }
  files.push({
    path: 'policies/access.yaml',
    text: doc(
      'Access',
      'access',
      `  providers:\n    - name: idp\n      issuer: https://idp.example.com\n      audiences: [api]\n      jwks: { uri: https://idp.example.com/jwks.json }\n  rules:\n${rules.join('')}  networks:\n    deny: [{ cidr: 192.0.2.0/24 }]\n`,
    ),
  });
  files.push({
    path: 'policies/environments.yaml',
    text: ['dev', 'staging', 'prod']
      .map((e) => doc('Environment', e, `  fleets: [edge-${e}]\n  overrides:\n    rateLimits:\n      limit-0: { requests: 1000 }\n`))
      .join('---\n'),
  });
  files.push({
    path: 'policies/lockdowns.yaml',
    text: doc(
      'Lockdown',
      'incident-1',
      `  reason: test\n  owner: "@oncall"\n  createdAt: 2026-01-01T00:00:00Z\n  expiresAt: 2099-01-01T00:00:00Z\n  environments: [prod]\n  actions:\n    - { type: blockNetworks, cidrs: [203.0.113.0/24], routes: [route-1, route-2] }\n    - { type: tightenRateLimit, rateLimit: limit-50, requests: 10 }\n    - { type: forceFailover, service: svc-1, tier: 1 }\n`,
    ),
  });
  return files;
}
