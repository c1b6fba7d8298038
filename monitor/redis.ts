/**
 * A small Redis client (RESP2 over one TCP connection): pipelines of commands, each pipeline bounded
 * by a timeout, reconnecting lazily on the next call after an error. Enough for the monitor's fleet
 * merge (monitor/fleet-share.ts); no pub/sub, no cluster.
 */
import { createConnection, type Socket } from 'node:net';

export type RedisReply = string | number | null | RedisReply[] | RedisReplyError;

/** An error reply (`-ERR …`) to one command of a pipeline. */
export class RedisReplyError extends Error {}

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

function encode(cmd: readonly (string | number)[]): string {
  let out = `*${cmd.length}\r\n`;
  for (const a of cmd) {
    const s = String(a);
    out += `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  }
  return out;
}

/** One reply parsed from `buf` at `at`, or null when the buffer does not hold all of it yet. */
function parseReply(buf: Buffer, at: number): { value: RedisReply; next: number } | null {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return null;
  const line = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (buf[at]) {
    case 0x2b: // +
      return { value: line, next };
    case 0x2d: // -
      return { value: new RedisReplyError(line), next };
    case 0x3a: // :
      return { value: Number(line), next };
    case 0x24: { // $
      const n = Number(line);
      if (n < 0) return { value: null, next };
      if (buf.length < next + n + 2) return null;
      return { value: buf.toString('utf8', next, next + n), next: next + n + 2 };
    }
    case 0x2a: { // *
      const n = Number(line);
      if (n < 0) return { value: null, next };
      const items: RedisReply[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseReply(buf, p);
        if (!r) return null;
        items.push(r.value);
        p = r.next;
      }
      return { value: items, next: p };
    }
    default:
      throw new Error(`unexpected Redis reply byte ${String(buf[at])}`);
  }
}

interface Waiting {
  readonly replies: RedisReply[];
  readonly count: number;
  readonly resolve: (r: RedisReply[]) => void;
  readonly reject: (e: Error) => void;
}

export class RedisClient {
  private socket: Socket | null = null;
  private connecting: Promise<Socket> | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private readonly queue: Waiting[] = [];

  constructor(
    readonly target: RedisTarget,
    /** Bound on connecting and on each pipeline's replies. */
    private readonly timeoutMs = 2000,
  ) {}

  /** Sends the commands in one write; resolves to their replies in order (error replies included). */
  async pipeline(cmds: readonly (readonly (string | number)[])[]): Promise<RedisReply[]> {
    if (cmds.length === 0) return [];
    const socket = await this.connect();
    return this.send(socket, cmds);
  }

  async command(...cmd: (string | number)[]): Promise<RedisReply> {
    const [r] = await this.pipeline([cmd]);
    if (r instanceof RedisReplyError) throw r;
    return r ?? null;
  }

  close(): void {
    this.fail(new Error('Redis client closed'));
  }

  private send(socket: Socket, cmds: readonly (readonly (string | number)[])[]): Promise<RedisReply[]> {
    return new Promise<RedisReply[]>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`Redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      this.queue.push({
        replies: [],
        count: cmds.length,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      socket.write(cmds.map(encode).join(''));
    });
  }

  private connect(): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    if (this.connecting) return this.connecting;
    const attempt: Promise<Socket> = new Promise<Socket>((resolve, reject) => {
      const s = createConnection({ host: this.target.host, port: this.target.port });
      s.setNoDelay(true);
      s.setTimeout(this.timeoutMs, () => s.destroy(new Error(`Redis connect to ${this.target.host}:${this.target.port} timed out`)));
      s.once('connect', () => {
        s.setTimeout(0);
        this.socket = s;
        this.connecting = null;
        this.hello(s).then(() => resolve(s), (e: unknown) => reject(e instanceof Error ? e : new Error(String(e))));
      });
      s.on('data', (d: Buffer) => {
        if (this.socket === s) this.onData(d);
      });
      s.on('error', (e) => {
        // Before 'connect': this connection attempt failed; after: the connection is gone.
        if (this.socket === s) this.fail(e);
        else if (this.connecting === attempt) {
          this.connecting = null;
          reject(e);
        }
      });
      s.once('close', () => {
        if (this.socket === s) this.fail(new Error('Redis connection closed'));
      });
    });
    this.connecting = attempt;
    return attempt;
  }

  /** AUTH and SELECT on a new connection. */
  private async hello(s: Socket): Promise<void> {
    const cmds: string[][] = [];
    if (this.target.password !== undefined) cmds.push(['AUTH', this.target.password]);
    if (this.target.db !== undefined) cmds.push(['SELECT', String(this.target.db)]);
    const replies = await this.send(s, cmds.length ? cmds : [['PING']]);
    const err = replies.find((r) => r instanceof RedisReplyError);
    if (err) {
      this.fail(err as RedisReplyError);
      throw err;
    }
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let at = 0;
    try {
      for (;;) {
        const head = this.queue[0];
        if (!head || at >= this.buf.length) break;
        const r = parseReply(this.buf, at);
        if (!r) break;
        at = r.next;
        head.replies.push(r.value);
        if (head.replies.length === head.count) {
          this.queue.shift();
          head.resolve(head.replies);
        }
      }
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    this.buf = at >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at);
  }

  /** Drops the connection and fails every waiting pipeline; the next call reconnects. */
  private fail(e: Error): void {
    const s = this.socket;
    this.socket = null;
    this.buf = Buffer.alloc(0);
    s?.destroy();
    for (const w of this.queue.splice(0)) w.reject(e);
  }
}
