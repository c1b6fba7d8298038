/** The policies/ folder shipped with the project validates, and says what the docs say it does. */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileDirectory, readPolicyFiles } from '../../sources';
import type { PolicyIR } from '../../compiler/ir/ir';
import { formatDiagnostic } from '../../compiler/result';

const ROOT = join(__dirname, '..', '..');
const NOW = new Date('2026-11-27T12:00:00Z');

async function compiled(now = NOW): Promise<PolicyIR> {
  const r = await compileDirectory(join(ROOT, 'policies'), now, { relativeTo: ROOT });
  if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
  return r.value;
}

test('validate accepts everything, today as well as at the pinned instant', async () => {
  await expect(compiled()).resolves.toBeDefined();
  await expect(compiled(new Date())).resolves.toBeDefined();
});

test('three environments, their fleets and cloud gateways', async () => {
  const ir = await compiled();
  expect(ir.environments.map((e) => [e.name, e.fleets])).toEqual([
    ['dev', ['edge-dev']],
    ['prod', ['edge-prod']],
    ['staging', ['edge-staging']],
  ]);
  const [dev, prod, staging] = ir.environments;
  expect(dev?.cloud).toBeNull();
  expect(prod?.cloud).toEqual(expect.objectContaining({ wafScope: 'REGIONAL', clientIpSource: { kind: 'forwarded-header', header: 'x-forwarded-for' } }));
  expect(prod?.cloud?.loadBalancerArns).toHaveLength(1);
  expect(staging?.cloud?.apiGatewayStageArns).toEqual(['arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/stages/staging']);
});

test('demo services on loopback with health checks, accounts in two tiers', async () => {
  const dev = (await compiled()).environments[0];
  const endpoints = Object.fromEntries(dev?.services.map((s) => [s.name, s.endpoints.map((e) => `${e.address}:${e.port}/${e.tier}`)]) ?? []);
  expect(endpoints).toEqual({
    accounts: ['127.0.0.1:9101/0', '127.0.0.1:9102/1'],
    catalog: ['127.0.0.1:9301/0'],
    orders: ['127.0.0.1:9201/0', '127.0.0.1:9202/0'],
  });
  expect(dev?.services.every((s) => s.healthCheck?.path === '/healthz')).toBe(true);
});

test('routes on host "*": login is public POST /login with a per-IP limit, admin needs the admin role', async () => {
  const dev = (await compiled()).environments[0];
  expect(dev?.routes.length).toBeGreaterThanOrEqual(10);
  expect(dev?.routes.every((r) => r.host === '*')).toBe(true);
  const login = dev?.routes.find((r) => r.name === 'accounts-login');
  expect(login?.match).toEqual({ path: { kind: 'exact', value: '/login' }, methods: ['POST'], headers: [] });
  expect(login?.access.authentication).toBe('none');
  expect(login?.rateLimits.map((l) => [l.name, l.key.kind, l.requests])).toEqual([['login-per-ip', 'client-ip', 100]]); // dev override
  const admin = dev?.routes.find((r) => r.name === 'admin');
  expect(admin?.access.rules.map((r) => r.roles)).toEqual([['admin']]);
  expect(admin?.access.allowedNetworks.map((n) => n.cidr)).toEqual(['10.0.0.0/8', '127.0.0.0/8', '::1/128']);
  const limits = new Map(dev?.routes.flatMap((r) => r.rateLimits.map((l) => [l.name, l])));
  expect(limits.get('catalog-per-ip-shadow')?.mode).toBe('shadow');
  expect(limits.get('orders-per-network')?.key.kind).toBe('client-network');
});

test('the expired lockdown applies nowhere; the active one applies in staging and prod only', async () => {
  const ir = await compiled();
  expect(ir.nextChangeAt).toBe('2099-12-31T00:00:00.000Z');
  const active = Object.fromEntries(ir.environments.map((e) => [e.name, e.activeLockdowns.map((l) => l.name)]));
  expect(active).toEqual({ dev: [], prod: ['export-leak-2026-11-25'], staging: ['export-leak-2026-11-25'] });
  const prodExport = ir.environments[1]?.routes.find((r) => r.name === 'orders-export');
  expect(prodExport?.access.rules).toEqual([{ methods: [], roles: ['admin'], provenance: 'Lockdown/export-leak-2026-11-25' }]);
  expect(ir.environments[1]?.revokedTokens.jtis).toContain('reporting-7f3a9c');
  // During the expired lockdown's window, it applied in prod.
  const during = await compiled(new Date('2026-11-20T12:00:00Z'));
  const login = during.environments[1]?.routes.find((r) => r.name === 'accounts-login');
  expect(login?.rateLimits[0]).toEqual(expect.objectContaining({ requests: 2, provenance: 'Lockdown/stuffing-2026-11-20' }));
});

test('the inline JWKS is the public half of the demo key in test/fixtures/jwt', async () => {
  const provider = (await compiled()).environments[0]?.jwtProviders[0];
  expect(provider).toEqual(expect.objectContaining({ name: 'demo-idp', issuer: 'https://idp.portcullis.example', audiences: ['api.portcullis.example'] }));
  if (provider?.jwks.kind !== 'inline') throw new Error('expected an inline JWKS');
  const jwk = JSON.parse(provider.jwks.json).keys[0];
  expect(jwk).toEqual(expect.objectContaining({ kty: 'RSA', alg: 'RS256', kid: 'portcullis-demo-2026' }));
  expect(jwk.d).toBeUndefined();
  const privateKey = createPrivateKey(readFileSync(join(ROOT, 'test', 'fixtures', 'jwt', 'demo-private-key.pem')));
  const data = Buffer.from('header.payload');
  const signature = sign('sha256', data, privateKey);
  expect(verify('sha256', data, createPublicKey({ key: jwk, format: 'jwk' }), signature)).toBe(true);
  expect(JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'jwt', 'demo-jwks.json'), 'utf8')).keys[0]).toEqual(jwk);
});

describe('readPolicyFiles', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-load-'));
    mkdirSync(join(dir, 'policies', 'nested', 'deeper'), { recursive: true });
    mkdirSync(join(dir, 'policies', '.git'));
    mkdirSync(join(dir, 'policies', 'node_modules'));
    writeFileSync(join(dir, 'policies', 'a.yaml'), 'a: 1\n');
    writeFileSync(join(dir, 'policies', 'nested', 'deeper', 'b.yml'), 'b: 1\n');
    writeFileSync(join(dir, 'policies', 'nested', 'C.YAML'), 'c: 1\n');
    writeFileSync(join(dir, 'policies', 'README.md'), '# not a policy\n');
    writeFileSync(join(dir, 'policies', '.git', 'x.yaml'), 'x: 1\n');
    writeFileSync(join(dir, 'policies', 'node_modules', 'y.yaml'), 'y: 1\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('reads *.yaml and *.yml in any layout, skips hidden folders and node_modules, sorted', async () => {
    const r = await readPolicyFiles(join(dir, 'policies'), { relativeTo: dir });
    expect(r.ok && r.value.map((f) => f.path)).toEqual(['policies/a.yaml', 'policies/nested/C.YAML', 'policies/nested/deeper/b.yml']);
  });

  test('a missing folder is an error result, not an exception', async () => {
    const r = await readPolicyFiles(join(dir, 'nope'), { relativeTo: dir });
    expect(r).toEqual({ ok: false, errors: [{ file: 'nope', line: 0, column: 0, subject: '', path: '', message: 'policy folder not found' }] });
    const c = await compileDirectory(join(dir, 'policies', 'a.yaml'), NOW, { relativeTo: dir });
    expect(!c.ok && c.errors[0]?.message).toBe('not a folder');
  });
});
