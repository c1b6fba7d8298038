/**
 * Issue 14 item 3: one buffer per response, shared by every stream all the way to the socket. The
 * HTTP/2 writes of the server's streams are watched (Duplex.prototype.write, which Node's
 * Http2Stream inherits): streams due the same response must be handed the very same Buffer, not a
 * copy each (grpc-js frames every message into a fresh buffer unless the frame passes through).
 */
import { Duplex } from 'node:stream';
import { fleetResources } from './fixtures';
import { CDS, EDS, type Harness, publish, startHarness } from './harness';

let h: Harness;
let writes: { stream: object; chunk: Buffer }[] = [];
let spy: jest.SpyInstance | undefined;
beforeEach(() => {
  writes = [];
  const original = Duplex.prototype.write;
  spy = jest.spyOn(Duplex.prototype, 'write').mockImplementation(function (this: Duplex, chunk: unknown, ...rest: unknown[]) {
    if (this.constructor.name === 'ServerHttp2Stream' && Buffer.isBuffer(chunk)) writes.push({ stream: this, chunk });
    return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  });
});
afterEach(async () => {
  spy?.mockRestore();
  await h?.close();
});

/** The response frames the server wrote (gRPC messages of at least `min` bytes), per stream. */
const framesWritten = (min: number) => writes.filter((w) => w.chunk.length >= min && w.chunk[0] === 0 && w.chunk.readUInt32BE(1) === w.chunk.length - 5);

test.each(['sotw', 'delta'] as const)('%s: streams due the same response are written the same Buffer, with one nonce', async (variant) => {
  h = await startHarness();
  await publish(h, fleetResources({ clusters: ['svc-a', 'svc-b', 'svc-c', 'svc-d'] }));
  const clients = [1, 2, 3].map((i) => h.client(variant, { id: `n${i}`, cluster: 'edge' }));
  for (const c of clients) {
    if (variant === 'sotw') c.sotw({ typeUrl: CDS });
    else c.delta({ typeUrl: CDS });
  }
  const responses = await Promise.all(clients.map((c) => c.next('cluster')));
  expect(new Set(responses.map((r) => r.nonce)).size).toBe(1);
  const frames = framesWritten(200);
  expect(new Set(frames.map((f) => f.stream)).size).toBe(3);
  expect(frames).toHaveLength(3);
  expect(frames[1]!.chunk).toBe(frames[0]!.chunk);
  expect(frames[2]!.chunk).toBe(frames[0]!.chunk);
});

test('a stream due a frame it was sent before gets its own copy with a fresh nonce (a nonce never repeats on a stream)', async () => {
  h = await startHarness();
  await publish(h, fleetResources());
  const c = h.client('delta');
  const other = h.client('delta');
  c.delta({ typeUrl: EDS, subscribe: ['svc-a'] });
  const first = await c.next('endpoint');
  c.ack(first);
  c.delta({ typeUrl: EDS, unsubscribe: ['svc-a'] });
  expect(await c.quiet(100)).toEqual([]);
  c.delta({ typeUrl: EDS, subscribe: ['svc-a'] });
  const again = await c.next('endpoint');
  expect(again.resources.map((r) => r.name)).toEqual(['svc-a']);
  expect(again.nonce).not.toBe(first.nonce);
  // Another stream due the same response still gets the shared frame.
  other.delta({ typeUrl: EDS, subscribe: ['svc-a'] });
  expect((await other.next('endpoint')).nonce).toBe(first.nonce);
});
