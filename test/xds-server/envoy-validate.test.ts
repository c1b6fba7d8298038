/**
 * Issue 7 item 8, the validator itself against the real Envoy at $ENVOY_BIN: the test policies pass,
 * a configuration Envoy refuses comes back with Envoy's reason, verdicts are cached by content, and
 * a refusal is traced to the policy line holding the value Envoy quotes.
 */
import { compileSources } from '../../compiler';
import { translateEnvironment } from '../../compiler/envoy';
import type { EnvoyResources, JsonObject } from '../../compiler/envoy/resources';
import { EnvoyValidator, traceRefusal } from '../../xds-server/envoy-validate';
import { generateSigningKey } from '../../demo/jwt';
import { envoyBinary } from '../support/envoy';
import { basePolicies } from '../support/policies';

jest.setTimeout(60_000);

const ports = { listener: 10_000, sotwListener: 10_001, catalog: 9001, accounts0: 9002, accounts1: 9003, orders0: 9004, orders1: 9005 };
const files = basePolicies(ports, generateSigningKey().jwks);
const sources = Object.entries(files).map(([p, text]) => ({ path: p, text }));

function fleets(): Map<string, EnvoyResources> {
  const ir = compileSources(sources, new Date('2026-06-01T00:00:00Z'));
  if (!ir.ok) throw new Error(JSON.stringify(ir.errors));
  const out = new Map<string, EnvoyResources>();
  for (const env of ir.value.environments) for (const fleet of env.fleets) out.set(fleet, translateEnvironment(env, fleet));
  return out;
}

/** The fleet with the first route of its first route table matching `regex` instead. */
function withRouteRegex(r: EnvoyResources, regex: string): EnvoyResources {
  const [first, ...rest] = r.routes;
  const value = first!.value as { virtual_hosts: { routes: JsonObject[] }[] };
  const vhosts = value.virtual_hosts.map((vh, i) =>
    i === 0 ? { ...vh, routes: vh.routes.map((rt, j) => (j === 0 ? { ...rt, match: { safe_regex: { regex } } } : rt)) } : vh,
  );
  return { ...r, routes: [{ ...first!, version: `${first!.version}-regex`, value: { ...first!.value, virtual_hosts: vhosts } as JsonObject }, ...rest] };
}

test('the test policies pass; a route Envoy refuses comes back with its reason, cached by content', async () => {
  const validator = new EnvoyValidator({ binary: envoyBinary() });
  const all = fleets();
  const verdicts = await validator.validateAll(all);
  expect(verdicts.map((v) => [v.fleet, v.result])).toEqual([...all.keys()].map((f) => [f, 'ok']));

  const bad = withRouteRegex(all.get('e2e-delta')!, '^/x{1000}$');
  const refused = await validator.validateFleet(bad);
  expect(refused).toMatchObject({ fleet: 'e2e-delta', result: 'rejected', cached: false });
  expect(refused.result === 'rejected' && refused.message).toMatch(/regex '\^\/x\{1000\}\$' RE2 program size of 1004 > max program size of 100/);
  const again = await validator.validateFleet(bad);
  expect(again).toMatchObject({ result: 'rejected', cached: true });
  expect(again.ms).toBeLessThan(50);
});

test('a missing Envoy binary is an error verdict (no verdict), not a refusal', async () => {
  const verdict = await new EnvoyValidator({ binary: '/nonexistent/envoy' }).validateFleet(fleets().get('e2e-delta')!);
  expect(verdict).toMatchObject({ result: 'error' });
  expect(verdict.result === 'error' && verdict.message).toContain('ENOENT');
});

test('traceRefusal points at the policy line holding the quoted value, else at the Environment', () => {
  const routeFile = { path: 'policies/routes.yaml', text: 'apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: slow }\nspec:\n  path: { regex: "^/x{1000}$" }\n  service: catalog\n' };
  const env = { path: 'policies/env.yaml', text: 'apiVersion: portcullis.dev/v1\nkind: Environment\nmetadata: { name: prod }\nspec:\n  fleets: [edge-prod]\n' };
  const message = "regex '^/x{1000}$' RE2 program size of 1004 > max program size of 100";
  expect(traceRefusal({ fleet: 'edge-prod', environment: 'prod', message }, [env, routeFile])).toEqual([
    { file: 'policies/routes.yaml', line: 5, column: 19, subject: 'Route/slow', path: '', message: `Envoy refuses the configuration of fleet "edge-prod" (envoy --mode validate): ${message}` },
  ]);
  expect(traceRefusal({ fleet: 'edge-prod', environment: 'prod', message: 'Invalid duration' }, [env, routeFile])).toMatchObject([
    { file: 'policies/env.yaml', line: 2, column: 1, subject: 'Environment/prod', path: 'spec.fleets' },
  ]);
});
