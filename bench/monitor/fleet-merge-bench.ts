/**
 * Benchmark (docs/benchmarks.md): the cost of merging replicas through Redis (monitor/fleet-share.ts).
 * Two monitors with four keyed triggers (per /24, per address, per token subject, per token id;
 * 1-minute and 5-minute windows) each ingest `--entries` entries per tick from a wide population of
 * addresses and tokens, then evaluate; one tick = one second of a simulated clock, for `--ticks`
 * ticks (a 1-minute window's worth by default, so Redis holds its steady state). Reports the CPU of
 * an evaluation tick with and without the merge, Redis's CPU per tick, its keys and memory.
 * Measures only: never fails on a figure. Needs redis-server on PATH. Usage:
 *   node dist/bench/monitor/fleet-merge-bench.js [--ticks 60] [--entries 5000]
 */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { compileSources } from '../../compiler';
import { createMonitor, type Monitor } from '../../monitor/monitor';
import { RedisConnection } from '../../monitor/redis-connection';
import { accessEntry } from './als-encode';

const flag = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
};
const TICKS = flag('ticks', 60);
const ENTRIES = flag('entries', 5000);
const T0 = Date.parse('2026-06-01T10:00:00Z');

const trigger = (name: string, key: string, condition: string) => `apiVersion: portcullis.dev/v1
kind: Trigger
metadata: { name: ${name} }
spec:
  routes: [login]
  key: ${key}
  condition: ${condition}
  lockdown: { duration: 1h, owner: me, actions: [{ type: disableRoute, route: login }] }
`;

const POLICY = [
  `apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: app }
spec: { endpoints: [{ address: 127.0.0.1, port: 9 }] }
`,
  `apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: login }
spec: { path: { prefix: /login }, service: app }
`,
  `apiVersion: portcullis.dev/v1
kind: Access
metadata: { name: a }
spec:
  providers: [{ name: idp, issuer: https://idp, audiences: [api], jwks: { uri: https://idp/jwks } }]
  rules: [{ routes: [login] }]
`,
  `apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: prod }
spec: { fleets: [edge] }
`,
  trigger('per-network', 'clientNetwork', '{ rate: { above: 100000, per: minute } }'),
  trigger('per-address', 'clientIp', '{ rate: { above: 100000, window: 5m } }'),
  trigger('per-subject', 'tokenSubject', '{ share: { above: 90, minRequests: 100, window: 1m } }'),
  trigger('per-token', 'tokenId', '{ rate: { above: 100000, per: minute } }'),
].join('---\n');

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Redis INFO fields as numbers. */
async function info(redis: RedisConnection): Promise<Map<string, number>> {
  const text = String(await redis.command('INFO'));
  return new Map(text.split('\r\n').filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), Number(l.slice(l.indexOf(':') + 1))]));
}

/** One tick's traffic for one replica: a wide population, 1 s of start times. */
function traffic(tick: number, replica: number) {
  return Array.from({ length: ENTRIES }, (_, i) => {
    const k = (tick * 7919 + i * 104_729 + replica * 31) % 1_000_000;
    return accessEntry({ startMs: T0 + tick * 1000 - (i % 1000), route: 'login', status: 401, clientIp: `${10 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}.9`, sub: `user-${k % 100_000}`, jti: `jti-${k}` });
  });
}

/** CPU ms of the monitors' evaluation ticks over the run. */
async function run(monitors: Monitor[], clock: { now: number }): Promise<number> {
  let cpu = 0;
  for (let tick = 0; tick < TICKS; tick++) {
    clock.now = T0 + tick * 1000;
    monitors.forEach((m, r) => m.ingest('edge', 'portcullis/prod', traffic(tick, r)));
    const before = process.cpuUsage();
    for (const m of monitors) await m.evaluate();
    const used = process.cpuUsage(before);
    cpu += (used.user + used.system) / 1000;
  }
  return cpu;
}

async function main(): Promise<void> {
  const compiled = compileSources([{ path: 'bench.yaml', text: POLICY }], new Date(T0));
  if (!compiled.ok) throw new Error(compiled.errors.map((e) => e.message).join('\n'));
  const port = await freePort();
  const server = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const redis = new RedisConnection({ host: '127.0.0.1', port });
  try {
    for (let i = 0; i < 100 && !(await redis.command('PING').then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
    const clock = { now: T0 };
    const make = (merge: boolean, name: string) => {
      const m = createMonitor({ registry: new Registry(), logger: pino({ level: 'warn' }), alertmanager: null, now: () => clock.now, fleetMerge: merge ? { redisUrl: `redis://127.0.0.1:${port}`, replica: name } : null });
      m.setPolicy(compiled.value);
      return m;
    };
    const alone = await run([make(false, 'a'), make(false, 'b')], clock);
    const before = await info(redis);
    const merged = [make(true, 'a'), make(true, 'b')];
    const withMerge = await run(merged, clock);
    const after = await info(redis);
    for (const m of merged) m.stop();
    const redisCpu = ((after.get('used_cpu_user') ?? 0) + (after.get('used_cpu_sys') ?? 0) - (before.get('used_cpu_user') ?? 0) - (before.get('used_cpu_sys') ?? 0)) * 1000;
    const evaluations = 2 * TICKS;
    console.log(`2 replicas × ${TICKS} ticks (1 s each, simulated), ${ENTRIES} entries per replica and tick, 4 keyed triggers (1m and 5m windows)`);
    console.log(`evaluation tick, CPU: ${(alone / evaluations).toFixed(2)} ms alone, ${(withMerge / evaluations).toFixed(2)} ms with the merge (publish + read back + evaluate)`);
    console.log(`Redis: ${(redisCpu / evaluations).toFixed(2)} ms CPU per replica tick; ${await redis.command('DBSIZE')} keys, ${((after.get('used_memory') ?? 0) / 2 ** 20).toFixed(1)} MiB used (${((before.get('used_memory') ?? 0) / 2 ** 20).toFixed(1)} MiB empty)`);
  } finally {
    redis.close();
    server.kill('SIGTERM');
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
