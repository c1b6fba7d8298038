/**
 * Test harness: a real Redis (Debian redis-server) and a real envoyproxy/ratelimit service
 * ($RATELIMIT_BIN, installed by setup.sh) taking its configuration over xDS from the Portcullis
 * server. Every listen address is set to 127.0.0.1 with a free port (the service's defaults bind
 * 0.0.0.0 on 8080, 8081, 6070 and :9090). A missing binary fails the test.
 */
import { existsSync, mkdtempSync, openSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { freePorts } from './ports';
import { spawnManaged, waitFor, type ManagedProcess } from './processes';

function binary(envVar: string, fallback: string | null, hint: string): string {
  const bin = process.env[envVar] ?? fallback;
  if (!bin || (bin.includes('/') && !existsSync(bin))) throw new Error(`${hint} not found (${envVar}=${bin ?? '(unset)'}); run \`bash scripts/setup.sh\` and \`source scripts/env.sh\``);
  return bin;
}

/** True once something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export class RedisProcess {
  private proc: ManagedProcess | null = null;
  private constructor(readonly port: number, private readonly dir: string) {}

  static async start(): Promise<RedisProcess> {
    const [port] = (await freePorts(1)) as [number];
    const r = new RedisProcess(port, mkdtempSync(path.join(tmpdir(), 'portcullis-redis-')));
    await r.restart();
    return r;
  }

  /** (Re)starts on the same port with no persistence: a restart loses every counter. */
  async restart(): Promise<void> {
    await this.proc?.stop();
    const bin = binary('REDIS_BIN', 'redis-server', 'redis-server');
    const log = openSync(path.join(this.dir, 'redis.log'), 'a');
    this.proc = spawnManaged('redis-server', bin, ['--bind', '127.0.0.1', '--port', String(this.port), '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: ['ignore', log, log] });
    await waitFor(`redis on ${this.port}`, () => accepts(this.port), 10_000);
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }
}

export interface RateLimitServiceOptions {
  readonly xdsPort: number;
  /** A fleet of the environment whose configuration the service takes (node metadata portcullis.fleet). */
  readonly fleet: string;
  readonly nodeId: string;
  readonly redisPort: number;
  /** The gRPC port Envoys call (the Environment's rateLimitService.port); free when unset. */
  readonly grpcPort?: number;
}

export class RateLimitService {
  private proc: ManagedProcess | null = null;
  private constructor(
    readonly opts: RateLimitServiceOptions,
    /** gRPC (Envoy's checks), HTTP (/healthcheck), debug, Prometheus. */
    readonly ports: { readonly grpc: number; readonly http: number; readonly debug: number; readonly prometheus: number },
    readonly dir: string,
  ) {}

  static async start(opts: RateLimitServiceOptions): Promise<RateLimitService> {
    const [free, http, debug, prometheus] = (await freePorts(4)) as [number, number, number, number];
    const s = new RateLimitService(opts, { grpc: opts.grpcPort ?? free, http, debug, prometheus }, mkdtempSync(path.join(tmpdir(), 'portcullis-ratelimit-')));
    s.spawn();
    return s;
  }

  get logFile(): string {
    return path.join(this.dir, 'ratelimit.log');
  }

  private spawn(): void {
    const bin = binary('RATELIMIT_BIN', null, 'envoyproxy/ratelimit');
    const log = openSync(this.logFile, 'a');
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '',
      HOST: '127.0.0.1',
      PORT: String(this.ports.http),
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: String(this.ports.grpc),
      DEBUG_HOST: '127.0.0.1',
      DEBUG_PORT: String(this.ports.debug),
      USE_PROMETHEUS: 'false',
      PROMETHEUS_ADDR: `127.0.0.1:${this.ports.prometheus}`,
      USE_STATSD: 'false',
      LOG_LEVEL: 'debug',
      BACKEND_TYPE: 'redis',
      REDIS_SOCKET_TYPE: 'tcp',
      REDIS_TYPE: 'SINGLE',
      REDIS_URL: `127.0.0.1:${this.opts.redisPort}`,
      REDIS_TIMEOUT: '500ms',
      CONFIG_TYPE: 'GRPC_XDS_SOTW',
      CONFIG_GRPC_XDS_SERVER_URL: `127.0.0.1:${this.opts.xdsPort}`,
      CONFIG_GRPC_XDS_NODE_ID: this.opts.nodeId,
      CONFIG_GRPC_XDS_NODE_METADATA: `portcullis.fleet=${this.opts.fleet}`,
      CONFIG_GRPC_XDS_SERVER_CONNECT_RETRY_INTERVAL: '1s',
      XDS_CLIENT_BACKOFF_INITIAL_INTERVAL: '1s',
      XDS_CLIENT_BACKOFF_MAX_INTERVAL: '2s',
    };
    this.proc = spawnManaged('ratelimit', bin, [], { stdio: ['ignore', log, log], env, cwd: this.dir });
  }

  /** Waits until the service answers its health check (it has loaded a configuration). */
  async waitReady(timeoutMs = 20_000): Promise<void> {
    await waitFor(
      'ratelimit service healthy',
      async () => {
        if (this.proc && !this.proc.running) throw new Error(`ratelimit exited with ${this.proc.exitCode}`);
        const r = await fetch(`http://127.0.0.1:${this.ports.http}/healthcheck`, { signal: AbortSignal.timeout(1000) });
        return r.status === 200;
      },
      timeoutMs,
      100,
    );
  }

  /** The configuration the service holds now, as its debug endpoint prints it. */
  async rlconfig(): Promise<string> {
    return (await fetch(`http://127.0.0.1:${this.ports.debug}/rlconfig`, { signal: AbortSignal.timeout(2000) })).text();
  }

  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  async restart(): Promise<void> {
    await this.proc?.stop();
    this.spawn();
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }
}
