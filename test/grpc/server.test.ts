/**
 * The control server's gRPC server (grpc/server.ts) as a client sees it: a grpc-js
 * client for the status semantics, a bare node:http2 client for the framing, a bare TCP peer for
 * the keepalive. The ADS and ALS suites run over it too; these are the edges they do not reach.
 */
import * as grpc from '@grpc/grpc-js';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import pino from 'pino';
import { createGrpcServer, type GrpcCall, type GrpcServer, GrpcStatus } from '../../grpc/server';

const ECHO = '/test.Echo/Stream';
const FAIL = '/test.Echo/Fail';
const identity = (b: Buffer): Buffer => b;

const framed = (message: Buffer): Buffer => {
  const out = Buffer.alloc(message.length + 5);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
};

let server: GrpcServer;
let port: number;
const written: Buffer[] = [];
const closedWhy: string[] = [];

async function start(keepalive = { timeMs: 60_000, timeoutMs: 20_000 }): Promise<void> {
  server = createGrpcServer({
    logger: pino({ level: 'silent' }),
    maxReceiveBytes: 1024,
    keepalive,
    methods: [
      {
        path: ECHO,
        open: (call: GrpcCall) => ({
          message: (bytes) => {
            const frame = framed(bytes);
            written.push(frame);
            call.write(frame);
          },
          halfClose: () => call.end(GrpcStatus.OK),
          closed: (why) => closedWhy.push(why),
        }),
      },
      {
        path: FAIL,
        open: (call: GrpcCall) => {
          call.end(GrpcStatus.NOT_FOUND, 'no such thing: ünïcode 100%');
          return { message: () => {}, halfClose: () => {}, closed: (why) => closedWhy.push(why) };
        },
      },
    ],
  });
  port = await server.listen('127.0.0.1', 0);
}

afterEach(async () => {
  written.length = 0;
  closedWhy.length = 0;
  await server?.shutdown(500);
});

function grpcCall(path: string, messages: readonly Buffer[]): Promise<{ status: grpc.StatusObject; received: Buffer[] }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    const call = client.makeBidiStreamRequest(path, identity, identity);
    call.on('data', (b: Buffer) => received.push(b));
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => {
      client.close();
      resolve({ status, received });
    });
    for (const m of messages) call.write(m);
    call.end();
  });
}

/** A bare HTTP/2 request on `path` with `headers`; resolves to the response headers, body and trailers. */
function rawCall(path: string, body: Buffer[], headers: http2.OutgoingHttpHeaders = {}): Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let response: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (response = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('close', () => {
      session.close();
      resolve({ headers: response, body: Buffer.concat(chunks), trailers });
    });
    (async () => {
      for (const part of body) {
        req.write(part);
        await new Promise((r) => setTimeout(r, 10));
      }
      req.end();
    })().catch(reject);
  });
}

test('messages are echoed in order and the call ends OK on the client half-close', async () => {
  await start();
  const { status, received } = await grpcCall(ECHO, [Buffer.from('one'), Buffer.from(''), Buffer.from('three')]);
  expect(status.code).toBe(grpc.status.OK);
  expect(received.map((b) => b.toString())).toEqual(['one', '', 'three']);
  expect(closedWhy).toEqual(['closed']);
});

test('a message split across HTTP/2 chunks, and several messages in one chunk, arrive whole', async () => {
  await start();
  const a = framed(Buffer.from('alpha'));
  const b = framed(Buffer.from('bravo'));
  const c = framed(Buffer.from('charlie'));
  const both = Buffer.concat([a, b, c]);
  // Cut inside the first prefix, inside the second message, and at a boundary.
  const { trailers, body } = await rawCall(ECHO, [both.subarray(0, 3), both.subarray(3, 14), both.subarray(14)]);
  expect(trailers['grpc-status']).toBe('0');
  expect(body).toEqual(both);
});

test('a frame is written to the HTTP/2 stream as the buffer it is (no copy per call)', async () => {
  await start();
  const seen: unknown[] = [];
  const original = Duplex.prototype.write;
  const spy = jest.spyOn(Duplex.prototype, 'write').mockImplementation(function (this: Duplex, chunk: unknown, ...rest: unknown[]) {
    if (this.constructor.name === 'ServerHttp2Stream') seen.push(chunk);
    return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  });
  try {
    const { received } = await grpcCall(ECHO, [Buffer.from('x'.repeat(100))]);
    expect(received).toHaveLength(1);
  } finally {
    spy.mockRestore();
  }
  expect(written).toHaveLength(1);
  expect(seen).toHaveLength(1);
  expect(seen[0]).toBe(written[0]);
});

test('an unknown method is UNIMPLEMENTED, trailers-only', async () => {
  await start();
  const { headers, body } = await rawCall('/test.Echo/Nope', []);
  expect(headers[':status']).toBe(200);
  expect(headers['grpc-status']).toBe(String(GrpcStatus.UNIMPLEMENTED));
  expect(headers['grpc-message']).toContain('/test.Echo/Nope');
  expect(body.length).toBe(0);
});

test('a status message outside printable ASCII is percent-encoded and reaches a gRPC client intact', async () => {
  await start();
  const { headers } = await rawCall(FAIL, []);
  expect(headers['grpc-message']).toBe('no such thing: %C3%BCn%C3%AFcode 100%25');
  const { status } = await grpcCall(FAIL, []);
  expect(status.code).toBe(grpc.status.NOT_FOUND);
  expect(status.details).toBe('no such thing: ünïcode 100%');
});

test('a request that is not gRPC gets HTTP 415', async () => {
  await start();
  const { headers } = await rawCall(ECHO, [], { 'content-type': 'application/json' });
  expect(headers[':status']).toBe(415);
});

test('a message over maxReceiveBytes ends the call RESOURCE_EXHAUSTED; the method never sees it', async () => {
  await start();
  const { status, received } = await grpcCall(ECHO, [Buffer.from('small'), Buffer.alloc(2048, 1)]);
  expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  expect(status.details).toContain('2048');
  expect(received.map((b) => b.toString())).toEqual(['small']);
});

test('a compressed message (flag set) ends the call INTERNAL; an unsupported grpc-encoding is UNIMPLEMENTED', async () => {
  await start();
  const compressed = framed(Buffer.from('zz'));
  compressed[0] = 1;
  const r1 = await rawCall(ECHO, [compressed]);
  expect(r1.trailers['grpc-status'] ?? r1.headers['grpc-status']).toBe(String(GrpcStatus.INTERNAL));
  expect(written).toEqual([]);
  const r2 = await rawCall(ECHO, [], { 'grpc-encoding': 'gzip' });
  expect(r2.headers['grpc-status']).toBe(String(GrpcStatus.UNIMPLEMENTED));
});

test('a call whose connection is lost is closed as cancelled, not taken for a half-close', async () => {
  await start();
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const req = session.request({ ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc', te: 'trailers' });
  req.write(framed(Buffer.from('hi')));
  await new Promise((r) => req.once('data', r));
  session.destroy();
  for (let i = 0; i < 100 && closedWhy.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(closedWhy).toEqual(['cancelled']);
});

test('a connection that does not answer pings is closed after the keepalive timeout', async () => {
  await start({ timeMs: 100, timeoutMs: 200 });
  // A bare HTTP/2 peer: the connection preface and an empty SETTINGS frame, then silence (no
  // SETTINGS or PING acknowledgements).
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  const t0 = Date.now();
  socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]));
  let pings = 0;
  socket.on('data', (d: Buffer) => {
    // Frame type 6 is PING; count the server's (frames may share a chunk: scan frame by frame).
    for (let at = 0; at + 9 <= d.length; at += 9 + d.readUIntBE(at, 3)) if (d[at + 3] === 6) pings++;
  });
  const closed = await Promise.race([new Promise<boolean>((r) => socket.once('close', () => r(true))), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
  socket.destroy();
  expect(closed).toBe(true);
  expect(pings).toBeGreaterThanOrEqual(1);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
});

test('a connection that answers pings stays open past several keepalive periods', async () => {
  await start({ timeMs: 50, timeoutMs: 100 });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  let pings = 0;
  session.on('ping', () => pings++);
  let closed = false;
  session.on('close', () => (closed = true));
  await new Promise((r) => setTimeout(r, 600));
  expect(closed).toBe(false);
  expect(pings).toBeGreaterThanOrEqual(3);
  session.close();
});
