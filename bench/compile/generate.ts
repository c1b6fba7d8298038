/**
 * Generates a large, realistic policy repository for the compile benchmark: `routes` routes spread
 * over files of 100, services, per-file rate limits and access rules, two environments.
 */
import { generateKeyPairSync } from 'node:crypto';

export interface GeneratedRepo {
  readonly files: { path: string; text: string }[];
  /** A route file and a changed version of it (one route's timeout), for the one-file-change run. */
  readonly change: { path: string; text: string };
}

const ROUTES_PER_FILE = 100;

export function generateRepository(routes: number, services = 50): GeneratedRepo {
  const files: { path: string; text: string }[] = [];
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' };
  files.push({
    path: 'environments.yaml',
    text: ['dev', 'prod']
      .map((env) => `apiVersion: portcullis.dev/v1\nkind: Environment\nmetadata: { name: ${env} }\nspec:\n  fleets: [edge-${env}]\n`)
      .join('---\n'),
  });
  const svc: string[] = [];
  for (let s = 0; s < services; s++) {
    svc.push(
      `apiVersion: portcullis.dev/v1\nkind: Service\nmetadata: { name: svc-${s} }\nspec:\n` +
        `  endpoints:\n    - { address: 10.0.${s % 250}.1, port: 8080, tier: 0 }\n    - { address: 10.1.${s % 250}.1, port: 8080, tier: 1 }\n` +
        `  healthCheck: { path: /healthz }\n  outlierDetection: {}\n`,
    );
  }
  files.push({ path: 'services.yaml', text: svc.join('---\n') });
  const fileCount = Math.ceil(routes / ROUTES_PER_FILE);
  const ruleDocs: string[] = [];
  for (let f = 0; f < fileCount; f++) {
    const docs: string[] = [];
    const names: string[] = [];
    for (let r = 0; r < ROUTES_PER_FILE && f * ROUTES_PER_FILE + r < routes; r++) {
      const name = `r-${f}-${r}`;
      names.push(name);
      docs.push(
        `apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: ${name} }\nspec:\n` +
          `  host: api-${f % 10}.example.com\n  path: { prefix: /f${f}/r${r}/ }\n  methods: [GET, POST]\n` +
          `  service: svc-${(f * ROUTES_PER_FILE + r) % services}\n  timeout: 5s\n`,
      );
    }
    docs.push(
      `apiVersion: portcullis.dev/v1\nkind: RateLimit\nmetadata: { name: limit-${f} }\nspec:\n` +
        `  routes: [${names.slice(0, 10).join(', ')}]\n  requests: 100\n  per: minute\n  key: { type: clientIp }\n`,
    );
    files.push({ path: `routes/file-${String(f).padStart(4, '0')}.yaml`, text: docs.join('---\n') });
    ruleDocs.push(`    - routes: [${names.join(', ')}]\n      methods: [GET]\n      roles: [reader, admin]\n`);
  }
  files.push({
    path: 'access.yaml',
    text:
      `apiVersion: portcullis.dev/v1\nkind: Access\nmetadata: { name: api }\nspec:\n  providers:\n` +
      `    - name: idp\n      issuer: https://idp.example.com\n      audiences: [api]\n` +
      `      jwks: { inline: '${JSON.stringify({ keys: [jwk] })}' }\n  rules:\n${ruleDocs.join('')}`,
  });
  const target = files.find((f) => f.path.startsWith('routes/'))!;
  return { files, change: { path: target.path, text: target.text.replace('timeout: 5s', 'timeout: 7s') } };
}

/**
 * An incident overlay for prod, active on 2026-11-27: a network blocked on every route, and
 * `revokedJtis` revoked. Editing the revocation list is the benchmark's "lockdown edit".
 */
export function lockdownFile(revokedJtis: readonly string[]): { path: string; text: string } {
  return {
    path: 'lockdowns/bench-incident.yaml',
    text:
      `apiVersion: portcullis.dev/v1\nkind: Lockdown\nmetadata: { name: bench-incident }\nspec:\n` +
      `  reason: Benchmark incident\n  owner: "@bench"\n  createdAt: 2026-11-26T00:00:00Z\n  expiresAt: 2026-11-28T00:00:00Z\n` +
      `  environments: [prod]\n  actions:\n    - type: blockNetworks\n      cidrs: [198.51.100.0/24]\n` +
      `    - type: revokeTokens\n      jtis: [${revokedJtis.join(', ')}]\n`,
  };
}
