/**
 * The incremental compiler: same IR as a full compile after any sequence of changes, and only
 * changed files parsed again.
 */
import { isDeepStrictEqual } from 'node:util';
import { buildIR, compileSources, createIncrementalCompiler, type IncrementalCompiler, type SourceFile } from '../../compiler';
import type { EnvironmentIR, PolicyIR, RouteIR } from '../../compiler/ir/ir';
import { formatDiagnostic } from '../../compiler/result';
import { generateRepository } from '../../bench/compile/generate';
import { goldenYaml } from '../support/golden';

const NOW = new Date('2026-06-01T00:00:00Z');

function fullIR(files: readonly SourceFile[], now = NOW): PolicyIR {
  const r = compileSources(files, now);
  if (!r.ok) throw new Error(r.errors.slice(0, 5).map(formatDiagnostic).join('\n'));
  return r.value;
}

/**
 * The same IR, key order included: the same JSON text and deep strict equality. Both are cheap;
 * only when they disagree is the IR written as YAML, for a readable diff (writing 1,800 routes as
 * YAML for every comparison was most of this file's time).
 */
function expectSameIR(actual: unknown, expected: unknown): void {
  if (JSON.stringify(actual) === JSON.stringify(expected) && isDeepStrictEqual(actual, expected)) return;
  expect(goldenYaml(actual)).toBe(goldenYaml(expected));
  expect(actual).toStrictEqual(expected);
}

/** The compile's IR; a failed compile fails the test with its first diagnostics. */
function ok(r: ReturnType<typeof compileSources>): PolicyIR {
  if (!r.ok) throw new Error(r.errors.slice(0, 5).map(formatDiagnostic).join('\n'));
  return r.value;
}

function replaceFile(files: SourceFile[], path: string, edit: (text: string) => string): SourceFile[] {
  return files.map((f) => (f.path === path ? { path, text: edit(f.text) } : f));
}

const repo = generateRepository({
  routes: 600,
  routesPerFile: 50,
  services: 10,
  environments: ['dev', 'staging', 'prod'],
  hosts: 'byRoute',
  paths: 'mixed',
  rateLimits: { every: 50, size: 50 },
  publicRules: true,
  overrides: true,
  deniedNetwork: '192.0.2.0/24',
  lockdown: true,
}).files;
const routeFile = repo.find((f) => f.path.endsWith('file-0002.yaml'))?.path ?? '';

test('the generated repository compiles', () => {
  expect(repo.length).toBeGreaterThan(10);
  expect(fullIR(repo).environments.map((e) => e.routes.some((r) => r.name === 'route-599'))).toEqual([true, true, true]);
});

test('a first compile parses everything; the same set again parses nothing', () => {
  const c = createIncrementalCompiler();
  expect(c.replaceAll(repo)).toEqual({ parsed: repo.length, reused: 0, removed: 0 });
  const first = c.compile(NOW);
  expectSameIR(ok(first), fullIR(repo));
  expect(c.replaceAll(repo)).toEqual({ parsed: 0, reused: repo.length, removed: 0 });
  expect(c.paths()).toEqual(repo.map((f) => f.path).sort());
});

test('a one-file change re-parses that file only, and the IR equals a full compile', () => {
  const c = createIncrementalCompiler();
  c.compileFiles(repo, NOW);
  const changed = replaceFile(repo, routeFile, (t) => t.replace('timeout: 5s', 'timeout: 7s').replace('methods: [GET, HEAD]', 'methods: [POST]'));
  const stats = c.update([{ path: routeFile, text: changed.find((f) => f.path === routeFile)?.text ?? '' }]);
  expect(stats).toEqual({ parsed: 1, reused: repo.length - 1, removed: 0 });
  const r = c.compile(NOW);
  if (!r.ok) throw new Error('does not compile');
  expectSameIR(r.value, fullIR(changed));
  expect(JSON.stringify(r.value)).not.toBe(JSON.stringify(fullIR(repo)));
  expect(r.value.environments[0]?.routes.find((x) => x.name === 'route-100')?.timeoutMs).toBe(7000);
});

test('an error in one file is reported, and fixing it recovers', () => {
  const c = createIncrementalCompiler();
  c.compileFiles(repo, NOW);
  const broken = repo.find((f) => f.path === routeFile)?.text.replace('service: svc-', 'service: nope-') ?? '';
  c.update([{ path: routeFile, text: broken }]);
  const bad = c.compile(NOW);
  expect(bad.ok).toBe(false);
  if (!bad.ok) {
    expect(bad.errors[0]?.file).toBe(routeFile);
    expect(formatDiagnostic(bad.errors[0] ?? ({} as never))).toMatch(/^policies\/routes\/file-0002\.yaml:\d+:\d+ Route\/route-\d+ spec\.service: unknown Service "nope-\d+"/);
  }
  c.update([{ path: routeFile, text: repo.find((f) => f.path === routeFile)?.text ?? '' }]);
  const fixed = c.compile(NOW);
  expectSameIR(ok(fixed), fullIR(repo));
});

test('deleting a file drops its documents; references to them become errors', () => {
  const c = createIncrementalCompiler();
  c.compileFiles(repo, NOW);
  expect(c.update([{ path: routeFile, text: null }])).toEqual({ parsed: 0, reused: repo.length - 1, removed: 1 });
  const r = c.compile(NOW);
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.errors.every((e) => /unknown Route "route-1\d\d"/.test(e.message))).toBe(true);
  expect(c.paths()).not.toContain(routeFile);
});

test('replaceAll drops files that are not listed', () => {
  const c = createIncrementalCompiler();
  c.compileFiles(repo, NOW);
  const extra: SourceFile = { path: 'policies/extra.yaml', text: 'apiVersion: portcullis.dev/v1\nkind: Service\nmetadata: { name: extra }\nspec:\n  endpoints: [{ address: 127.0.0.1, port: 1 }]\n' };
  expect(c.replaceAll([...repo, extra]).parsed).toBe(1);
  expect(c.replaceAll(repo)).toEqual({ parsed: 0, reused: repo.length, removed: 1 });
});

test('many successive edits with the IR memo give exactly what a fresh build gives', () => {
  const c = createIncrementalCompiler();
  let files = repo;
  c.compileFiles(files, NOW);
  const edits: [string, (t: string) => string][] = [
    [routeFile, (t) => t.replace('exact: /api/r102 ', 'exact: /api/r102/moved ')],
    ['policies/access.yaml', (t) => t.replace('deny: [{ cidr: 192.0.2.0/24 }]', 'deny: [{ cidr: 192.0.2.0/24 }, { cidr: 10.9.0.0/16, routes: [route-5] }]')],
    ['policies/rate-limits.yaml', (t) => t.replace('requests: 100', 'requests: 99')],
    ['policies/services.yaml', (t) => t.replace('port: 8080, tier: 1', 'port: 8081, tier: 1')],
    ['policies/environments.yaml', (t) => t.replace('limit-0: { requests: 1000 }', 'limit-0: { requests: 500 }')],
    ['policies/lockdowns.yaml', (t) => t.replace('routes: [route-1, route-2]', 'routes: [route-3]')],
    [routeFile, (t) => t.replace('host: api-0.example.com', 'host: "*"')],
  ];
  for (const [path, edit] of edits) {
    const before = files.find((f) => f.path === path)?.text;
    files = replaceFile(files, path, edit);
    // Every edit must really change its file, or this test would compare nothing new.
    expect(files.find((f) => f.path === path)?.text).not.toBe(before);
    c.compileFiles(files, NOW);
    const m = c.model();
    if (!m.ok) throw new Error(m.errors.map(formatDiagnostic).join('\n'));
    const incremental = c.compile(NOW);
    expectSameIR(ok(incremental), buildIR(m.value, NOW));
  }
  expectSameIR(ok(c.compile(NOW)), fullIR(files));
});

test('compiling the same set at another instant follows lockdown start and expiry', () => {
  const c = createIncrementalCompiler();
  c.compileFiles(repo, NOW);
  for (const at of ['2025-12-31T23:59:59Z', '2026-01-01T00:00:00Z', '2099-01-01T00:00:00Z']) {
    const r = c.compile(new Date(at));
    expectSameIR(ok(r), fullIR(repo, new Date(at)));
  }
  const before = c.compile(new Date('2025-12-31T23:59:59Z'));
  const during = c.compile(NOW);
  if (!before.ok || !during.ok) throw new Error('does not compile');
  expect(before.value.nextChangeAt).toBe('2026-01-01T00:00:00.000Z');
  expect(during.value.environments.find((e) => e.name === 'prod')?.activeLockdowns.map((l) => l.name)).toEqual(['incident-1']);
  expect(before.value.environments.find((e) => e.name === 'prod')?.activeLockdowns).toEqual([]);
});

// ---------------------------------------------------------------------------------------------
// Lockdowns: the IR builder keeps the objects of overlaid routes, so the translator's identity memos
// keep hitting; the IR must still be exactly what a cold build gives.

/** A lockdown active at NOW in staging and prod: a network blocked on every route, and every other route action. */
function incidentFile(extraActions = '', cidr = '198.51.100.0/24'): SourceFile {
  return {
    path: 'policies/incident-2.yaml',
    text:
      'apiVersion: portcullis.dev/v1\nkind: Lockdown\nmetadata: { name: incident-2 }\nspec:\n' +
      '  reason: test\n  owner: "@oncall"\n  createdAt: 2026-05-01T00:00:00Z\n  expiresAt: 2026-07-01T00:00:00Z\n' +
      '  environments: [staging, prod]\n  actions:\n' +
      `    - { type: blockNetworks, cidrs: [${cidr}] }\n` +
      '    - { type: requireRole, routes: [route-100, route-300], roles: [admin] }\n' +
      '    - { type: disableRoute, route: route-7 }\n' +
      '    - { type: tightenRateLimit, rateLimit: limit-100, requests: 5 }\n' +
      '    - { type: quarantineEndpoint, service: svc-2, address: 10.0.2.10, port: 8080 }\n' +
      '    - { type: forceFailover, service: svc-3, tier: 1 }\n' +
      extraActions,
  };
}

function environment(ir: PolicyIR, name: string): EnvironmentIR {
  const env = ir.environments.find((e) => e.name === name);
  if (!env) throw new Error(`no environment ${name}`);
  return env;
}

function route(env: EnvironmentIR, name: string): RouteIR {
  const r = env.routes.find((x) => x.name === name);
  if (!r) throw new Error(`no route ${name}`);
  return r;
}

/** Compiles with the incremental compiler, and checks the IR deep-equals a build of the same model with no memo. */
function compileChecked(c: IncrementalCompiler, files: readonly SourceFile[], now = NOW): PolicyIR {
  const r = c.compileFiles(files, now);
  const m = c.model();
  if (!r.ok || !m.ok) throw new Error(m.ok ? 'does not compile' : m.errors.slice(0, 5).map(formatDiagnostic).join('\n'));
  expectSameIR(r.value, buildIR(m.value, now));
  return r.value;
}

const withIncident = [...repo, incidentFile()];
const FILE_0002 = new Set(Array.from({ length: 50 }, (_, i) => `route-${100 + i}`));

test('under a lockdown on every route, a one-file change gives the cold IR and keeps every other overlaid object', () => {
  const c = createIncrementalCompiler();
  const before = compileChecked(c, withIncident);
  const prodBefore = environment(before, 'prod');
  // The overlay is applied: every prod route denies the blocked network; dev is untouched.
  expect(prodBefore.routes.every((r) => r.access.deniedNetworks.some((n) => n.cidr === '198.51.100.0/24'))).toBe(true);
  expect(route(environment(before, 'dev'), 'route-5').access.deniedNetworks.map((n) => n.cidr)).toEqual(['192.0.2.0/24']);

  const changed = replaceFile(withIncident, routeFile, (t) => t.replace('timeout: 5s', 'timeout: 7s'));
  const after = compileChecked(c, changed);
  for (const name of ['staging', 'prod']) {
    const was = environment(before, name);
    const now = environment(after, name);
    expect(now.routes).toHaveLength(600);
    for (const r of now.routes) {
      const old = route(was, r.name);
      // Routes of the edited file are parsed again (new documents); every other route is the same object.
      if (FILE_0002.has(r.name)) expect(r).not.toBe(old);
      else {
        expect(r).toBe(old);
        expect(r.access).toBe(old.access);
      }
    }
    expect(route(now, 'route-100').timeoutMs).toBe(7000);
    // Overlaid accesses are shared by routes with the same base access and overlay, across compiles too.
    expect(route(now, 'route-101').access).toBe(route(was, 'route-150').access);
    expect(route(now, 'route-101').access).not.toBe(route(environment(after, 'dev'), 'route-101').access);
    // Services changed by quarantine or forced failover, and tightened rate limits, keep their objects.
    for (const s of ['svc-2', 'svc-3']) expect(now.services.find((x) => x.name === s)).toBe(was.services.find((x) => x.name === s));
    expect(route(now, 'route-100').rateLimits.find((l) => l.name === 'limit-100')).toBe(route(was, 'route-100').rateLimits.find((l) => l.name === 'limit-100'));
    expect(route(now, 'route-100').rateLimits.find((l) => l.name === 'limit-100')?.requests).toBe(5);
  }
  expectSameIR(after, fullIR(changed));
  // Recompiling the same files keeps the environment's route list itself.
  const again = compileChecked(c, changed);
  expect(environment(again, 'prod').routes).toBe(environment(after, 'prod').routes);
});

test('editing the lockdown gives the cold IR: an edit that leaves the routes alone keeps them, one that changes them replaces them', () => {
  const c = createIncrementalCompiler();
  const first = compileChecked(c, withIncident);
  const prod = () => environment(first, 'prod');

  // One more revoked token: only the environment's revoked tokens change.
  const revoked = compileChecked(c, [...repo, incidentFile('    - { type: revokeTokens, jtis: [jti-1] }\n')]);
  expect(environment(revoked, 'prod').revokedTokens.jtis).toContain('jti-1');
  expect(environment(revoked, 'prod').routes).toBe(prod().routes);

  // Another route disabled: that route changes, the others keep their objects (their overlay did not change).
  const disabled = compileChecked(c, [...repo, incidentFile('    - { type: disableRoute, route: route-8, status: 429 }\n')]);
  expect(route(environment(disabled, 'prod'), 'route-8').disabled?.status).toBe(429);
  expect(route(environment(disabled, 'prod'), 'route-8')).not.toBe(route(prod(), 'route-8'));
  expect(route(environment(disabled, 'prod'), 'route-9')).toBe(route(prod(), 'route-9'));
  expect(route(environment(disabled, 'prod'), 'route-7')).toBe(route(prod(), 'route-7'));

  // Another blocked network: every route of the lockdown's environments changes.
  const moved = compileChecked(c, [...repo, incidentFile('', '198.51.100.0/25')]);
  const r9 = route(environment(moved, 'prod'), 'route-9');
  expect(r9).not.toBe(route(prod(), 'route-9'));
  expect(r9.access.deniedNetworks.map((n) => n.cidr)).toEqual(['192.0.2.0/24', '198.51.100.0/25']);

  // Lifted, then back: both equal a cold build.
  const lifted = compileChecked(c, repo);
  expect(route(environment(lifted, 'prod'), 'route-9').access.deniedNetworks.map((n) => n.cidr)).toEqual(['192.0.2.0/24']);
  const back = compileChecked(c, withIncident);
  expect(route(environment(back, 'prod'), 'route-9').access.deniedNetworks.map((n) => n.cidr)).toEqual(['192.0.2.0/24', '198.51.100.0/24']);
});

test('a role required on a public route picks up providers added to Access while the lockdown stays', () => {
  const c = createIncrementalCompiler();
  const first = compileChecked(c, withIncident);
  expect(route(environment(first, 'prod'), 'route-300').access.providers).toEqual(['idp']);
  const twoProviders = replaceFile(withIncident, 'policies/access.yaml', (t) =>
    t.replace('  rules:\n', '    - name: idp2\n      issuer: https://idp2.example.com\n      audiences: [api]\n      jwks: { uri: https://idp2.example.com/jwks.json }\n  rules:\n'),
  );
  const second = compileChecked(c, twoProviders);
  const r300 = route(environment(second, 'prod'), 'route-300');
  expect(r300.access).toMatchObject({ authentication: 'jwt', providers: ['idp', 'idp2'], rules: [{ roles: ['admin'], provenance: 'Lockdown/incident-2' }] });
  // The route's own (public) access did not change, so dev keeps its object.
  expect(route(environment(second, 'dev'), 'route-300')).toBe(route(environment(first, 'dev'), 'route-300'));
});

test('successive edits and instants under lockdowns, warm, give exactly the cold IR', () => {
  const c = createIncrementalCompiler();
  let files = withIncident;
  compileChecked(c, files);
  const edits: [string, (t: string) => string][] = [
    [routeFile, (t) => t.replace('exact: /api/r102 ', 'exact: /api/r102/moved ')],
    ['policies/rate-limits.yaml', (t) => t.replace('requests: 100', 'requests: 99')],
    ['policies/incident-2.yaml', (t) => t.replace('requests: 5 }', 'requests: 4, per: hour }')],
    ['policies/incident-2.yaml', (t) => t.replace('per: hour }', 'per: minute }')],
    ['policies/environments.yaml', (t) => t.replaceAll('limit-0: { requests: 1000 }', 'limit-0: { requests: 500 }\n    services:\n      svc-2: { endpoints: [{ address: 10.0.2.10, port: 8080 }, { address: 10.9.9.9, port: 8080 }] }')],
    ['policies/access.yaml', (t) => t.replace('deny: [{ cidr: 192.0.2.0/24 }]', 'deny: [{ cidr: 192.0.2.0/24 }, { cidr: 10.9.0.0/16, routes: [route-5] }]')],
    ['policies/incident-2.yaml', (t) => t.replace('routes: [route-100, route-300]', 'routes: [route-5]')],
    // A route added: the environment's route list changes length and order.
    [routeFile, (t) => `${t}---\napiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: route-new }\nspec:\n  host: api-0.example.com\n  path: { prefix: /api/new/ }\n  service: svc-0\n`],
  ];
  for (const [path, edit] of edits) {
    const before = files.find((f) => f.path === path)?.text;
    files = replaceFile(files, path, edit);
    // Every edit must really change its file, or this test would compare nothing new.
    expect(files.find((f) => f.path === path)?.text).not.toBe(before);
    compileChecked(c, files);
  }
  for (const at of ['2026-04-30T00:00:00Z', '2026-07-01T00:00:00Z', '2026-06-02T00:00:00Z', '2026-05-01T00:00:00Z']) compileChecked(c, files, new Date(at));
  const last = compileChecked(c, files);
  expect(route(environment(last, 'prod'), 'route-new').access.deniedNetworks.map((n) => n.cidr)).toContain('198.51.100.0/24');
  expect(environment(last, 'prod').services.find((s) => s.name === 'svc-2')?.endpoints.map((e) => e.address)).toEqual(['10.9.9.9']);
});
