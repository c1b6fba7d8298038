/**
 * The monitor translator (compiler/monitor): golden output per case in test/testdata/monitor/, and
 * the real tools accept it: `promtool check rules`, the generated `promtool test rules`,
 * `promtool check config` and `amtool check-config`. A missing tool fails the test.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { compileSources } from '../../compiler';
import { monitoringConfig, type MonitoringOptions } from '../../compiler/monitor/monitoring-config';
import { formatDiagnostic } from '../../compiler/result';
import { expectGolden, goldenCases, nowOf, orphanGoldens } from '../support/golden';

const DIR = join(__dirname, '..', 'testdata', 'monitor');
const cases = goldenCases(DIR);
const work = mkdtempSync(join(tmpdir(), 'portcullis-monitoring-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const OPTIONS: MonitoringOptions = {
  portcullis: '127.0.0.1:18001',
  envoys: ['127.0.0.1:9901'],
  alertmanager: '127.0.0.1:9093',
  webhookUrl: 'http://127.0.0.1:18002/hooks/alertmanager',
  webhookAuth: { kind: 'bearer', credentialsFile: join(work, 'bot-token') },
  scrapeIntervalMs: 1000,
  evaluationIntervalMs: 1000,
  groupWaitMs: 1000,
  groupIntervalMs: 10_000,
  repeatIntervalMs: 3_600_000,
};

function tool(bin: string, args: string[], cwd: string): string {
  try {
    return execFileSync(bin, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${bin} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  }
}

describe.each(cases)('%s', (name) => {
  const text = readFileSync(join(DIR, `${name}.in.yaml`), 'utf8');
  const compiled = compileSources([{ path: `${name}.in.yaml`, text }], nowOf(text, name));
  if (!compiled.ok) throw new Error(compiled.errors.map(formatDiagnostic).join('\n'));
  const env = compiled.value.environments[0];
  if (!env) throw new Error(`${name}: no environment`);
  const files = monitoringConfig(env, OPTIONS);
  const dir = join(work, name);

  test('matches the golden output', () => {
    const actual = Object.entries(files).map(([file, doc]) => `# ${file}\n${stringify(doc, { lineWidth: 0 })}`).join('---\n').replaceAll(work, '<work>');
    expectGolden(join(DIR, `${name}.out.yaml`), actual);
  });

  test('promtool and amtool accept it, and the generated rule tests pass', () => {
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(join(work, 'bot-token'), 'secret\n');
    for (const [file, doc] of Object.entries(files)) writeFileSync(join(dir, file), stringify(doc, { lineWidth: 0 }));
    expect(tool('promtool', ['check', 'rules', 'portcullis-rules.yml'], dir)).toMatch(/SUCCESS: \d+ rules found/);
    expect(tool('promtool', ['test', 'rules', 'portcullis-rules.test.yml'], dir)).toMatch(/SUCCESS/);
    tool('promtool', ['check', 'config', 'prometheus.yml'], dir);
    expect(tool('amtool', ['check-config', 'alertmanager.yml'], dir)).toMatch(/SUCCESS/);
  });
});

test('no orphan golden files', () => {
  expect(orphanGoldens(DIR, cases)).toEqual([]);
});

test('the generated rule test can fail: a wrong expected label is reported', () => {
  const text = readFileSync(join(DIR, 'rules.in.yaml'), 'utf8');
  const compiled = compileSources([{ path: 'rules.in.yaml', text }], nowOf(text, 'rules'));
  if (!compiled.ok || !compiled.value.environments[0]) throw new Error('rules.in.yaml does not compile');
  const files = monitoringConfig(compiled.value.environments[0], OPTIONS);
  const dir = join(work, 'broken');
  execFileSync('mkdir', ['-p', dir]);
  const broken = JSON.parse(JSON.stringify(files['portcullis-rules.test.yml']).replace('"severity":"critical"', '"severity":"info"'));
  writeFileSync(join(dir, 'portcullis-rules.yml'), stringify(files['portcullis-rules.yml']));
  writeFileSync(join(dir, 'portcullis-rules.test.yml'), stringify(broken));
  expect(() => tool('promtool', ['test', 'rules', 'portcullis-rules.test.yml'], dir)).toThrow(/FAILED/);
});
