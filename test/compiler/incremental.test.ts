/**
 * The incremental compiler: same IR as a full compile after any sequence of changes, and only
 * changed files parsed again.
 */
import { buildIR, compileSources, createIncrementalCompiler, type SourceFile } from '../../compiler';
import { formatDiagnostic } from '../../compiler/result';
import { generateRepo } from './generate-repo';
import { irToYaml } from './golden-support';

const NOW = new Date('2026-06-01T00:00:00Z');

function fullIR(files: readonly SourceFile[], now = NOW): string {
  const r = compileSources(files, now);
  if (!r.ok) throw new Error(r.errors.slice(0, 5).map(formatDiagnostic).join('\n'));
  return irToYaml(r.value);
}

function replaceFile(files: SourceFile[], path: string, edit: (text: string) => string): SourceFile[] {
  return files.map((f) => (f.path === path ? { path, text: edit(f.text) } : f));
}

const repo = generateRepo({ routes: 600, routesPerFile: 50, services: 10 });
const routeFile = repo.find((f) => f.path.endsWith('file-0002.yaml'))?.path ?? '';

test('the generated repository compiles', () => {
  expect(repo.length).toBeGreaterThan(10);
  expect(fullIR(repo)).toContain('name: route-599');
});

test('a first compile parses everything; the same set again parses nothing', () => {
  const c = createIncrementalCompiler();
  expect(c.replaceAll(repo)).toEqual({ parsed: repo.length, reused: 0, removed: 0 });
  const first = c.compile(NOW);
  expect(first.ok && irToYaml(first.value)).toBe(fullIR(repo));
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
  expect(irToYaml(r.value)).toBe(fullIR(changed));
  expect(irToYaml(r.value)).not.toBe(fullIR(repo));
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
  expect(fixed.ok && irToYaml(fixed.value)).toBe(fullIR(repo));
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
    [routeFile, (t) => t.replace('exact: /api/r100 ', 'exact: /api/r100/moved ')],
    ['policies/access.yaml', (t) => t.replace('deny: [{ cidr: 192.0.2.0/24 }]', 'deny: [{ cidr: 192.0.2.0/24 }, { cidr: 10.9.0.0/16, routes: [route-5] }]')],
    ['policies/rate-limits.yaml', (t) => t.replace('requests: 100', 'requests: 99')],
    ['policies/services.yaml', (t) => t.replace('port: 8080, tier: 1', 'port: 8081, tier: 1')],
    ['policies/environments.yaml', (t) => t.replace('limit-0: { requests: 1000 }', 'limit-0: { requests: 500 }')],
    ['policies/lockdowns.yaml', (t) => t.replace('routes: [route-1, route-2]', 'routes: [route-3]')],
    [routeFile, (t) => t.replace('host: api-0.example.com', 'host: "*"')],
  ];
  for (const [path, edit] of edits) {
    files = replaceFile(files, path, edit);
    c.compileFiles(files, NOW);
    const m = c.model();
    if (!m.ok) throw new Error(m.errors.map(formatDiagnostic).join('\n'));
    const incremental = c.compile(NOW);
    expect(incremental.ok && irToYaml(incremental.value)).toBe(irToYaml(buildIR(m.value, NOW)));
  }
  expect(fullIR(files)).toBe(irToYaml((c.compile(NOW) as { value: unknown }).value));
});

test('compiling the same set at another instant follows lockdown start and expiry', () => {
  const c = createIncrementalCompiler();
  c.compileFiles(repo, NOW);
  for (const at of ['2025-12-31T23:59:59Z', '2026-01-01T00:00:00Z', '2099-01-01T00:00:00Z']) {
    const r = c.compile(new Date(at));
    expect(r.ok && irToYaml(r.value)).toBe(fullIR(repo, new Date(at)));
  }
  const before = c.compile(new Date('2025-12-31T23:59:59Z'));
  const during = c.compile(NOW);
  if (!before.ok || !during.ok) throw new Error('does not compile');
  expect(before.value.nextChangeAt).toBe('2026-01-01T00:00:00.000Z');
  expect(during.value.environments.find((e) => e.name === 'prod')?.activeLockdowns.map((l) => l.name)).toEqual(['incident-1']);
  expect(before.value.environments.find((e) => e.name === 'prod')?.activeLockdowns).toEqual([]);
});
