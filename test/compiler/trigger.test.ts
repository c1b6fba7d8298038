/** Trigger kind: the pure `instantiateLockdown` (the bot's input), and its result as a Lockdown the compiler accepts. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { compileSources, instantiateLockdown, type TriggerIR } from '../../compiler';
import { formatDiagnostic } from '../../compiler/result';

const NOW = new Date('2026-06-01T00:00:00Z');
const GOLDEN_IN = join(__dirname, '..', 'testdata', 'ir', 'triggers.in.yaml');

function triggers(env = 'prod'): Map<string, TriggerIR> {
  const r = compileSources([{ path: 'triggers.yaml', text: readFileSync(GOLDEN_IN, 'utf8') }], NOW);
  if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
  const e = r.value.environments.find((x) => x.name === env);
  return new Map((e?.triggers ?? []).map((t) => [t.name, t]));
}

test('environments filter which triggers an environment runs', () => {
  expect([...triggers('prod').keys()]).toEqual(['errors-baseline', 'login-stuffing', 'token-share']);
  expect([...triggers('staging').keys()]).toEqual(['errors-baseline', 'login-stuffing']);
});

test('a network key fills {{network}} and {{route}} everywhere, expiry = createdAt + duration', () => {
  const t = triggers().get('login-stuffing') as TriggerIR;
  const spec = instantiateLockdown(t, { environment: 'prod', key: '203.0.113.0/24' }, new Date('2026-06-01T10:00:00Z'));
  expect(spec).toEqual({
    reason: 'Trigger login-stuffing fired on login from 203.0.113.0/24 in prod',
    owner: '@oncall',
    createdAt: '2026-06-01T10:00:00.000Z',
    expiresAt: '2026-06-01T11:00:00.000Z',
    environments: ['prod'],
    actions: [
      { type: 'blockNetworks', cidrs: ['203.0.113.0/24'], routes: ['login'] },
      { type: 'disableRoute', route: 'login', status: 503, body: 'Closed: attack from 203.0.113.0/24' },
    ],
  });
});

test('lockdown.environments overrides the firing environment; a token key fills {{jti}}', () => {
  const t = triggers().get('token-share') as TriggerIR;
  const spec = instantiateLockdown(t, { environment: 'prod', key: 'jti-42' }, NOW);
  expect(spec.environments).toEqual(['prod', 'staging']);
  expect(spec.actions).toEqual([{ type: 'revokeTokens', jtis: ['jti-42'], subjects: [] }]);
});

test('the filled template is a Lockdown the compiler accepts, and it applies', () => {
  const t = triggers().get('login-stuffing') as TriggerIR;
  const spec = instantiateLockdown(t, { environment: 'prod', key: '203.0.113.0/24' }, NOW);
  const lockdown = dump({ apiVersion: 'portcullis.dev/v1', kind: 'Lockdown', metadata: { name: 'login-stuffing-1' }, spec });
  const r = compileSources(
    [
      { path: 'triggers.yaml', text: readFileSync(GOLDEN_IN, 'utf8') },
      { path: 'lockdown.yaml', text: lockdown },
    ],
    new Date(NOW.getTime() + 60_000),
  );
  if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
  const login = r.value.environments.find((e) => e.name === 'prod')?.routes.find((x) => x.name === 'login');
  expect(login?.access.deniedNetworks).toEqual([{ cidr: '203.0.113.0/24', provenance: 'Lockdown/login-stuffing-1' }]);
  expect(login?.disabled?.status).toBe(503);
});

test('a key that does not have the trigger key’s shape throws instead of reaching a Lockdown file', () => {
  const t = triggers().get('login-stuffing') as TriggerIR;
  expect(() => instantiateLockdown(t, { environment: 'prod', key: '203.0.113.7/24' }, NOW)).toThrow('not a canonical CIDR');
  expect(() => instantiateLockdown(t, { environment: 'prod' }, NOW)).toThrow('no key value given');
  const share = triggers().get('token-share') as TriggerIR;
  expect(() => instantiateLockdown(share, { environment: 'prod', key: 'a b' }, NOW)).toThrow('without white space');
});

test('{{ip}} in cidrs becomes the host network', () => {
  const r = compileSources(
    [
      {
        path: 'p.yaml',
        text: `apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: s }
spec: { endpoints: [{ address: 10.0.0.1, port: 80 }] }
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: r }
spec: { path: { prefix: / }, service: s }
---
apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: prod }
spec: { fleets: [f] }
---
apiVersion: portcullis.dev/v1
kind: Trigger
metadata: { name: per-ip }
spec:
  key: clientIp
  condition: { rate: { above: 100, per: second } }
  lockdown: { duration: 10m, owner: me, actions: [{ type: blockNetworks, cidrs: ["{{ip}}"] }] }
`,
      },
    ],
    NOW,
  );
  if (!r.ok) throw new Error(r.errors.map(formatDiagnostic).join('\n'));
  const t = r.value.environments[0]?.triggers[0] as TriggerIR;
  expect(t.condition).toEqual({ kind: 'rate', above: 100, windowMs: 1000 });
  expect(instantiateLockdown(t, { environment: 'prod', key: '2001:db8::7' }, NOW).actions).toEqual([{ type: 'blockNetworks', cidrs: ['2001:db8::7/128'] }]);
  expect(instantiateLockdown(t, { environment: 'prod', key: '192.0.2.9' }, NOW).reason).toBe('Trigger per-ip fired from 192.0.2.9 in prod');
});
