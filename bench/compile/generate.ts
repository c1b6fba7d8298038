/**
 * Generates a large, valid policy repository in memory, for the compile benchmark (its defaults) and
 * the incremental-compiler test (mixed path kinds, public rules, a denied network, three
 * environments, a lockdown).
 */
import { generateKeyPairSync } from 'node:crypto';
import type { SourceFile } from '../../compiler';

export interface RepoShape {
  readonly routes: number;
  /** Routes per file under policies/routes/ (100). */
  readonly routesPerFile?: number;
  /** Services, each with two tiers, a health check and outlier detection (50). */
  readonly services?: number;
  /** Environment names, one fleet each (dev, prod). */
  readonly environments?: readonly string[];
  /** Ten hosts, assigned by file (the default: a one-file change touches one virtual host) or by route. */
  readonly hosts?: 'byFile' | 'byRoute';
  /** `prefix` (the default): every route matches a prefix; `mixed`: exact, prefix and regex in turn. */
  readonly paths?: 'prefix' | 'mixed';
  /** A rate limit starts every `every` routes and covers `size` of them (100, 10). */
  readonly rateLimits?: { readonly every: number; readonly size: number };
  /** Every other access rule (blocks of 100 routes) is public instead of needing a role (false). */
  readonly publicRules?: boolean;
  /** Every environment overrides the first rate limit, limit-0 (false). */
  readonly overrides?: boolean;
  /** A network denied on every route by the Access document (none). */
  readonly deniedNetwork?: string;
  /** An active lockdown in the last environment: blocks a network on two routes, tightens the second
   * rate limit, forces svc-1 to fail over (false). */
  readonly lockdown?: boolean;
}

export interface GeneratedRepo {
  readonly files: SourceFile[];
  /** The first route file with one route's timeout changed, for the one-file-change runs. */
  readonly change: SourceFile;
}

const doc = (kind: string, name: string, spec: string) => `apiVersion: portcullis.dev/v1\nkind: ${kind}\nmetadata: { name: ${name} }\nspec:\n${spec}`;

/** Names `route-0` … `route-{n-1}`; route r is in file f = ⌊r / routesPerFile⌋, on host api-{f % 10} (or api-{r % 10}), served by svc-{r % services}. */
export function generateRepository(shape: RepoShape): GeneratedRepo {
  const { routes, routesPerFile = 100, services = 50, environments = ['dev', 'prod'], paths = 'prefix' } = shape;
  const { every, size } = shape.rateLimits ?? { every: 100, size: 10 };
  const names = (from: number, count: number) => Array.from({ length: Math.min(count, routes - from) }, (_, i) => `route-${from + i}`).join(', ');
  const files: SourceFile[] = [];

  const svc: string[] = [];
  for (let s = 0; s < services; s++) {
    svc.push(
      doc(
        'Service',
        `svc-${s}`,
        `  endpoints:\n    - { address: 10.0.${s % 250}.10, port: 8080, tier: 0 }\n    - { address: 10.1.${s % 250}.10, port: 8080, tier: 1 }\n` +
          `  healthCheck: { path: /healthz }\n  outlierDetection: {}\n`,
      ),
    );
  }
  files.push({ path: 'policies/services.yaml', text: svc.join('---\n') });

  for (let f = 0; f * routesPerFile < routes; f++) {
    const docs: string[] = [];
    for (let r = f * routesPerFile; r < Math.min(routes, (f + 1) * routesPerFile); r++) {
      const kind = paths === 'mixed' ? r % 3 : 1;
      const path = kind === 0 ? `{ exact: /api/r${r} }` : kind === 1 ? `{ prefix: /api/r${r}/ }` : `{ regex: "^/api/r${r}/[0-9]+$" }`;
      const host = shape.hosts === 'byRoute' ? r % 10 : f % 10;
      docs.push(doc('Route', `route-${r}`, `  host: api-${host}.example.com\n  path: ${path}\n  methods: [GET, HEAD]\n  service: svc-${r % services}\n  timeout: 5s\n`));
    }
    files.push({ path: `policies/routes/file-${String(f).padStart(4, '0')}.yaml`, text: docs.join('---\n') });
  }

  const limits: string[] = [];
  for (let r = 0; r < routes; r += every) {
    limits.push(doc('RateLimit', `limit-${r}`, `  routes: [${names(r, size)}]\n  requests: 100\n  per: minute\n  key: { type: clientIp }\n`));
  }
  files.push({ path: 'policies/rate-limits.yaml', text: limits.join('---\n') });

  const rules: string[] = [];
  for (let r = 0; r < routes; r += 100) {
    const routesOf = `    - routes: [${names(r, 100)}]\n`;
    rules.push(shape.publicRules && r % 200 !== 0 ? `${routesOf}      public: true\n` : `${routesOf}      methods: [GET]\n      roles: [reader, admin]\n`);
  }
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'generated', alg: 'RS256', use: 'sig' };
  files.push({
    path: 'policies/access.yaml',
    text: doc(
      'Access',
      'access',
      `  providers:\n    - name: idp\n      issuer: https://idp.example.com\n      audiences: [api]\n      jwks: { inline: '${JSON.stringify({ keys: [jwk] })}' }\n` +
        `  rules:\n${rules.join('')}` +
        (shape.deniedNetwork ? `  networks:\n    deny: [{ cidr: ${shape.deniedNetwork} }]\n` : ''),
    ),
  });

  files.push({
    path: 'policies/environments.yaml',
    text: environments
      .map((e) => doc('Environment', e, `  fleets: [edge-${e}]\n${shape.overrides ? '  overrides:\n    rateLimits:\n      limit-0: { requests: 1000 }\n' : ''}`))
      .join('---\n'),
  });

  if (shape.lockdown) {
    files.push({
      path: 'policies/lockdowns.yaml',
      text: doc(
        'Lockdown',
        'incident-1',
        `  reason: test\n  owner: "@oncall"\n  createdAt: 2026-01-01T00:00:00Z\n  expiresAt: 2099-01-01T00:00:00Z\n  environments: [${environments[environments.length - 1]}]\n  actions:\n` +
          `    - { type: blockNetworks, cidrs: [203.0.113.0/24], routes: [route-1, route-2] }\n` +
          `    - { type: tightenRateLimit, rateLimit: limit-${every}, requests: 10 }\n` +
          `    - { type: forceFailover, service: svc-1, tier: 1 }\n`,
      ),
    });
  }

  const target = files.find((f) => f.path.startsWith('policies/routes/'))!;
  return { files, change: { path: target.path, text: target.text.replace('timeout: 5s', 'timeout: 7s') } };
}

/**
 * An incident overlay for prod, active on 2026-11-27: a network blocked on every route, and
 * `revokedJtis` revoked. Editing the revocation list is the benchmark's "lockdown edit".
 */
export function lockdownFile(revokedJtis: readonly string[]): SourceFile {
  return {
    path: 'policies/lockdowns/bench-incident.yaml',
    text: doc(
      'Lockdown',
      'bench-incident',
      `  reason: Benchmark incident\n  owner: "@bench"\n  createdAt: 2026-11-26T00:00:00Z\n  expiresAt: 2026-11-28T00:00:00Z\n` +
        `  environments: [prod]\n  actions:\n    - type: blockNetworks\n      cidrs: [198.51.100.0/24]\n` +
        `    - type: revokeTokens\n      jtis: [${revokedJtis.join(', ')}]\n`,
    ),
  };
}
