/**
 * Demo upstreams for `npm start` and the end-to-end tests: small node:http servers that answer with
 * JSON naming the service and the endpoint (address:port) that answered, so a curl through Envoy
 * shows where a request went. `/healthz` answers 200 until the endpoint is set unhealthy, which is
 * how failover is shown (tier 1 takes over when tier 0's health check fails). The accounts service's
 * `POST /login` answers 401 unless the body is the demo login ({"user":"demo","password":"demo"}):
 * failed logins are what `npm run demo:attack` sends.
 *
 * Run: node dist/demo/upstreams.js [--control-port 9100] [service=address:port[@tier] ...]
 * (default: the bundled policies' services). Control: curl -X POST 127.0.0.1:9100/down/9101 | /up/9101
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface UpstreamSpec {
  readonly service: string;
  readonly address: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly tier?: number;
}

export interface Upstream {
  readonly service: string;
  readonly address: string;
  readonly port: number;
  readonly tier: number;
  /** `address:port`, as the JSON answer names it. */
  readonly endpoint: string;
  /** Requests answered, health probes excluded. */
  readonly requests: number;
  /** Health probes answered. */
  readonly probes: number;
  readonly healthy: boolean;
  /** Unhealthy: `/healthz` and every other request answer 503. */
  setHealthy(healthy: boolean): void;
  resetCounts(): void;
  close(): Promise<void>;
}

/** The services of the bundled policies/ (dev environment), tiers as written there. */
export const BUNDLED_UPSTREAMS: readonly UpstreamSpec[] = [
  { service: 'accounts', address: '127.0.0.1', port: 9101, tier: 0 },
  { service: 'accounts', address: '127.0.0.1', port: 9102, tier: 1 },
  { service: 'orders', address: '127.0.0.1', port: 9201, tier: 0 },
  { service: 'orders', address: '127.0.0.1', port: 9202, tier: 0 },
  { service: 'catalog', address: '127.0.0.1', port: 9301, tier: 0 },
];

/** The demo's one valid login (accounts `POST /login`): anything else answers 401, as a failed login does. */
export const DEMO_LOGIN = { user: 'demo', password: 'demo' } as const;

function demoLoginOk(body: string): boolean {
  try {
    const v = JSON.parse(body) as { user?: unknown; password?: unknown };
    return v.user === DEMO_LOGIN.user && v.password === DEMO_LOGIN.password;
  } catch {
    return false;
  }
}

export async function startUpstream(spec: UpstreamSpec): Promise<Upstream> {
  let healthy = true;
  let requests = 0;
  let probes = 0;
  let endpoint = '';
  const server: Server = createServer((req, res) => {
    // Read the body (the first few KiB: a login's credentials) so keep-alive connections stay usable; bodies are not echoed.
    let body = '';
    req.on('data', (c: Buffer) => (body.length < 4096 ? (body += c.toString('utf8')) : undefined));
    req.on('end', () => answer(req, res, body));
  });
  const answer = (req: IncomingMessage, res: ServerResponse, reqBody: string): void => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (url.pathname === '/healthz') {
      probes++;
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ service: spec.service, endpoint, healthy }) + '\n');
    }
    requests++;
    if (spec.service === 'accounts' && url.pathname === '/login' && req.method === 'POST' && !demoLoginOk(reqBody)) {
      res.writeHead(401, { 'content-type': 'application/json', 'x-upstream-endpoint': endpoint, 'x-upstream-service': spec.service });
      return void res.end(JSON.stringify({ service: spec.service, endpoint, error: 'bad credentials' }) + '\n');
    }
    const body = {
      service: spec.service,
      endpoint,
      tier: spec.tier ?? 0,
      healthy,
      method: req.method,
      path: url.pathname + url.search,
      host: req.headers.host ?? null,
      // What Envoy tells the upstream about the caller: useful when showing XFF handling.
      forwardedFor: req.headers['x-forwarded-for'] ?? null,
      requestId: req.headers['x-request-id'] ?? null,
    };
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json', 'x-upstream-endpoint': endpoint, 'x-upstream-service': spec.service });
    res.end(JSON.stringify(body) + '\n');
  };
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.port, spec.address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  endpoint = `${spec.address}:${port}`;
  return {
    service: spec.service,
    address: spec.address,
    port,
    tier: spec.tier ?? 0,
    endpoint,
    get requests() {
      return requests;
    },
    get probes() {
      return probes;
    },
    get healthy() {
      return healthy;
    },
    setHealthy(h: boolean) {
      healthy = h;
    },
    resetCounts() {
      requests = 0;
      probes = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function startUpstreams(specs: readonly UpstreamSpec[]): Promise<Upstream[]> {
  const started: Upstream[] = [];
  try {
    for (const s of specs) started.push(await startUpstream(s));
  } catch (e) {
    await Promise.all(started.map((u) => u.close()));
    throw e;
  }
  return started;
}

/**
 * A control server for the demo: `POST /down/<port>` and `/up/<port>` flip an upstream's health,
 * `GET /` lists them with request counts.
 */
export async function startControl(upstreams: readonly Upstream[], port: number, host = '127.0.0.1'): Promise<Server> {
  const server = createServer((req, res) => {
    const m = /^\/(down|up)\/(\d+)$/.exec(req.url ?? '');
    if (req.method === 'POST' && m) {
      const target = upstreams.find((u) => u.port === Number(m[2]));
      if (!target) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ error: `no upstream on port ${m[2]}` }) + '\n');
      }
      target.setHealthy(m[1] === 'up');
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(upstreams.map((u) => ({ service: u.service, endpoint: u.endpoint, tier: u.tier, healthy: u.healthy, requests: u.requests })), null, 2) + '\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** `service=address:port[@tier]` */
export function parseUpstreamArg(arg: string): UpstreamSpec {
  const m = /^([a-z0-9-]+)=([^@]+):(\d+)(?:@(\d+))?$/.exec(arg);
  if (!m) throw new Error(`expected service=address:port[@tier], got "${arg}"`);
  return { service: m[1]!, address: m[2]!, port: Number(m[3]), tier: m[4] === undefined ? 0 : Number(m[4]) };
}

async function cli(argv: readonly string[]): Promise<void> {
  let controlPort = 9100;
  const specs: UpstreamSpec[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--control-port') controlPort = Number(argv[++i]);
    else specs.push(parseUpstreamArg(a));
  }
  const upstreams = await startUpstreams(specs.length > 0 ? specs : BUNDLED_UPSTREAMS);
  const control = await startControl(upstreams, controlPort);
  for (const u of upstreams) console.log(`[upstreams] ${u.service.padEnd(10)} tier ${u.tier}  http://${u.endpoint}`);
  console.log(`[upstreams] control: curl -X POST http://127.0.0.1:${controlPort}/down/<port>  (or /up/<port>); GET / lists them`);
  const stop = (): void => {
    control.close();
    void Promise.all(upstreams.map((u) => u.close())).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  cli(process.argv.slice(2)).catch((e: unknown) => {
    console.error(`[upstreams] ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
