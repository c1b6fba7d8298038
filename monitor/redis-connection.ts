/**
 * The fleet merge's connection to Redis (monitor/fleet-share.ts), through ioredis: pipelines of
 * commands, each exchange (connecting included) bounded by a timeout, nothing queued while the
 * connection is down and nothing retried in the background. A failed exchange drops its connection;
 * the next exchange (the next evaluation tick) opens a new one.
 */
import { Redis, ReplyError } from 'ioredis';

export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly password?: string | undefined;
  readonly db?: number | undefined;
}

/** redis://[:password@]host[:port][/db] → target; an error message for anything else. */
export function parseRedisUrl(url: string): RedisTarget | string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `not a URL: ${url}`;
  }
  if (u.protocol !== 'redis:') return `expected redis://host:port, got ${url}`;
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) return `the database must be a number: ${url}`;
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: db === '' ? undefined : Number(db),
  };
}

/** A reply to one command of a pipeline; an error reply (`-ERR …`) is an Error. */
export type RedisReply = unknown;

interface Connection {
  readonly client: Redis;
  /** Resolves when the connection is ready (handshake done). */
  readonly ready: Promise<void>;
}

export class RedisConnection {
  private conn: Connection | null = null;

  constructor(
    readonly target: RedisTarget,
    /** Bound on each exchange: connecting and the replies of one pipeline. */
    private readonly timeoutMs = 2000,
  ) {}

  /**
   * Sends the commands as one pipeline; resolves to their replies in order (error replies as
   * Errors). Rejects, and drops the connection, when Redis cannot be reached or does not answer.
   */
  async pipeline(cmds: readonly (readonly (string | number)[])[]): Promise<RedisReply[]> {
    if (cmds.length === 0) return [];
    const conn = this.open();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([exchange(conn, cmds), late]);
    } catch (e) {
      this.drop(conn);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async command(...cmd: (string | number)[]): Promise<RedisReply> {
    const [r] = await this.pipeline([cmd]);
    if (r instanceof Error) throw r;
    return r ?? null;
  }

  close(): void {
    if (this.conn) this.drop(this.conn);
  }

  private open(): Connection {
    if (this.conn && this.conn.client.status !== 'end') return this.conn;
    const client = new Redis({
      host: this.target.host,
      port: this.target.port,
      password: this.target.password,
      db: this.target.db,
      // RESP2: replies shaped as fleet-share reads them (ZREVRANGE … WITHSCORES as a flat list).
      protocol: 2,
      lazyConnect: true,
      connectTimeout: this.timeoutMs,
      commandTimeout: this.timeoutMs,
      // Down is down: a command fails at once, is never queued or resent, and ioredis never
      // reconnects by itself (the next exchange opens a new connection).
      enableOfflineQueue: false,
      retryStrategy: () => null,
      disableClientInfo: true,
    });
    // Failures reach the caller as rejected exchanges (fleet-share counts and logs them once per
    // outage); without a listener ioredis would print every connection error. The last one says why
    // connecting failed (ioredis rejects with a bare "Connection is closed.").
    let cause: Error | null = null;
    client.on('error', (e: Error) => {
      cause = e;
    });
    const ready = client.connect().catch((e: unknown) => {
      throw new Error(`cannot connect to Redis at ${this.target.host}:${this.target.port}: ${(cause ?? (e as Error)).message}`);
    });
    ready.catch(() => undefined); // awaited by the exchange that opened it; may settle after a drop
    this.conn = { client, ready };
    return this.conn;
  }

  private drop(conn: Connection): void {
    if (this.conn === conn) this.conn = null;
    // Ended: its socket is closed already (ioredis would otherwise keep a 2 s timer waiting for it).
    if (conn.client.status !== 'end') conn.client.disconnect();
  }
}

async function exchange(conn: Connection, cmds: readonly (readonly (string | number)[])[]): Promise<RedisReply[]> {
  await conn.ready;
  const batch = conn.client.pipeline();
  for (const [name, ...args] of cmds) batch.call(String(name), ...args);
  const results = (await batch.exec()) ?? [];
  const replies = results.map(([err, reply]) => err ?? reply);
  // A command that failed for another reason than an error reply (connection lost, timed out).
  const lost = replies.find((r) => r instanceof Error && !(r instanceof ReplyError));
  if (lost) throw lost as Error;
  return replies;
}
