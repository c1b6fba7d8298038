/**
 * The control server's gRPC server: gRPC over HTTP/2 (the wire protocol of grpc/grpc's
 * PROTOCOL-HTTP2.md) on node:http2, for the few services Envoy calls on it (ADS, the monitor's
 * access-log service). It exists for the cost of a message: every ADS push and ACK passed through
 * grpc-js's call objects (a Readable per call, a decoder state machine, metadata and status
 * bookkeeping) and every response was framed into a fresh buffer (docs/xds-server.md, "Its own
 * gRPC server", has the figures). Here a message is the HTTP/2
 * stream's own chunk, cut at its 5-byte prefix, and a response is the caller's framed buffer,
 * written as it is (no copy per stream).
 *
 * What a gRPC client sees: messages uncompressed (`grpc-accept-encoding: identity`; a compressed
 * one ends the call INTERNAL), a message above `maxReceiveBytes` ends it RESOURCE_EXHAUSTED, an
 * unknown method is UNIMPLEMENTED, a request that is not gRPC gets HTTP 415. Each connection is
 * pinged every `keepalive.timeMs` and closed when a ping goes unanswered for `timeoutMs`.
 */
import * as http2 from 'node:http2';
import type { Logger } from 'pino';

/** The gRPC status codes this server ends calls with. */
export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/** A status code's name (`NOT_FOUND`), for log lines. */
export function grpcStatusName(code: GrpcStatusCode): string {
  return Object.entries(GrpcStatus).find(([, c]) => c === code)?.[0] ?? String(code);
}

/** The server's half of one call. */
export interface GrpcCall {
  /** The client's address, `host:port` (`[v6]:port`). */
  readonly peer: string;
  /** Sends one gRPC message as framed (5-byte prefix included); the buffer goes to the socket as it is. */
  write(frame: Buffer): void;
  /** Ends the call with `code` (once; later ends and writes do nothing). */
  end(code: GrpcStatusCode, details?: string): void;
}

/** What a method does with a call's events. */
export interface GrpcCallHandlers {
  /** One request message (without its prefix). */
  message(bytes: Buffer): void;
  /** The client has sent its last message. */
  halfClose(): void;
  /** The call is over: ended here, reset by the client, or its connection lost. Called once. */
  closed(why: string): void;
}

/** One streaming method: its path and what opens a call on it. */
export interface GrpcMethod {
  readonly path: string;
  open(call: GrpcCall): GrpcCallHandlers;
}

export interface GrpcServerOptions {
  readonly methods: readonly GrpcMethod[];
  readonly logger: Logger;
  /** Mutual TLS: clients must present a certificate signed by `ca`. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer; readonly ca: string | Buffer };
  readonly maxReceiveBytes: number;
  readonly keepalive: { readonly timeMs: number; readonly timeoutMs: number };
}

export interface GrpcServer {
  /** Binds host:port; resolves to the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting, lets connections close (GOAWAY) for up to graceMs, then destroys what is left. */
  shutdown(graceMs: number): Promise<void>;
}

const PREFIX = 5;
const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity' } as const;

export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const methods = new Map(options.methods.map((m) => [m.path, m]));
  const common: http2.ServerOptions = {
    // Node refuses new streams on a session past this much buffered data; the responses queued on
    // a stream are the snapshot's shared buffers, so the limit would count them once per stream.
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
    maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER,
  };
  const { tls } = options;
  const server = tls
    ? http2.createSecureServer({ ...common, cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, ALPNProtocols: ['h2'] })
    : http2.createServer(common);
  const sessions = new Set<http2.ServerHttp2Session>();

  server.on('session', (session) => {
    sessions.add(session);
    const stopPings = keepPinging(session, options.keepalive);
    session.on('error', (err) => options.logger.debug({ err }, 'grpc connection error'));
    session.on('close', () => {
      stopPings();
      sessions.delete(session);
    });
  });
  server.on('stream', (stream, headers) => serveStream(stream, headers, methods, options.maxReceiveBytes));
  server.on('tlsClientError', (err) => options.logger.debug({ err: err.message }, 'grpc TLS handshake refused'));

  return {
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      }),
    shutdown: (graceMs) =>
      new Promise((resolve) => {
        const force = setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        for (const s of sessions) s.close();
      }),
  };
}

/** Pings `session` every timeMs; a ping unanswered for timeoutMs closes it. Returns the stopper. */
function keepPinging(session: http2.ServerHttp2Session, keepalive: GrpcServerOptions['keepalive']): () => void {
  let deadline: NodeJS.Timeout | undefined;
  const every = setInterval(() => {
    if (deadline || session.destroyed) return;
    deadline = setTimeout(() => session.destroy(), keepalive.timeoutMs);
    deadline.unref();
    const sent = session.ping(() => {
      clearTimeout(deadline);
      deadline = undefined;
    });
    if (!sent) {
      clearTimeout(deadline);
      deadline = undefined;
    }
  }, keepalive.timeMs);
  every.unref();
  return () => {
    clearInterval(every);
    clearTimeout(deadline);
  };
}

function serveStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, methods: ReadonlyMap<string, GrpcMethod>, maxReceiveBytes: number): void {
  stream.on('error', () => {}); // a reset or lost connection: 'close' follows
  const contentType = headers['content-type'] ?? '';
  if (headers[':method'] !== 'POST' || !(contentType === 'application/grpc' || contentType.startsWith('application/grpc+') || contentType.startsWith('application/grpc;'))) {
    stream.respond({ ':status': 415 }, { endStream: true });
    return;
  }
  const call = new Http2Call(stream, peerOf(stream));
  const method = methods.get(headers[':path'] ?? '');
  if (!method) return call.end(GrpcStatus.UNIMPLEMENTED, `unknown method ${headers[':path'] ?? ''}`);
  const encoding = headers['grpc-encoding'];
  if (encoding !== undefined && encoding !== 'identity') return call.end(GrpcStatus.UNIMPLEMENTED, `grpc-encoding ${String(encoding)} is not supported; use identity`);

  const handlers = method.open(call);
  const reader = new MessageReader(maxReceiveBytes);
  stream.on('data', (chunk: Buffer) => {
    if (call.ended) return; // the rest of a refused message, or a request after the end: dropped
    const refused = reader.push(chunk, (message) => {
      if (!call.ended) handlers.message(message);
    });
    if (refused) call.end(refused.code, refused.details);
  });
  stream.on('end', () => {
    // Node also ends the readable side of a stream whose connection is lost (after 'aborted'):
    // only a clean END_STREAM is a half-close.
    if (!call.ended && !stream.aborted) handlers.halfClose();
  });
  stream.on('close', () => handlers.closed(call.ended ? 'closed' : 'cancelled'));
}

function peerOf(stream: http2.ServerHttp2Stream): string {
  const socket = stream.session?.socket;
  const host = socket?.remoteAddress ?? 'unknown';
  return `${host.includes(':') ? `[${host}]` : host}:${socket?.remotePort ?? 0}`;
}

class Http2Call implements GrpcCall {
  private headersSent = false;
  ended = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    readonly peer: string,
  ) {}

  write(frame: Buffer): void {
    if (this.ended || this.stream.destroyed) return;
    if (!this.headersSent) {
      this.headersSent = true;
      this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    }
    this.stream.write(frame);
  }

  end(code: GrpcStatusCode, details = ''): void {
    if (this.ended) return;
    this.ended = true;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    const status = { 'grpc-status': String(code), ...(details ? { 'grpc-message': percentEncoded(details) } : {}) };
    if (!this.headersSent) {
      // Trailers-only: one HEADERS frame carrying the status.
      this.headersSent = true;
      stream.respond({ ...RESPONSE_HEADERS, ...status }, { endStream: true });
      return;
    }
    stream.once('wantTrailers', () => stream.sendTrailers(status));
    stream.end();
  }
}

/** Cuts a stream's chunks into gRPC messages; a chunk holding whole messages is not copied, a message split across chunks is joined once. */
class MessageReader {
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxBytes: number) {}

  /** Hands every whole message so far to `each`; returns why the call must end, if it must. */
  push(chunk: Buffer, each: (message: Buffer) => void): { code: GrpcStatusCode; details: string } | null {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size >= PREFIX) {
      if (this.chunks[0]!.length < PREFIX) this.chunks = [Buffer.concat(this.chunks, this.size)];
      const head = this.chunks[0]!;
      if (head[0] !== 0) return { code: GrpcStatus.INTERNAL, details: 'compressed message without a negotiated grpc-encoding' };
      const length = head.readUInt32BE(1);
      if (length > this.maxBytes) return { code: GrpcStatus.RESOURCE_EXHAUSTED, details: `received message larger than max (${length} vs. ${this.maxBytes})` };
      if (this.size < PREFIX + length) break;
      const buf = this.chunks.length === 1 ? head : Buffer.concat(this.chunks, this.size);
      const rest = buf.subarray(PREFIX + length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.size = rest.length;
      each(buf.subarray(PREFIX, PREFIX + length));
    }
    return null;
  }
}

/** grpc-message: percent-encoded outside printable ASCII, and '%' itself. */
function percentEncoded(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
