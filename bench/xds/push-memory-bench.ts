/**
 * Push cost on the server side (issue 14 items 2 and 3): N simulated Envoys (Node ADS clients, one
 * connection each) hold a fleet config of R routes; one route changes. Reported from the server
 * process: its longest event-loop stall during the push (monitorEventLoopDelay), the CPU it spent,
 * how long setSnapshots took to resolve (encoding in slices, then the snapshot in force), and its RSS before the clients, with them, at the peak of the
 * push and after it (no forced GC anywhere). The Node clients saturate before the server at 1,000
 * clients (docs/benchmarks-xds.md); this bench is for ≤ 200.
 *
 *   node -r ts-node/register/transpile-only bench/xds/push-memory-bench.ts [--clients 200] [--routes 1000]
 *        [--variant sotw|delta] [--fresh] [--server-root DIR]   (DIR: another checkout's root, to compare builds)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { TYPE_URL } from '../../compiler/envoy/resources';
import type { EnvoyResources } from '../../compiler/envoy/resources';
import { AdsClient, type AdsVariant } from './ads-client';
import { BENCH_FLEET, BENCH_ROUTE_CONFIG, benchResources, clusterNames } from './bench-snapshot';

const MiB = 1024 * 1024;

/**
 * Route objects by content: the translator hands the encoder the same object for an unchanged
 * route (compiler/envoy's memo), and the encoder reuses its bytes by identity. Parsing each version
 * from JSON would make every route new and re-encode the whole table; interning keeps it as in
 * production (`--fresh` turns it off).
 */
function internRoutes(resources: EnvoyResources, seen: Map<string, unknown>): EnvoyResources {
  for (const rc of resources.routes) {
    for (const vh of (rc.value['virtual_hosts'] as { routes: unknown[] }[] | undefined) ?? []) {
      vh.routes = vh.routes.map((r) => {
        const key = JSON.stringify(r);
        const known = seen.get(key);
        if (known) return known;
        seen.set(key, r);
        return r;
      });
    }
  }
  return resources;
}

/** The server process: createXdsServer from `root`, driven by lines on stdin. */
async function serve(root: string, snapshotFile: string, fresh: boolean): Promise<void> {
  const pino = (await import('pino')).default;
  const { Registry } = await import('prom-client');
  const { createXdsServer } = (await import(join(root, 'xds-server', 'ads-server'))) as typeof import('../../xds-server/ads-server');
  const registry = new Registry();
  const server = createXdsServer({ logger: pino({ level: 'warn' }, pino.destination(2)), registry });
  /** The server's own gauges, in ms (null when this build has none). */
  const gaugeMs = async (name: string): Promise<number | null> => {
    const m = registry.getSingleMetric(name);
    return m ? ((await m.get()).values[0]?.value ?? 0) * 1000 : null;
  };
  const serverGauges = async () => ({
    serverLoopMaxMs: await gaugeMs('portcullis_xds_event_loop_delay_max_seconds'),
    pushSliceMaxMs: await gaugeMs('portcullis_xds_push_slice_max_seconds'),
  });
  const interned = new Map<string, unknown>();
  const load = (file: string): EnvoyResources => {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as EnvoyResources;
    return fresh ? parsed : internRoutes(parsed, interned);
  };
  let commit = 0;
  let loaded = load(snapshotFile);
  // Awaited: a build before the sliced encoding (--server-root) returns the result itself.
  const publish = async (): Promise<number> => {
    const t0 = process.hrtime.bigint();
    const out = await server.setSnapshots(new Map([[loaded.fleet, loaded]]), { commit: `c${++commit}`, compiledAt: new Date().toISOString() });
    if (!out.ok) throw new Error(JSON.stringify(out.errors.slice(0, 3)));
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  await publish();
  const port = await server.listen('127.0.0.1', 0);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  let cpu = process.cpuUsage();
  let gcMaxMs = 0;
  // A cross-check of the monitor: how late a 5 ms JS interval fired, at most.
  let last = performance.now();
  let lateMaxMs = 0;
  setInterval(() => {
    const now = performance.now();
    lateMaxMs = Math.max(lateMaxMs, now - last - 5);
    last = now;
  }, 5).unref();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMaxMs = Math.max(gcMaxMs, e.duration);
  }).observe({ entryTypes: ['gc'] });
  const say = (line: string): boolean => process.stdout.write(`${line}\n`);
  say(`READY ${port}`);
  createInterface({ input: process.stdin }).on('line', async (line) => {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'load') {
      loaded = load(arg!);
      say('LOADED');
    } else if (cmd === 'mark') {
      await serverGauges();
      loop.reset();
      gcMaxMs = 0;
      lateMaxMs = 0;
      cpu = process.cpuUsage();
      say('MARKED');
    } else if (cmd === 'publish') {
      say(`PUBLISHED ${(await publish()).toFixed(1)}`);
    } else if (cmd === 'stats') {
      const used = process.cpuUsage(cpu);
      const mem = process.memoryUsage();
      // The monitor's samples include its 10 ms interval.
      const loopMaxMs = Math.max(0, loop.max / 1e6 - 10);
      const gauges = await serverGauges();
      say(`STATS ${JSON.stringify({ ...gauges, rss: mem.rss, heapUsed: mem.heapUsed, arrayBuffers: mem.arrayBuffers, loopMaxMs, loopP99Ms: Math.max(0, loop.percentile(99) / 1e6 - 10), lateMaxMs, gcMaxMs, cpuMs: (used.user + used.system) / 1000 })}`);
    }
  }).on('close', () => void server.shutdown(100).then(() => process.exit(0)));
}

interface Child {
  readonly proc: ChildProcess;
  readonly port: number;
  command(line: string, expect: string): Promise<string>;
  rss(): number;
  stop(): Promise<void>;
}

async function startChild(root: string, snapshotFile: string, fresh: boolean): Promise<Child> {
  const execArgv = __filename.endsWith('.ts') ? ['-r', require.resolve('ts-node/register/transpile-only')] : [];
  const proc = spawn(process.execPath, [...execArgv, __filename, '--serve', root, snapshotFile, ...(fresh ? ['--fresh'] : [])], { stdio: ['pipe', 'pipe', 'inherit'], cwd: root });
  const waiting: { prefix: string; resolve: (l: string) => void }[] = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const i = waiting.findIndex((w) => line.startsWith(w.prefix));
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(line);
  });
  const expectLine = (prefix: string): Promise<string> =>
    new Promise((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`server: no ${prefix} within 60 s`)), 60_000);
      waiting.push({ prefix, resolve: (l) => (clearTimeout(timer), ok(l)) });
    });
  const ready = await expectLine('READY');
  return {
    proc,
    port: Number(ready.split(' ')[1]),
    command(line, expect) {
      const p = expectLine(expect);
      proc.stdin!.write(`${line}\n`);
      return p;
    },
    rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? NaN) * 1024,
    stop: () =>
      new Promise((done) => {
        const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
        proc.once('exit', () => (clearTimeout(timer), done()));
        proc.stdin!.end();
      }),
  };
}

/** A simulated Envoy: subscribes to the four types at once, ACKs everything, counts route responses. */
function envoy(port: number, id: number, variant: AdsVariant, edsNames: readonly string[]): { client: AdsClient; routes: () => number } {
  let routes = 0;
  const client = new AdsClient({
    port,
    variant,
    node: { id: `push-${id}`, cluster: BENCH_FLEET },
    onResponse: (r, c) => {
      if (r.kind === 'route') routes++;
      c.ack(r, r.kind === 'endpoint' ? edsNames : r.kind === 'route' ? [BENCH_ROUTE_CONFIG] : undefined);
    },
  });
  const subscribe: [string, readonly string[] | undefined][] = [[TYPE_URL.cluster, undefined], [TYPE_URL.endpoint, edsNames], [TYPE_URL.listener, undefined], [TYPE_URL.route, [BENCH_ROUTE_CONFIG]]];
  for (const [typeUrl, names] of subscribe) {
    if (variant === 'sotw') client.sotw({ typeUrl, ...(names ? { resourceNames: names } : {}) });
    else client.delta({ typeUrl, ...(names ? { subscribe: names } : {}) });
  }
  return { client, routes: () => routes };
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface PushMemoryResult {
  readonly clients: number;
  readonly routes: number;
  readonly variant: AdsVariant;
  readonly fresh: boolean;
  readonly rssMiB: { readonly noClients: number; readonly withClients: number; readonly prePush: number; readonly peak: number; readonly after2s: number; readonly after10s: number };
  readonly loopMaxMs: number;
  /** 99th percentile of the monitor's samples during the push. */
  readonly loopP99Ms: number;
  /** The same stall seen by a 5 ms JS interval (a cross-check of the monitor). */
  readonly intervalLateMaxMs: number;
  /** The server's own portcullis_xds_event_loop_delay_max_seconds and push_slice_max_seconds, in ms (null: this build has none). */
  readonly serverLoopMaxMs: number | null;
  readonly pushSliceMaxMs: number | null;
  /** Longest GC pause during the push (a part of loopMaxMs when it is the stall). */
  readonly gcMaxMs: number;
  readonly setSnapshotsMs: number;
  readonly serverCpuMs: number;
  readonly lastRouteMs: number;
}

export async function runPushMemoryBench(o: { clients: number; routes: number; variant: AdsVariant; root: string; fresh: boolean }): Promise<PushMemoryResult> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-push-bench-'));
  const files = [0, 1, 2].map((v) => {
    const file = join(dir, `v${v}.json`);
    writeFileSync(file, JSON.stringify(benchResources({ clusters: 20, routes: o.routes, variant: v })));
    return file;
  });
  const child = await startChild(o.root, files[0]!, o.fresh);
  const envoys: ReturnType<typeof envoy>[] = [];
  try {
    await sleep(500);
    const noClients = child.rss();
    const edsNames = clusterNames(20);
    for (let i = 0; i < o.clients; i += 50) {
      const batch = Array.from({ length: Math.min(50, o.clients - i) }, (_, j) => envoy(child.port, i + j, o.variant, edsNames));
      envoys.push(...batch);
      await until(() => batch.every((e) => e.routes() > 0), 60_000, `clients ${i}.. to sync`);
    }
    await sleep(1000);
    const withClients = child.rss();
    // A warm-up push (JIT), then the measured one.
    await child.command(`load ${files[1]}`, 'LOADED');
    await child.command('publish', 'PUBLISHED');
    await until(() => envoys.every((e) => e.routes() > 1), 60_000, 'warm-up push');
    await sleep(2000);
    await child.command(`load ${files[2]}`, 'LOADED');
    await sleep(500);
    const prePush = child.rss();
    await child.command('mark', 'MARKED');
    let peak = prePush;
    const sampler = setInterval(() => (peak = Math.max(peak, child.rss())), 20);
    const t0 = Date.now();
    const published = await child.command('publish', 'PUBLISHED');
    await until(() => envoys.every((e) => e.routes() > 2), 60_000, 'the measured push');
    const lastRouteMs = Date.now() - t0;
    const stats = JSON.parse((await child.command('stats', 'STATS')).slice(6)) as { loopMaxMs: number; loopP99Ms: number; lateMaxMs: number; gcMaxMs: number; cpuMs: number; serverLoopMaxMs: number | null; pushSliceMaxMs: number | null };
    await sleep(2000);
    const after2s = child.rss();
    await sleep(8000);
    clearInterval(sampler);
    const after10s = child.rss();
    const mib = (b: number): number => Math.round((b / MiB) * 10) / 10;
    return {
      clients: o.clients,
      routes: o.routes,
      variant: o.variant,
      fresh: o.fresh,
      rssMiB: { noClients: mib(noClients), withClients: mib(withClients), prePush: mib(prePush), peak: mib(peak), after2s: mib(after2s), after10s: mib(after10s) },
      loopMaxMs: Math.round(stats.loopMaxMs * 10) / 10,
      gcMaxMs: Math.round(stats.gcMaxMs * 10) / 10,
      loopP99Ms: Math.round(stats.loopP99Ms * 10) / 10,
      intervalLateMaxMs: Math.round(stats.lateMaxMs * 10) / 10,
      serverLoopMaxMs: stats.serverLoopMaxMs === null ? null : Math.round(stats.serverLoopMaxMs * 10) / 10,
      pushSliceMaxMs: stats.pushSliceMaxMs === null ? null : Math.round(stats.pushSliceMaxMs * 10) / 10,
      setSnapshotsMs: Number(published.split(' ')[1]),
      serverCpuMs: Math.round(stats.cpuMs),
      lastRouteMs,
    };
  } finally {
    for (const e of envoys) e.client.cancel();
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--serve') return serve(argv[1]!, argv[2]!, argv[3] === '--fresh');
  const arg = (name: string, fallback: string): string => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
  };
  const result = await runPushMemoryBench({
    clients: Math.min(500, Number(arg('--clients', '200'))),
    routes: Number(arg('--routes', '1000')),
    variant: arg('--variant', 'sotw') as AdsVariant,
    root: resolve(arg('--server-root', join(__dirname, '..', '..'))),
    fresh: argv.includes('--fresh'),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

if (require.main === module) void main(process.argv.slice(2));
