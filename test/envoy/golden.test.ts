/**
 * Golden tests of the Envoy translator: test/testdata/envoy/<case>.in.yaml (an EnvironmentIR, or a
 * whole PolicyIR) → <case>.out.yaml (the resources). `UPDATE_GOLDEN=1` rewrites the outputs and
 * deletes orphans. Every case is also rendered as a static bootstrap and checked by the real Envoy
 * (`envoy --mode validate`), and every resource is encoded by the xDS server's encoder and checked by
 * an independent protobuf implementation (test/support/proto-oracle.ts) with the Envoy 1.40 descriptors.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import YAML from 'yaml';
import { staticBootstrap, translateEnvironment, translatePolicy } from '../../compiler/envoy';
import { TYPE_URL, type EnvoyResources, type XdsKind } from '../../compiler/envoy/resources';
import type { EnvironmentIR, PolicyIR } from '../../compiler/ir/ir';
import { loadEnvoyApi } from '../../xds-server/descriptors';
import { createEncoder } from '../../xds-server/encode';
import { expectGolden, goldenCases, goldenYaml, orphanGoldens } from '../support/golden';
import { checkJson, decodeBoth, DESCRIPTORS } from '../support/proto-oracle';
import { validateAll, type ValidateResult } from './envoy-validate';

const DIR = join(__dirname, '../testdata/envoy');
const cases = goldenCases(DIR);

function load(name: string): EnvironmentIR | PolicyIR {
  return YAML.parse(readFileSync(join(DIR, `${name}.in.yaml`), 'utf8')) as EnvironmentIR | PolicyIR;
}

/** A PolicyIR gives every (environment, fleet); an EnvironmentIR its first fleet. */
function translateCase(doc: EnvironmentIR | PolicyIR): EnvoyResources[] {
  if ('irVersion' in doc) return translatePolicy(doc);
  return [translateEnvironment(doc, doc.fleets[0] as string)];
}

function render(out: EnvoyResources[]): string {
  return goldenYaml(out.length === 1 ? out[0] : out);
}

const outputs = new Map(cases.map((c) => [c, translateCase(load(c))]));

describe('golden files', () => {
  test('there are cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  test.each(cases)('%s', (name) => {
    expectGolden(join(DIR, `${name}.out.yaml`), render(outputs.get(name) as EnvoyResources[]));
  });

  test('no orphan outputs', () => {
    expect(orphanGoldens(DIR, cases)).toEqual([]);
  });
});

describe('protobuf encoding, checked by an independent implementation (@bufbuild/protobuf)', () => {
  const encoder = createEncoder(loadEnvoyApi(DESCRIPTORS));
  const KINDS: readonly XdsKind[] = ['cluster', 'endpoint', 'listener', 'scope', 'route', 'ratelimit'];
  const LISTS = { cluster: 'clusters', endpoint: 'endpoints', listener: 'listeners', route: 'routes', scope: 'scopes', ratelimit: 'rateLimitConfigs' } as const;

  test.each(cases)('%s: the JSON is valid for its message, and our bytes decode to that message', (name) => {
    const problems: string[] = [];
    let count = 0;
    for (const out of outputs.get(name) as EnvoyResources[]) {
      for (const kind of KINDS) {
        for (const r of out[LISTS[kind]]) {
          const label = `${out.fleet}/${kind}/${r.name}`;
          problems.push(...checkJson(TYPE_URL[kind], r.value, label));
          const typeName = TYPE_URL[kind].replace(/^type\.googleapis\.com\//, '');
          const bytes = encoder.encodeMessage(typeName, r.value);
          if (!bytes.ok) problems.push(...bytes.errors.map((e) => `${label}.${e.path}: ${e.message}`));
          else {
            const { expected, actual } = decodeBoth(typeName, r.value, bytes.value);
            if (!isDeepStrictEqual(actual, expected)) problems.push(`${label}: our bytes decode to a different message`);
          }
          count++;
        }
      }
    }
    expect(count).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  test('the oracle refuses a misspelled field, a bad enum name and a value of the wrong kind', () => {
    const problems = [
      ...checkJson(TYPE_URL.cluster, { name: 'x', conect_timeout: '1s' }, 'typo'),
      ...checkJson(TYPE_URL.cluster, { name: 'x', type: 'NOT_A_TYPE' }, 'bad-enum'),
      ...checkJson(TYPE_URL.cluster, { name: 'x', connect_timeout: 5 }, 'bad-kind'),
    ];
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^typo: .*conect_timeout/);
    expect(problems[1]).toMatch(/^bad-enum: .*NOT_A_TYPE/);
    expect(problems[2]).toMatch(/^bad-kind: .*Duration from JSON: 5/);
  });

  test('the oracle sees bytes that say something else than the JSON', () => {
    const json = { name: 'a', connect_timeout: '1s' };
    const other = encoder.encodeMessage('envoy.config.cluster.v3.Cluster', { name: 'b', connect_timeout: '1s' });
    if (!other.ok) throw new Error('encoding failed');
    const { expected, actual } = decodeBoth('envoy.config.cluster.v3.Cluster', json, other.value);
    expect(actual).not.toEqual(expected);
  });
});

describe('envoy --mode validate accepts the static bootstrap of every case', () => {
  const work = mkdtempSync(join(tmpdir(), 'portcullis-envoy-golden-'));
  const files: { label: string; file: string }[] = [];
  for (const name of cases) {
    for (const out of outputs.get(name) as EnvoyResources[]) {
      const file = join(work, `${name}--${out.environment}--${out.fleet}.json`);
      // With an access-log service, so Envoy also checks the access loggers every listener carries.
      writeFileSync(file, JSON.stringify(staticBootstrap(out, { adminPort: 0, accessLogService: { host: '127.0.0.1', port: 9 } })));
      files.push({ label: `${name} ${out.environment}/${out.fleet}`, file });
    }
  }
  // A control that must fail: the first case's bootstrap with one rate-limit descriptor stripped of
  // the token bucket Envoy requires (proves the harness reports Envoy's refusals).
  const broken = join(work, 'broken.json');
  const sample = outputs.get('rate-limits')?.[0];
  if (sample) {
    const boot = JSON.parse(JSON.stringify(staticBootstrap(sample)));
    const text = JSON.stringify(boot).replace(/(\]),"token_bucket":\{"max_tokens":\d+,"tokens_per_fill":\d+,"fill_interval":"\d+s"\}/, '$1');
    writeFileSync(broken, text);
  }
  let results = new Map<string, ValidateResult>();
  beforeAll(async () => {
    results = await validateAll([...files.map((f) => f.file), broken]);
  }, 300_000);

  test('control: a configuration Envoy refuses is reported as refused', () => {
    const r = results.get(broken) as ValidateResult;
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/LocalRateLimitDescriptorValidationError.TokenBucket: value is required/);
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test.each(files)('$label', ({ file }) => {
    const r = results.get(file) as ValidateResult;
    expect(r.output).not.toMatch(/deprecated/i);
    expect({ code: r.code, output: r.code === 0 ? '' : r.output }).toEqual({ code: 0, output: '' });
  });
});
