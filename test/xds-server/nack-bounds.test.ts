/**
 * Issue 7 item 26: a NACK whose error_detail is megabytes long (100 streams × 3 MB) must not make
 * /status fail or the log explode: what is stored, shown and logged per NACK is bounded, with the
 * original size kept.
 */
import { statSync } from 'node:fs';
import { AdsClient } from '../../bench/xds/ads-client';
import { TYPE_URL } from '../../compiler/envoy/resources';
import { MAX_NACK_ERROR_BYTES, boundedMessage } from '../../xds-server/stream';
import { createPolicyWorld, serverStatus, startServerInProcess, type PolicyWorld } from '../support/e2e';

jest.setTimeout(120_000);

let world: PolicyWorld;
let server: Awaited<ReturnType<typeof startServerInProcess>>;
const clients: AdsClient[] = [];

beforeAll(async () => {
  world = await createPolicyWorld();
  server = await startServerInProcess(world);
});

afterAll(async () => {
  for (const c of clients) c.cancel();
  await server?.stop();
  await world?.close();
});

test.each([
  ['short', 'abc', 10, 'abc', false],
  ['cut at the byte limit', 'x'.repeat(20), 10, 'x'.repeat(10), true],
  ['never inside a character', 'é'.repeat(10), 5, 'éé', true],
  ['never inside a surrogate pair', '😀😀😀', 7, '😀', true],
])('boundedMessage: %s', (_label, message, max, text, truncated) => {
  expect(boundedMessage(message, max)).toEqual({ text, bytes: Buffer.byteLength(message), truncated });
});

test('100 streams NACKing with a 3 MB error each: /status answers 200, each NACK is cut to 4 KiB with its size, the log stays small', async () => {
  const huge = 'E'.repeat(3 * 1024 * 1024);
  const streams = 100;
  const logBefore = statSync(server.logFile).size;
  for (let i = 0; i < streams; i++) {
    clients.push(new AdsClient({ port: server.xdsPort, variant: 'sotw', node: { id: `nack-${String(i).padStart(3, '0')}`, cluster: 'e2e-sotw' } }));
  }
  // Sequentially: each client's 3 MB NACK is written and read before the next one, bounding the peak.
  for (const c of clients) {
    c.sotw({ typeUrl: TYPE_URL.cluster, versionInfo: '', responseNonce: '' });
    const r = await c.next('cluster', 10_000);
    c.nack(r, huge);
  }
  const deadline = Date.now() + 60_000;
  let doc = await serverStatus(server.http.url);
  while (doc.nodes.filter((n) => n.lastNack).length < streams && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    doc = await serverStatus(server.http.url);
  }
  const res = await fetch(`${server.http.url}/status`);
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text.length).toBeLessThan(10 * 1024 * 1024);
  doc = JSON.parse(text) as typeof doc;
  const nacked = doc.nodes.filter((n) => n.lastNack);
  expect(nacked).toHaveLength(streams);
  for (const n of nacked) {
    expect(n.lastNack!.error).toBe('E'.repeat(MAX_NACK_ERROR_BYTES));
    expect(n.lastNack!.errorBytes).toBe(huge.length);
    expect(n.lastNack!.errorTruncated).toBe(true);
  }
  // 100 NACK lines of ≈ 4 KiB each, not 300 MB.
  expect(statSync(server.logFile).size - logBefore).toBeLessThan(5 * 1024 * 1024);
});
