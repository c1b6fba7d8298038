import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StatusDocument } from '../../cli/status-document';
import { runStatus } from '../../cli/commands/status';
import { captureCli } from '../support/cli';

const COMMIT = 'a'.repeat(40);
const BAD = 'b'.repeat(40);

function doc(overrides: Partial<StatusDocument['policy']> = {}, nodes: StatusDocument['nodes'] = []): StatusDocument {
  return {
    server: { version: '0.1.0', startedAt: '2026-01-01T00:00:00.000Z', xds: { host: '127.0.0.1', port: 18000 } },
    policy: {
      repo: '/srv/policies.git',
      branch: 'main',
      path: 'policies',
      served: {
        commit: COMMIT,
        subject: 'tighten login',
        author: 'A <a@example.com>',
        version: 'v-0123456789abcdef',
        fleetVersions: { 'edge-dev': 'f-0123456789abcdef' },
        compiledAt: '2026-01-01T00:00:01.000Z',
        servedAt: '2026-01-01T00:00:01.100Z',
        seenAt: '2026-01-01T00:00:01.000Z',
        trigger: 'webhook',
        nextChangeAt: null,
        environments: [{ name: 'dev', fleets: ['edge-dev'], activeLockdowns: [{ name: 'stuffing', expiresAt: '2026-01-01T04:00:00Z' }] }],
      },
      rejected: null,
      lastFetch: { at: '2026-01-01T00:00:01.000Z', ok: true, commit: COMMIT, error: null },
      nextRecompileAt: null,
      ...overrides,
    },
    nodes,
    warnings: [],
  };
}

const types = (version: string | null, commit: string | null) =>
  (['cluster', 'endpoint', 'listener', 'route'] as const).map((type) => ({ type, ackedVersion: version, ackedCommit: commit, ackedAt: null, servedVersion: 'v-0123456789abcdef', lastNack: null }));
/** The fields of a node the printer does not show. */
const STREAM = { connectedAt: '2026-01-01T00:00:00.000Z', streamId: 1, peer: 'ipv4:127.0.0.1:50000', userAgent: 'envoy 1.40.0', servedCommit: null } as const;

let server: Server;
let current: StatusDocument;
let base: string;
beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(current));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

test('prints the served commit and every node with what it acknowledged; exit 0 when all are in sync', async () => {
  current = doc({}, [{ id: 'envoy-1', fleet: 'edge-dev', environment: 'dev', ...STREAM, protocol: 'delta', types: types('v-0123456789abcdef', COMMIT), lastNack: null, inSync: true }]);
  const c = captureCli({ cwd: '/' });
  expect(await runStatus(c.ctx, { server: base })).toBe(0);
  const out = c.out();
  expect(out).toContain('commit aaaaaaaaaaaa "tighten login"  version v-0123456789abc');
  expect(out).toContain('env dev: fleets edge-dev@f-0123456789abcd  lockdowns: stuffing until 2026-01-01T04:00:00Z');
  expect(out).toMatch(/NODE\s+FLEET\s+ENV\s+PROTOCOL\s+ACKED VERSION\s+COMMIT\s+STATE/);
  expect(out).toMatch(/envoy-1\s+edge-dev\s+dev\s+delta\s+f-0123456789abcd\s+aaaaaaaaaaaa\s+in sync/);
});

test('shows a rejected commit with its errors and a node NACK in Envoy’s words; exit 1', async () => {
  current = doc(
    {
      rejected: {
        commit: BAD,
        subject: 'typo',
        author: 'B <b@example.com>',
        at: '2026-01-01T00:01:00.000Z',
        stage: 'compile',
        errors: [{ file: 'policies/routes.yaml', line: 4, column: 9, subject: 'Route/orders', path: 'spec.path.prefix', message: 'must start with "/"' }],
      },
    },
    [
      {
        id: 'envoy-2',
        fleet: 'edge-dev',
        environment: 'dev',
        ...STREAM,
        protocol: 'sotw',
        types: types('v-old', COMMIT),
        lastNack: { type: 'route', version: 'v-new', commit: BAD, error: 'Invalid regex', errorBytes: 13, errorTruncated: false, code: 13, resources: ['edge-dev'], at: '2026-01-01T00:02:00.000Z' },
        inSync: false,
      },
    ],
  );
  const c = captureCli({ cwd: '/' });
  expect(await runStatus(c.ctx, { server: base })).toBe(1);
  const out = c.out();
  expect(out).toContain(`Rejected commit bbbbbbbbbbbb "typo"`);
  expect(out).toContain('policies/routes.yaml:4:9 Route/orders spec.path.prefix: must start with "/"');
  expect(out).toMatch(/envoy-2 .* NACK/);
  expect(out).toContain('Invalid regex');
});

test('--json prints the document as served', async () => {
  current = doc();
  const c = captureCli({ cwd: '/' });
  await runStatus(c.ctx, { server: base, json: true });
  expect(JSON.parse(c.out())).toEqual(current);
});

test('an unreachable server is exit 3 with a message', async () => {
  const c = captureCli({ cwd: '/' });
  expect(await runStatus(c.ctx, { server: 'http://127.0.0.1:1', timeoutMs: 2000 })).toBe(3);
  expect(c.err()).toContain('cannot reach http://127.0.0.1:1');
});

test('a failing fetch is exit 4 (the server cannot follow its repository), whatever else holds', async () => {
  current = doc({ lastFetch: { at: '2026-01-01T00:03:00.000Z', ok: false, commit: null, error: 'git fetch failed (128): could not read from remote' } });
  const c = captureCli({ cwd: '/' });
  expect(await runStatus(c.ctx, { server: base })).toBe(4);
  expect(c.out()).toMatch(/Fetch\s+failed at 2026-01-01T00:03:00.000Z: git fetch failed/);
});

test('refused streams are listed by node and make the exit 1; a truncated NACK says how long it was', async () => {
  const nack = { type: 'route' as const, version: 'v-new', commit: COMMIT, error: 'E'.repeat(40), errorBytes: 3_145_728, errorTruncated: true, code: 13, resources: [], at: '2026-01-01T00:02:00.000Z' };
  current = {
    ...doc({}, [{ id: 'envoy-3', fleet: 'edge-dev', environment: 'dev', ...STREAM, protocol: 'delta', types: types('v-old', COMMIT), lastNack: nack, inSync: false }]),
    refusedStreams: [{ node: 'edge-dvv-1', fleet: 'edge-dvv', reason: 'unknown_fleet', message: 'no configuration for fleet "edge-dvv"', peer: 'ipv4:10.0.0.9:4000', firstAt: '2026-01-01T00:00:05.000Z', lastAt: '2026-01-01T00:01:05.000Z', count: 7 }],
  };
  const c = captureCli({ cwd: '/' });
  expect(await runStatus(c.ctx, { server: base })).toBe(1);
  expect(c.out()).toMatch(/Refused streams[\s\S]*edge-dvv-1\s+edge-dvv\s+unknown_fleet\s+2026-01-01T00:01:05.000Z\s+7/);
  expect(c.out()).toContain(`${'E'.repeat(40)} … (truncated; 3145728 bytes in all)`);
});

test('an active lockdown no node enforces is shown NOT ENFORCED and makes the exit 1', async () => {
  current = {
    ...doc(),
    lockdowns: [
      {
        lockdown: 'stuffing',
        environment: 'dev',
        expiresAt: '2026-01-01T04:00:00Z',
        enforced: false,
        fleets: [{ fleet: 'edge-dev', nodes: 0, enforcedBy: [], rejectedBy: [], pending: [], summary: 'NOT ENFORCED: no Envoy of this fleet is connected' }],
      },
    ],
  };
  const c = captureCli({ cwd: '/' });
  expect(await runStatus(c.ctx, { server: base })).toBe(1);
  expect(c.out()).toContain('lockdown stuffing on edge-dev: NOT ENFORCED: no Envoy of this fleet is connected');
});
