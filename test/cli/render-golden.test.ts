/**
 * Every front-end golden case (test/testdata/ir/<case>.in.yaml), taken as a policy folder, through
 * `portcullis render --bootstrap` for every (environment, fleet) it defines: the real Envoy 1.40
 * must accept each static bootstrap (`envoy --mode validate`). The Envoy-stage goldens
 * (test/envoy/golden.test.ts) do the same from hand-written IR; this closes the loop from YAML.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSources } from '../../compiler';
import { goldenCases, nowOf } from '../support/golden';
import { validateAll } from '../envoy/envoy-validate';
import { runCli, type CliRun } from '../support/cli';

const DIR = join(__dirname, '..', 'testdata', 'ir');
const cases = goldenCases(DIR);

let tmp: string;
beforeAll(() => (tmp = mkdtempSync(join(tmpdir(), 'portcullis-render-golden-'))));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function render(root: string, env: string, fleet: string, now: Date): Promise<CliRun> {
  return runCli(['render', '--root', root, '--env', env, '--fleet', fleet, '--bootstrap', '--now', now.toISOString()], { cwd: root, now });
}

test('every golden case with a fleet renders a bootstrap that Envoy accepts', async () => {
  const files: string[] = [];
  for (const name of cases) {
    const text = readFileSync(join(DIR, `${name}.in.yaml`), 'utf8');
    const now = nowOf(text, name);
    const compiled = compileSources([{ path: 'policies.yaml', text }], now);
    if (!compiled.ok) throw new Error(`${name} does not compile`);
    const root = join(tmp, name);
    mkdirSync(root);
    writeFileSync(join(root, 'policies.yaml'), text);
    for (const env of compiled.value.environments) {
      for (const fleet of env.fleets) {
        const r = await render(root, env.name, fleet, now);
        expect({ name, env: env.name, fleet, code: r.code, err: r.err }).toEqual({ name, env: env.name, fleet, code: 0, err: '' });
        const file = join(tmp, `${name}--${env.name}--${fleet}.yaml`);
        writeFileSync(file, r.out);
        files.push(file);
      }
    }
  }
  // Most cases define at least one fleet; a regression that drops them all must not pass quietly.
  expect(files.length).toBeGreaterThanOrEqual(cases.length);
  const results = await validateAll(files);
  const refused = [...results].filter(([, r]) => r.code !== 0).map(([f, r]) => `${f}:\n${r.output}`);
  expect(refused).toEqual([]);
}, 180_000);
