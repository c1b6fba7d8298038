/**
 * Benchmark: request latency through a real Envoy with no limit, an instance (local) limit and a
 * fleet limit (envoyproxy/ratelimit + Redis) at a fixed request rate. The policy is compiled by the
 * product's compiler and run as a static bootstrap; the service reads the same RateLimitConfig
 * from a file (the server serves it over xDS in production; the per-request path is the same).
 * Reports p50/p99 per route, the load average, and the CPU time each process spent on each route's
 * run (the client's from process.cpuUsage, the others' from /proc). Measures only: never fails on a figure. Usage:
 *   npx ts-node --transpile-only bench/ratelimit/latency-bench.ts [--rate 200] [--seconds 10]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request, Agent } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { compileSources } from '../../compiler';
import { staticBootstrap, translatePolicy } from '../../compiler/envoy';
import { rateLimitServiceConfig } from '../../compiler/envoy/ratelimit-service';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RATE = arg('rate', 200);
const SECONDS = arg('seconds', 10);

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port }, () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });

async function until(what: string, probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function policy(listener: number, upstream: number, rateLimit: number): { path: string; text: string }[] {
  const doc = (kind: string, name: string, spec: string) => `apiVersion: portcullis.dev/v1\nkind: ${kind}\nmetadata: { name: ${name} }\nspec:\n${spec}`;
  const route = (name: string) => doc('Route', name, `  path: { prefix: /${name} }\n  service: echo\n`);
  // Limits far above the offered load: every request is checked, none refused.
  const limit = (name: string, scope: string) => doc('RateLimit', `${name}-limit`, `  routes: [${name}]\n  requests: 1000000\n  per: second\n  key: { type: clientIp }\n  scope: ${scope}\n`);
  const text = [
    doc('Service', 'echo', `  endpoints: [{ address: 127.0.0.1, port: ${upstream} }]\n`),
    route('none'),
    route('local'),
    route('fleet'),
    limit('local', 'instance'),
    limit('fleet', 'fleet'),
    doc('Access', 'public', '  rules:\n    - routes: [none, local, fleet]\n      public: true\n'),
    doc('Environment', 'bench', `  fleets: [bench]\n  listener: { address: 127.0.0.1, port: ${listener} }\n  rateLimitService: { address: 127.0.0.1, port: ${rateLimit}, timeout: 1s }\n`),
  ].join('---\n');
  return [{ path: 'policies/bench.yaml', text }];
}

function spawnQuiet(cmd: string, args: string[], env?: Record<string, string>, cwd?: string): ChildProcess {
  return spawn(cmd, args, { stdio: 'ignore', detached: true, ...(env ? { env } : {}), ...(cwd ? { cwd } : {}) });
}

/** Requests at a fixed rate on one keep-alive connection; latency of each, in ms. */
async function measure(port: number, urlPath: string): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const one = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const t0 = process.hrtime.bigint();
      const req = request({ host: '127.0.0.1', port, path: urlPath, agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(Number(process.hrtime.bigint() - t0) / 1e6) : reject(new Error(`${urlPath}: ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  for (let i = 0; i < 50; i++) await one(); // warm-up: connections, the service's Redis pool
  const total = RATE * SECONDS;
  const start = Date.now();
  const pending: Promise<number>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(one());
  }
  const out = await Promise.all(pending);
  agent.destroy();
  return out;
}

/** CPU milliseconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;

async function main(): Promise<void> {
  const envoyBin = process.env['ENVOY_BIN'] ?? 'envoy';
  const rlBin = process.env['RATELIMIT_BIN'];
  if (!rlBin) throw new Error('RATELIMIT_BIN is not set: source scripts/env.sh (setup.sh installs envoyproxy/ratelimit)');
  const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-rl-bench-'));
  const [listener, admin, redisPort, rlGrpc, rlHttp, rlDebug, rlProm] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]) as number[] as [number, number, number, number, number, number, number];
  const upstream = createHttpServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const upstreamPort = (upstream.address() as { port: number }).port;
  const children: ChildProcess[] = [];
  try {
    const compiled = compileSources(policy(listener, upstreamPort, rlGrpc), new Date());
    if (!compiled.ok) throw new Error(compiled.errors.map((e) => e.message).join('\n'));
    const env = compiled.value.environments[0]!;
    const [resources] = translatePolicy(compiled.value);
    writeFileSync(path.join(dir, 'envoy.json'), JSON.stringify(staticBootstrap(resources!, { adminPort: admin })));
    const config = rateLimitServiceConfig(env) as { domain: string; descriptors: unknown };
    mkdirSync(path.join(dir, 'runtime', 'ratelimit', 'config'), { recursive: true });
    writeFileSync(path.join(dir, 'runtime', 'ratelimit', 'config', 'bench.yaml'), stringify({ domain: config.domain, descriptors: config.descriptors }));

    children.push(spawnQuiet('redis-server', ['--bind', '127.0.0.1', '--port', String(redisPort), '--save', '', '--appendonly', 'no']));
    await until('redis', () => accepts(redisPort));
    children.push(
      spawnQuiet(rlBin, [], {
        PATH: process.env['PATH'] ?? '', HOST: '127.0.0.1', PORT: String(rlHttp), GRPC_HOST: '127.0.0.1', GRPC_PORT: String(rlGrpc),
        DEBUG_HOST: '127.0.0.1', DEBUG_PORT: String(rlDebug), USE_PROMETHEUS: 'false', PROMETHEUS_ADDR: `127.0.0.1:${rlProm}`, USE_STATSD: 'false',
        LOG_LEVEL: 'warn', REDIS_SOCKET_TYPE: 'tcp', REDIS_URL: `127.0.0.1:${redisPort}`, CONFIG_TYPE: 'FILE',
        RUNTIME_ROOT: path.join(dir, 'runtime'), RUNTIME_SUBDIRECTORY: 'ratelimit', RUNTIME_WATCH_ROOT: 'false',
      }, dir),
    );
    children.push(spawnQuiet(envoyBin, ['-c', path.join(dir, 'envoy.json'), '--use-dynamic-base-id', '--concurrency', '1', '--log-level', 'warn']));
    await until('ratelimit service', async () => (await fetch(`http://127.0.0.1:${rlHttp}/healthcheck`)).status === 200);
    await until('envoy', async () => (await fetch(`http://127.0.0.1:${admin}/ready`)).status === 200);
    console.log(`${RATE} requests/s for ${SECONDS} s per route, one Envoy (1 worker), keep-alive, limits never reached`);
    console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (1/5/15 min)`);
    console.log('route   p50 ms  p99 ms  max ms   CPU ms: client  envoy  ratelimit  redis');
    const [redis, ratelimit, envoy] = children.map((c) => c.pid);
    for (const route of ['none', 'local', 'fleet']) {
      const cpu0 = [process.cpuUsage(), cpuMsOf(envoy), cpuMsOf(ratelimit), cpuMsOf(redis)] as const;
      const ms = (await measure(listener, `/${route}`)).sort((a, b) => a - b);
      const client = process.cpuUsage(cpu0[0]);
      const cpu = [(client.user + client.system) / 1000, cpuMsOf(envoy) - cpu0[1], cpuMsOf(ratelimit) - cpu0[2], cpuMsOf(redis) - cpu0[3]].map((v) => v.toFixed(0));
      console.log(`${route.padEnd(6)} ${pct(ms, 50).toFixed(3).padStart(7)} ${pct(ms, 99).toFixed(3).padStart(7)} ${(ms[ms.length - 1] as number).toFixed(3).padStart(7)}   ${cpu[0]!.padStart(13)} ${cpu[1]!.padStart(6)} ${cpu[2]!.padStart(10)} ${cpu[3]!.padStart(6)}`);
    }
    // Proof the fleet route really asked the service (a service error would fail open, unseen).
    const stats = await (await fetch(`http://127.0.0.1:${admin}/stats?filter=portcullis_fleet_allow`)).text();
    console.log(stats.split('\n').filter((l) => /\.(ok|error|failure_mode_allowed): /.test(l)).join('\n'));
  } finally {
    for (const c of children.reverse()) {
      try {
        if (c.pid) process.kill(-c.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
