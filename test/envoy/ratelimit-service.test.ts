/**
 * Golden tests of the rate-limit service's configuration (compiler/envoy/ratelimit-service.ts):
 * every Envoy golden case whose environment has a rate-limit service (test/testdata/envoy/<case>.in.yaml)
 * → test/testdata/ratelimit-service/<case>.out.yaml, checked by the protobuf oracle against the
 * descriptor set (which must hold ratelimit.config.ratelimit.v3.RateLimitConfig). Also: the
 * descriptors Envoy sends for a fleet limit are the ones the service is configured with.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { translateEnvironment } from '../../compiler/envoy';
import { RATE_LIMIT_CONFIG_TYPE_URL, rateLimitServiceConfig } from '../../compiler/envoy/ratelimit-service';
import type { JsonObject } from '../../compiler/envoy/resources';
import type { EnvironmentIR } from '../../compiler/ir/ir';
import { expectGolden, goldenCases, goldenYaml, orphanGoldens } from '../support/golden';
import { checkJson } from '../support/proto-oracle';

const IN_DIR = join(__dirname, '../testdata/envoy');
const OUT_DIR = join(__dirname, '../testdata/ratelimit-service');
const IN = '.in.yaml';
const OUT = '.out.yaml';

const inputs = goldenCases(IN_DIR, IN)
  .map((name) => ({ name, doc: YAML.parse(readFileSync(join(IN_DIR, name + IN), 'utf8')) as EnvironmentIR }))
  .filter((c) => !('irVersion' in c.doc) && c.doc.rateLimitService !== undefined);

describe('rate-limit service configuration', () => {
  test('there are cases', () => expect(inputs.length).toBeGreaterThan(0));

  test.each(inputs.map((c) => [c.name, c.doc] as const))('%s', (name, env) => {
    expectGolden(join(OUT_DIR, name + OUT), goldenYaml(rateLimitServiceConfig(env)));
  });

  test('no orphan outputs', () => {
    expect(orphanGoldens(OUT_DIR, inputs.map((c) => c.name), OUT)).toEqual([]);
  });

  test('every case is a valid RateLimitConfig for the protobuf oracle', () => {
    const problems = inputs.flatMap((c) => checkJson(RATE_LIMIT_CONFIG_TYPE_URL, rateLimitServiceConfig(c.doc) as JsonObject, c.name));
    expect(problems).toEqual([]);
  });

  test('an environment without a service has no configuration, and no fleet filters', () => {
    const env = YAML.parse(readFileSync(join(IN_DIR, 'rate-limits.in.yaml'), 'utf8')) as EnvironmentIR;
    expect(rateLimitServiceConfig(env)).toBeNull();
    expect(JSON.stringify(translateEnvironment(env, env.fleets[0] as string).listeners)).not.toContain('envoy.extensions.filters.http.ratelimit.v3.RateLimit');
  });

  test('each fleet limit: the keys Envoy sends are the keys the service counts', () => {
    const env = inputs.find((c) => c.name === 'fleet-rate-limits')?.doc as EnvironmentIR;
    const config = rateLimitServiceConfig(env) as { descriptors: { key: string; value: string; descriptors?: { key: string }[] }[] };
    const served = config.descriptors.map((d) => [d.value, (d.descriptors ?? []).map((n) => n.key)]);
    expect(served).toEqual([
      ['login-per-ip', ['remote_address']],
      ['login-per-network', ['masked_remote_address']],
      ['orders-per-user', ['jwt_claim']],
      ['search-per-key', ['request_header', 'request_header_absent']],
      ['search-total', []],
    ]);
    // The instance limit stays local: not in the service's configuration.
    expect(served.map(([n]) => n)).not.toContain('login-local');
  });
});
