/**
 * Lockdowns compiled in shadow mode (compiler/ir/shadow.ts, compiler/envoy/shadow.ts): nothing of
 * them is enforced, their actions become RBAC shadow rules of the roles instance per route, named
 * after the overlay, and starting one changes the route configuration only (never the listener).
 */
import { generateSigningKey } from '../../demo/jwt';
import { compileSources, type ShadowSelection, type SourceFile } from '../../compiler';
import { translateEnvironment, FILTER } from '../../compiler/envoy';
import type { JsonObject } from '../../compiler/envoy/resources';
import type { EnvironmentIR, PolicyIR } from '../../compiler/ir/ir';
import { basePolicies, lockdownFile } from '../support/policies';

const NOW = new Date('2026-12-01T10:00:00Z');
const PORTS = { listener: 10000, sotwListener: 10001, catalog: 9001, accounts0: 9002, accounts1: 9003, orders0: 9004, orders1: 9005 };
const base: SourceFile[] = Object.entries(basePolicies(PORTS, generateSigningKey('k').jwks)).map(([path, text]) => ({ path, text }));
const OVERLAY = 'shadow/stuffing.yaml';
const actions = [
  { type: 'blockNetworks', cidrs: ['198.51.100.0/24'], routes: ['catalog'] },
  { type: 'revokeTokens', subjects: ['svc-scraper'] },
  { type: 'requireRole', routes: ['accounts'], roles: ['admin'] },
  { type: 'disableRoute', route: 'export' },
  { type: 'tightenRateLimit', rateLimit: 'limited-per-ip', requests: 1, per: 'minute' },
];
// Created in the future: a shadow runs whatever its window says (the control server bounds it).
const overlay = { path: OVERLAY, text: lockdownFile('stuffing', actions, '2099-01-01T00:00:00Z', '2098-01-01T00:00:00Z') };

function compiled(files: SourceFile[], shadow?: ShadowSelection): PolicyIR {
  const r = compileSources(files, NOW, shadow);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
}
const envOf = (ir: PolicyIR, name: string): EnvironmentIR => ir.environments.find((e) => e.name === name)!;
function routeJson(env: EnvironmentIR, name: string): JsonObject {
  const config = translateEnvironment(env, env.fleets[0]!).routes[0]!.value as JsonObject;
  const routes = (config['virtual_hosts'] as JsonObject[]).flatMap((vh) => vh['routes'] as JsonObject[]);
  return routes.find((r) => r['name'] === name)!;
}
const rbacOf = (route: JsonObject): JsonObject => ((route['typed_per_filter_config'] as JsonObject)[FILTER.rbac] as JsonObject)['rbac'] as JsonObject;

test('a shadow lockdown is enforced nowhere: the environments are as without it, plus the overlay', () => {
  const plain = compiled(base);
  const shadowed = compiled([...base, overlay], new Map([['stuffing', 'e2e']]));
  const e2e = envOf(shadowed, 'e2e');
  const { shadowOverlays, ...rest } = e2e;
  expect(rest).toEqual(envOf(plain, 'e2e'));
  expect(envOf(shadowed, 'e2e-sotw')).toEqual(envOf(plain, 'e2e-sotw'));
  expect(shadowed.nextChangeAt).toBe(plain.nextChangeAt);
  expect(shadowOverlays).toEqual([
    {
      name: 'stuffing',
      notShadowed: ['tightenRateLimit limited-per-ip: 1/minute'],
      routes: expect.arrayContaining([
        { route: 'catalog', deniedNetworks: ['198.51.100.0/24'], revokedTokens: { jtis: [], subjects: [] }, disabled: false, requiredRoles: null },
        { route: 'orders', deniedNetworks: [], revokedTokens: { jtis: [], subjects: ['svc-scraper'] }, disabled: false, requiredRoles: null },
        { route: 'accounts', deniedNetworks: [], revokedTokens: { jtis: [], subjects: [] }, disabled: false, requiredRoles: ['admin'] },
        { route: 'export', deniedNetworks: [], revokedTokens: { jtis: [], subjects: ['svc-scraper'] }, disabled: true, requiredRoles: null },
      ]),
    },
  ]);
  // Public routes the overlay does not name carry nothing (no token payload to revoke on there).
  expect(shadowOverlays?.[0]?.routes.map((r) => r.route).sort()).toEqual(['accounts', 'catalog', 'export', 'orders']);
  // Applied for real, the same document does change the environment.
  expect(envOf(compiled([...base, lockdownFile('x', actions)].map((t, i) => (typeof t === 'string' ? { path: `policies/l${i}.yaml`, text: t } : t))), 'e2e')).not.toEqual(envOf(plain, 'e2e'));
});

test('Envoy: shadow_rules named after the overlay on the roles RBAC instance; the listener does not change', () => {
  const plain = envOf(compiled(base), 'e2e');
  const env = envOf(compiled([...base, overlay], new Map([['stuffing', 'e2e']])), 'e2e');
  const a = translateEnvironment(plain, 'e2e-delta');
  const b = translateEnvironment(env, 'e2e-delta');
  expect(b.listeners).toEqual(a.listeners);
  expect(b.clusters).toEqual(a.clusters);
  expect(b.routes[0]!.version).not.toBe(a.routes[0]!.version);

  const catalog = rbacOf(routeJson(env, 'catalog'));
  expect(catalog).toEqual({
    ...rbacOf(routeJson(plain, 'catalog')),
    shadow_rules: { action: 'DENY', policies: { 'shadow stuffing': { permissions: [{ any: true }], principals: [{ remote_ip: { address_prefix: '198.51.100.0', prefix_len: 24 } }] } } },
    shadow_rules_stat_prefix: 'portcullis_shadow.',
  });
  // Enforced rules stay as they were beside the shadow ones.
  const orders = rbacOf(routeJson(env, 'orders'));
  expect(orders['rules']).toEqual(rbacOf(routeJson(plain, 'orders'))['rules']);
  expect(JSON.stringify((orders['shadow_rules'] as JsonObject)['policies'])).toContain('"svc-scraper"');
  const accounts = (rbacOf(routeJson(env, 'accounts'))['shadow_rules'] as JsonObject)['policies'] as Record<string, { principals: JsonObject[] }>;
  expect(Object.keys(accounts['shadow stuffing']!.principals[0]!)).toEqual(['not_id']);
  expect(rbacOf(routeJson(env, 'export'))['shadow_rules']).toMatchObject({ policies: { 'shadow stuffing': { principals: [{ any: true }] } } });
  // Routes the overlay leaves alone are untouched.
  expect(routeJson(env, 'limited')).toEqual(routeJson(plain, 'limited'));
});

test('a shadow lockdown naming an unknown route is refused with its position', () => {
  const bad = { path: OVERLAY, text: lockdownFile('stuffing', [{ type: 'blockNetworks', cidrs: ['198.51.100.0/24'], routes: ['nope'] }]) };
  const r = compileSources([...base, bad], NOW, new Map([['stuffing', 'e2e']]));
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.errors[0]).toMatchObject({ file: OVERLAY, line: expect.any(Number), column: expect.any(Number) });
  expect(r.errors[0]!.line).toBeGreaterThan(1);
  expect(r.errors[0]!.message).toMatch(/nope/);
});
