/**
 * Issue 7 item 16: the shipped Prometheus rules pass `promtool check rules` and their unit tests
 * (`promtool test rules`), and every metric the rules and the Grafana dashboard use is one a real
 * control server exports (so a rename breaks this test, not an on-call night).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createPolicyWorld, startServerInProcess, type PolicyWorld } from '../support/e2e';

jest.setTimeout(60_000);

const DEPLOY = path.resolve(__dirname, '..', '..', 'deploy');
const RULES = path.join(DEPLOY, 'prometheus', 'portcullis-rules.yaml');
const DASHBOARD = path.join(DEPLOY, 'grafana', 'portcullis-control-plane.json');

function promtool(...args: string[]): string {
  // A missing promtool fails here (ENOENT): `bash scripts/setup.sh` installs it (Debian `prometheus`).
  return execFileSync('promtool', args, { cwd: path.join(DEPLOY, 'prometheus'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Metric names in PromQL expressions: identifiers followed by a selector, a range or a paren. */
function metricNames(exprs: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const e of exprs) for (const m of e.matchAll(/\b((?:portcullis|process|nodejs)_[a-z0-9_]+)\b/g)) out.add(m[1]!);
  return out;
}

function dashboardExprs(): string[] {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  return dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

test('promtool check rules and promtool test rules pass', () => {
  expect(promtool('check', 'rules', RULES)).toMatch(/SUCCESS: 5 rules found/);
  expect(promtool('test', 'rules', 'portcullis-rules.test.yaml')).toMatch(/SUCCESS/);
});

describe('against a real control server', () => {
  let world: PolicyWorld;
  let server: Awaited<ReturnType<typeof startServerInProcess>>;
  let exported: Set<string>;

  beforeAll(async () => {
    world = await createPolicyWorld();
    server = await startServerInProcess(world);
    const text = await (await fetch(`${server.http.url}/metrics`)).text();
    exported = new Set(text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!));
  });
  afterAll(async () => {
    await server?.stop();
    await world?.close();
  });

  const family = (name: string): string => name.replace(/_(bucket|sum|count)$/, '');

  test('every metric the alerting rules use is exported', () => {
    const rules = readFileSync(RULES, 'utf8');
    const used = metricNames([...rules.matchAll(/expr: (>-\n(?:\s{10}.*\n)+|.*)/g)].map((m) => m[1]!));
    expect(used.size).toBeGreaterThanOrEqual(5);
    expect([...used].filter((n) => !exported.has(family(n)))).toEqual([]);
  });

  test('every metric the Grafana dashboard uses is exported, process metrics under their standard names', () => {
    const used = metricNames(dashboardExprs());
    expect(used).toContain('process_cpu_seconds_total');
    expect([...used].filter((n) => !exported.has(family(n)))).toEqual([]);
    expect([...exported].filter((n) => n.includes('process_process_'))).toEqual([]);
  });
});
