import { connect } from 'node:net';
import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { startHttpEdge, type HttpEdge } from '../../../xds-server/http/server';
import type { StatusDocument } from '../../../cli/status-document';
import { signBody, verifySignature } from '../../../xds-server/http/webhook';

const SECRET = "It's a Secret to Everybody";

const status: StatusDocument = {
  server: { version: '0.1.0', startedAt: '2026-01-01T00:00:00.000Z', xds: { host: '127.0.0.1', port: 18000 } },
  policy: { repo: '/tmp/r', branch: 'main', path: 'policies', served: null, rejected: null, lastFetch: null, nextRecompileAt: null },
  nodes: [],
  warnings: [],
};

let edge: HttpEdge;
let pushes: { ref: string; after: string | null; delivery: string | null }[];
let registry: Registry;

beforeEach(async () => {
  pushes = [];
  deliveries = 0;
  registry = new Registry();
  new Counter({ name: 'portcullis_test_counter_total', help: 'x', registers: [registry] }).inc(3);
  edge = await startHttpEdge({
    host: '127.0.0.1',
    port: 0,
    registry,
    logger: pino({ level: 'silent' }),
    status: () => status,
    ready: () => false,
    webhook: { secret: Buffer.from(SECRET), branch: 'main', onPush: (p) => pushes.push(p) },
    maxBodyBytes: 64 * 1024,
  });
});
afterEach(() => edge.close());

let deliveries = 0;
/** A signed delivery; each gets its own X-GitHub-Delivery (d-1, d-2, … per test) unless `delivery` repeats one. */
function deliver(event: string, payload: unknown, opts: { signature?: string | null; contentType?: string; raw?: string; delivery?: string } = {}) {
  const body = opts.raw ?? JSON.stringify(payload);
  const delivery = opts.delivery ?? `d-${++deliveries}`;
  const headers: Record<string, string> = { 'content-type': opts.contentType ?? 'application/json', 'x-github-event': event, 'x-github-delivery': delivery };
  if (opts.signature !== null) headers['x-hub-signature-256'] = opts.signature ?? signBody(SECRET, body);
  return fetch(`${edge.url}/hooks/git`, { method: 'POST', headers, body });
}

test('signature check matches GitHub’s documented example', () => {
  // The example from GitHub's "Validating webhook deliveries" page.
  expect(verifySignature(Buffer.from(SECRET), Buffer.from('Hello, World!'), 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17')).toBe(true);
  expect(verifySignature(Buffer.from(SECRET), Buffer.from('Hello, World?'), 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17')).toBe(false);
  expect(verifySignature(Buffer.from(SECRET), Buffer.from('Hello, World!'), 'sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17')).toBe(false);
  expect(verifySignature(Buffer.from(SECRET), Buffer.from('Hello, World!'), 'sha256=zz')).toBe(false);
  expect(verifySignature(Buffer.from(''), Buffer.from('x'), signBody('', 'x'))).toBe(false);
});

test('a signed push to the followed branch triggers a fetch (202)', async () => {
  const res = await deliver('push', { ref: 'refs/heads/main', after: 'abc123' });
  expect(res.status).toBe(202);
  expect(await res.json()).toEqual({ accepted: true, ref: 'refs/heads/main', after: 'abc123' });
  expect(pushes).toEqual([{ ref: 'refs/heads/main', after: 'abc123', delivery: 'd-1' }]);
});

test('form-encoded deliveries are accepted too', async () => {
  const raw = new URLSearchParams({ payload: JSON.stringify({ ref: 'refs/heads/main', after: 'f00' }) }).toString();
  const res = await deliver('push', null, { raw, contentType: 'application/x-www-form-urlencoded' });
  expect(res.status).toBe(202);
  expect(pushes).toHaveLength(1);
});

test.each([
  ['missing', null],
  ['wrong', signBody('another secret', JSON.stringify({ ref: 'refs/heads/main' }))],
  ['malformed', 'sha256=nothex'],
])('a %s signature is refused with 401 and nothing happens', async (_label, signature) => {
  const res = await deliver('push', { ref: 'refs/heads/main' }, { signature });
  expect(res.status).toBe(401);
  expect(pushes).toEqual([]);
  expect(await registry.getSingleMetricAsString('portcullis_webhook_requests_total')).toMatch(/result="unauthorized"} 1/);
});

test('a push to another branch is ignored (202), ping answers 200', async () => {
  const other = await deliver('push', { ref: 'refs/heads/feature', after: 'abc' });
  expect(other.status).toBe(202);
  expect(await other.json()).toMatchObject({ ignored: true });
  const ping = await deliver('ping', { zen: 'Keep it logically awesome.', hook_id: 1 });
  expect(ping.status).toBe(200);
  expect(await ping.json()).toEqual({ ok: true, zen: 'Keep it logically awesome.' });
  expect(pushes).toEqual([]);
});

test('a signed body that is not JSON is a 400; an oversized body is a 413', async () => {
  expect((await deliver('push', null, { raw: '{not json' })).status).toBe(400);
  const big = JSON.stringify({ ref: 'refs/heads/main', pad: 'x'.repeat(100 * 1024) });
  const res = await deliver('push', null, { raw: big });
  expect(res.status).toBe(413);
  expect(pushes).toEqual([]);
});

test('status, metrics, health and readiness', async () => {
  const s = await fetch(`${edge.url}/status`);
  expect(s.status).toBe(200);
  expect(await s.json()).toEqual(status);
  const m = await fetch(`${edge.url}/metrics`);
  expect(m.headers.get('content-type')).toContain('text/plain');
  const text = await m.text();
  expect(text).toContain('portcullis_test_counter_total 3');
  expect(text).toContain('portcullis_webhook_requests_total');
  expect((await fetch(`${edge.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${edge.url}/readyz`)).status).toBe(503);
  expect((await fetch(`${edge.url}/nope`)).status).toBe(404);
  expect((await fetch(`${edge.url}/hooks/git`)).status).toBe(405);
});

test('a replayed delivery (same X-GitHub-Delivery) is answered 202 without a second fetch', async () => {
  expect((await deliver('push', { ref: 'refs/heads/main', after: 'abc123' })).status).toBe(202);
  const replay = await deliver('push', { ref: 'refs/heads/main', after: 'abc123' }, { delivery: 'd-1' });
  expect(replay.status).toBe(202);
  expect(await replay.json()).toMatchObject({ ignored: true });
  expect(pushes).toHaveLength(1);
  expect(await registry.getSingleMetricAsString('portcullis_webhook_requests_total')).toMatch(/result="duplicate"} 1/);
});

test('an unsigned delivery does not use up its delivery id', async () => {
  expect((await deliver('push', { ref: 'refs/heads/main' }, { signature: 'sha256=00' })).status).toBe(401);
  expect((await deliver('push', { ref: 'refs/heads/main', after: 'abc' })).status).toBe(202);
  expect(pushes).toHaveLength(1);
});

test('every webhook result is exported at 0 before the first delivery', async () => {
  const text = await registry.getSingleMetricAsString('portcullis_webhook_requests_total');
  for (const result of ['sync', 'ignored', 'pong', 'duplicate', 'unauthorized', 'bad-request', 'too-large']) {
    expect(text).toContain(`portcullis_webhook_requests_total{result="${result}"} 0`);
  }
});

test('Expect: 100-continue with an oversized Content-Length gets 413 at once, never "100 Continue"', async () => {
  const first = await new Promise<string>((resolve, reject) => {
    const socket = connect(edge.port, '127.0.0.1', () => {
      socket.write(
        'POST /hooks/git HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n' +
          `Content-Length: ${100 * 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n`,
      );
    });
    let got = '';
    socket.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.includes('\r\n')) {
        socket.destroy();
        resolve(got.split('\r\n')[0]!);
      }
    });
    socket.on('error', reject);
    setTimeout(() => reject(new Error(`no answer within 3 s (got ${JSON.stringify(got)})`)), 3000).unref();
  });
  expect(first).toBe('HTTP/1.1 413 Payload Too Large');
  expect(pushes).toEqual([]);
});

test('Expect: 100-continue with an acceptable body is continued and handled', async () => {
  const body = JSON.stringify({ ref: 'refs/heads/main', after: 'c0ffee' });
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(edge.port, '127.0.0.1', () => {
      socket.write(
        'POST /hooks/git HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\nX-GitHub-Delivery: d-continue\r\n' +
          `X-Hub-Signature-256: ${signBody(SECRET, body)}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      );
    });
    let got = '';
    socket.on('data', (c: Buffer) => {
      got += c.toString('latin1');
      if (got.startsWith('HTTP/1.1 100 Continue\r\n\r\n') && !got.includes('202')) socket.write(body);
    });
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
    setTimeout(() => reject(new Error(`no answer within 3 s (got ${JSON.stringify(got)})`)), 3000).unref();
  });
  expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 202 Accepted/);
  expect(pushes).toEqual([{ ref: 'refs/heads/main', after: 'c0ffee', delivery: 'd-continue' }]);
});
