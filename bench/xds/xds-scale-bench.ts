/**
 * xDS at scale (issue 14 item 5): a Go load generator (tools/xds-loadgen: N real ADS streams that
 * subscribe like Envoy and ACK) against the Portcullis server and the go-control-plane peer
 * (tools/gcp-peer), each in its own process, same snapshot files, same run. Per server: initial
 * sync, one-route change push → ACK p50/p99/last, bytes per client per change (every type; also as a
 * share of the whole route table, all RouteConfigurations), server RSS before
 * clients / with clients / before and after each push, max event-loop delay during a push
 * (Portcullis), reconnect storm. Bounded: every phase by --timeout, memory by --max-rss-gib
 * (server + load generator; a configuration over it is reported as not fitting).
 *
 *   node dist/bench/xds/xds-scale-bench.js --routes 1000 --clients 200 [--variant sotw|delta|both]
 *        [--server portcullis|go-control-plane|both] [--rounds 3] [--max-rss-gib 8] [--scopes S] [--pin] [--json]
 *
 * --scopes S (default 0: one route table over RDS): the routes spread over S route scopes (SRDS,
 * bench-snapshot.ts); the clients subscribe to the scopes and their route configurations, and a
 * change is timed to the ACK of the scope's route configuration holding the changed route.
 *
 * --pin: the server on CPU 0, the load generator on CPU 1 (taskset), instead of both free to use
 * either: a fleet that is not on the server's cores, with a one-core server.
 *
 * The machine is shared and loaded: each round also reports the CPU time the server and the load
 * generator spent on it (from /proc), besides the wall clock.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type EnvoyResources, TYPE_URL } from '../../compiler/envoy/resources';
import type { Encoder } from '../../xds-server/encode';
import { buildGoTool } from '../go-tools';
import { argReader, type BenchServer, buildGoPeer, median, rssBytes, runCli, type ServerProcess, spawnOn, startServer } from './ads-bench';
import { BENCH_FLEET, benchResources, scopeRouteConfigName } from './bench-snapshot';

export interface ScaleOptions {
  readonly server: BenchServer;
  readonly variant: 'sotw' | 'delta';
  readonly routes: number;
  readonly clients: number;
  readonly clusters: number;
  /** Route scopes (SRDS); 0: one route table. */
  readonly scopes: number;
  readonly rounds: number;
  readonly warmupRounds: number;
  readonly timeoutSeconds: number;
  readonly maxRssBytes: number;
  /** Server on CPU 0, load generator on CPU 1 (--pin); absent: both free to use either. */
  readonly pin?: boolean;
}

export interface ScaleRound {
  /** The earliest client's ACK: what every client waits for before the fan-out spreads them. */
  readonly firstMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly lastMs: number;
  readonly acked: number;
  readonly bytesPerClient: number;
  readonly routePushesPerClient: number;
  readonly otherPushes: number;
  readonly rssBeforePushMiB: number;
  readonly rssAfterPushMiB: number;
  readonly loopDelayMaxMs: number | null;
  readonly gaugeLoopDelayMaxSeconds: number | null;
  /** Portcullis: the longest slice of publication work (encoding, putting in force, pushes), wall clock. */
  readonly sliceMaxSeconds: number | null;
  /** Portcullis: the longest GC pause during the round. */
  readonly gcMaxMs: number | null;
  /** From sending `publish FILE` to the server's PUBLISHED, in ms (the peer: read, decode, SetSnapshot; Portcullis: setSnapshots, the file parsed ahead). */
  readonly publishMs: number;
  /** CPU time (user + system) of the server and of the load generator from ARMED to ROUND. */
  readonly serverCpuMs: number;
  readonly loadgenCpuMs: number;
}

export interface ScaleResult {
  readonly options: ScaleOptions;
  /** Null when the configuration did not fit (memory bound, or clients not synced in time). */
  readonly failure: string | null;
  readonly initialSyncSeconds: number;
  readonly synced: number;
  readonly rounds: readonly ScaleRound[];
  readonly rssBeforeClientsMiB: number;
  readonly rssWithClientsMiB: number;
  readonly rssPerClientKiB: number;
  /** Reconnect storm: per client, the time to every type ACKed again; what each client received meanwhile. */
  readonly storm: { firstMs: number; p50Ms: number; p99Ms: number; lastMs: number; synced: number; bytesPerClient: number; pushesPerClient: number } | null;
  readonly loadgenRssMiB: number;
  /** The whole route table encoded: the sum of every RouteConfiguration's bytes. */
  readonly routeTableBytes: number;
}

const MiB = 1024 * 1024;

/** User + system CPU time of a process so far, in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The load generator's process with the same line protocol as the servers. */
interface Loadgen {
  readonly child: ChildProcess;
  next(prefix: string, timeoutMs: number): Promise<string>;
  send(line: string): void;
}

function startLoadgen(port: number, o: ScaleOptions): Loadgen {
  const args = ['-addr', `127.0.0.1:${port}`, '-clients', String(o.clients), '-fleet', BENCH_FLEET, '-timeout', `${o.timeoutSeconds}s`];
  if (o.variant === 'delta') args.push('-delta');
  // With scopes, the change is in scope s0's route configuration: the round waits for its ACK.
  if (o.scopes > 0) args.push('-changed', scopeRouteConfigName(0));
  const child = spawnOn(o.pin ? '1' : undefined, buildGoTool({ name: 'xds-loadgen', module: 'xds-loadgen' }), args);
  const lines: string[] = [];
  const waiting: { prefix: string; resolve: (l: string) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const i = waiting.findIndex((w) => line.startsWith(w.prefix));
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(line);
    else lines.push(line);
  });
  return {
    child,
    send: (line) => void child.stdin!.write(`${line}\n`),
    next(prefix, timeoutMs) {
      const i = lines.findIndex((l) => l.startsWith(prefix));
      if (i >= 0) return Promise.resolve(lines.splice(i, 1)[0]!);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`load generator: no ${prefix} within ${timeoutMs / 1000} s`)), timeoutMs);
        waiting.push({ prefix, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
  };
}

const payload = <T>(line: string): T => JSON.parse(line.slice(line.indexOf(' ') + 1)) as T;

/** Rejects as soon as server + load generator RSS pass the bound (checked every 500 ms). */
function memoryGuard(pids: () => number[], maxBytes: number): { stop(): void; tripped: Promise<never> } {
  let timer: NodeJS.Timeout | undefined;
  const tripped = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      const total = pids().reduce((s, pid) => s + (rssBytes(pid) || 0), 0);
      if (total > maxBytes) reject(new Error(`server + load generator RSS ${(total / 1024 ** 3).toFixed(1)} GiB > ${(maxBytes / 1024 ** 3).toFixed(1)} GiB`));
    }, 500);
  });
  tripped.catch(() => undefined);
  return { stop: () => clearInterval(timer), tripped };
}

async function measureRound(server: ServerProcess, gen: Loadgen, file: string, o: ScaleOptions): Promise<ScaleRound> {
  const portcullis = o.server === 'portcullis';
  if (portcullis) {
    await server.command(`prepare ${file}`, 'PREPARED');
    await server.command('loopreset', 'LOOPRESET');
  }
  gen.send('round');
  await gen.next('ARMED', 10_000);
  const rssBeforePush = rssBytes(server.child.pid!);
  const cpu0 = [cpuMs(server.child.pid!), cpuMs(gen.child.pid!)];
  const p0 = process.hrtime.bigint();
  await server.command(`publish ${file}`, 'PUBLISHED');
  const publishMs = Number(process.hrtime.bigint() - p0) / 1e6;
  const line = await gen.next('ROUND', (o.timeoutSeconds + 10) * 1000);
  // Read before `stats`, which forces a GC: what a push leaves behind without one.
  const rssAfterPush = rssBytes(server.child.pid!);
  const [serverCpuMs, loadgenCpuMs] = [cpuMs(server.child.pid!) - cpu0[0]!, cpuMs(gen.child.pid!) - cpu0[1]!];
  const r = { ...payload<Omit<ScaleRound, 'rssBeforePushMiB' | 'rssAfterPushMiB' | 'loopDelayMaxMs' | 'gaugeLoopDelayMaxSeconds' | 'sliceMaxSeconds' | 'gcMaxMs' | 'serverCpuMs' | 'loadgenCpuMs' | 'publishMs'>>(line), serverCpuMs, loadgenCpuMs, publishMs };
  const s = portcullis ? payload<{ loopDelayMaxMs: number; gaugeLoopDelayMaxSeconds: number | null; sliceMaxSeconds: number | null; gcMaxMs: number | null }>(await server.command('stats', 'STATS')) : null;
  return { ...r, rssBeforePushMiB: rssBeforePush / MiB, rssAfterPushMiB: rssAfterPush / MiB, loopDelayMaxMs: s?.loopDelayMaxMs ?? null, gaugeLoopDelayMaxSeconds: s?.gaugeLoopDelayMaxSeconds ?? null, sliceMaxSeconds: s?.sliceMaxSeconds ?? null, gcMaxMs: s?.gcMaxMs ?? null };
}

export async function runScaleBench(o: ScaleOptions, files: readonly string[], routeTableBytes: number): Promise<ScaleResult> {
  const server = await startServer(o.server, files[0]!, o.pin ? '0' : undefined);
  let gen: Loadgen | undefined;
  const guard = memoryGuard(() => [server.child.pid!, ...(gen?.child.pid ? [gen.child.pid] : [])], o.maxRssBytes);
  const partial = { initialSyncSeconds: NaN, synced: 0, rounds: [] as ScaleRound[], rssBeforeClientsMiB: NaN, rssWithClientsMiB: NaN, storm: null as ScaleResult['storm'], loadgenRssMiB: NaN };
  const bounded = <T>(p: Promise<T>): Promise<T> => Promise.race([p, guard.tripped]);
  try {
    await new Promise((r) => setTimeout(r, 500));
    partial.rssBeforeClientsMiB = rssBytes(server.child.pid!) / MiB;
    gen = startLoadgen(server.port, o);
    const batches = Math.ceil(o.clients / 100);
    const sync = payload<{ seconds: number; synced: number }>(await bounded(gen.next('SYNCED', (o.timeoutSeconds * batches + 30) * 1000)));
    partial.initialSyncSeconds = sync.seconds;
    partial.synced = sync.synced;
    if (sync.synced < o.clients) throw new Error(`${sync.synced}/${o.clients} clients synced`);
    await new Promise((r) => setTimeout(r, 1000));
    partial.rssWithClientsMiB = rssBytes(server.child.pid!) / MiB;
    for (let i = 1; i < files.length; i++) {
      const round = await bounded(measureRound(server, gen, files[i]!, o));
      if (i > o.warmupRounds) partial.rounds.push(round);
      await new Promise((r) => setTimeout(r, 500));
    }
    gen.send('storm');
    partial.storm = payload(await bounded(gen.next('STORM', (o.timeoutSeconds + 10) * 1000)));
    gen.send('stats');
    partial.loadgenRssMiB = payload<{ rssBytes: number }>(await bounded(gen.next('STATS', 10_000))).rssBytes / MiB;
    return { options: o, failure: null, ...partial, rssPerClientKiB: ((partial.rssWithClientsMiB - partial.rssBeforeClientsMiB) * 1024) / o.clients, routeTableBytes };
  } catch (e) {
    return { options: o, failure: (e as Error).message, ...partial, rssPerClientKiB: NaN, routeTableBytes };
  } finally {
    guard.stop();
    if (gen) {
      const exited = new Promise((r) => gen!.child.once('exit', r));
      gen.child.stdin!.end();
      const t = setTimeout(() => gen!.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await server.stop();
  }
}

// n/a: not measured, or no sample at all (the load generator's -1).
const fmt = (v: number | null | undefined, digits = 0, unit = ''): string => (v === null || v === undefined || Number.isNaN(v) || v < 0 ? 'n/a' : `${v.toFixed(digits)}${unit}`);

/** Medians over the measured rounds. */
function summary(r: ScaleResult): Record<string, number | null> {
  const m = (f: (x: ScaleRound) => number | null): number | null => {
    const xs = r.rounds.map(f).filter((x): x is number => x !== null);
    return xs.length ? median(xs) : null;
  };
  return {
    first: m((x) => x.firstMs),
    p50: m((x) => x.p50Ms),
    p99: m((x) => x.p99Ms),
    last: m((x) => x.lastMs),
    bytes: m((x) => x.bytesPerClient),
    routePushes: m((x) => x.routePushesPerClient),
    otherPushes: m((x) => x.otherPushes),
    loop: m((x) => x.loopDelayMaxMs),
    gauge: m((x) => x.gaugeLoopDelayMaxSeconds),
    slice: m((x) => x.sliceMaxSeconds),
    gc: m((x) => x.gcMaxMs),
    before: m((x) => x.rssBeforePushMiB),
    after: m((x) => x.rssAfterPushMiB),
    publish: m((x) => x.publishMs),
    serverCpu: m((x) => x.serverCpuMs),
    loadgenCpu: m((x) => x.loadgenCpuMs),
  };
}

export function formatScale(results: readonly ScaleResult[]): string {
  const rows = [
    '| server | variant | routes | scopes | clients | initial sync | publish | first ACK | change p50 | p99 | last ACK | bytes/client/change | % of table | route pushes/client | other pushes | max loop delay | RSS no clients | with clients | RSS/client | before push | after push | server CPU/change | loadgen CPU/change | storm p50 | storm p99 | storm last | storm bytes/client | loadgen RSS | notes |',
    `|${' --- |'.repeat(5)}${' ---: |'.repeat(23)} --- |`,
  ];
  for (const r of results) {
    const o = r.options;
    const s = summary(r);
    const head = `| ${o.server} | ${o.variant} | ${o.routes} | ${o.scopes} | ${o.clients} |`;
    if (r.failure && r.rounds.length === 0) {
      rows.push(`${head} ${fmt(r.initialSyncSeconds, 2, ' s')} |${' |'.repeat(22)} did not complete: ${r.failure} (synced ${r.synced}) |`);
      continue;
    }
    const loop = o.server === 'portcullis' ? `${fmt(s['loop'], 0, ' ms')}${s['gauge'] === null ? '' : ` (gauge ${fmt((s['gauge'] ?? NaN) * 1000, 0, ' ms')})`}${s['slice'] === null ? '' : ` (slice ${fmt((s['slice'] ?? NaN) * 1000, 0, ' ms')})`}${s['gc'] === null ? '' : ` (GC ${fmt(s['gc'], 0, ' ms')})`}` : 'n/a';
    // Rounds or a storm that did not reach every client within the timeout say so.
    const short = r.rounds.map((x, i) => (x.acked < o.clients ? `round ${i + 1}: ${x.acked}/${o.clients} ACKed within ${o.timeoutSeconds} s` : '')).filter(Boolean);
    if (r.storm && r.storm.synced < o.clients) short.push(`storm: ${Math.max(0, r.storm.synced)}/${o.clients} resynced within ${o.timeoutSeconds} s`);
    if (r.failure) short.push(r.failure);
    rows.push(
      `${head} ${fmt(r.initialSyncSeconds, 2, ' s')} | ${fmt(s['publish'], 0, ' ms')} | ${fmt(s['first'], 0, ' ms')} | ${fmt(s['p50'], 0, ' ms')} | ${fmt(s['p99'], 0, ' ms')} | ${fmt(s['last'], 0, ' ms')} | ${fmt((s['bytes'] ?? NaN) / 1024, 1, ' KiB')} | ${fmt(((s['bytes'] ?? NaN) / r.routeTableBytes) * 100, 1, '%')} | ${fmt(s['routePushes'], 2)} | ${fmt(s['otherPushes'])} | ${loop} | ${fmt(r.rssBeforeClientsMiB, 0, ' MiB')} | ${fmt(r.rssWithClientsMiB, 0, ' MiB')} | ${fmt(r.rssPerClientKiB, 1, ' KiB')} | ${fmt(s['before'], 0, ' MiB')} | ${fmt(s['after'], 0, ' MiB')} | ${fmt(s['serverCpu'], 0, ' ms')} | ${fmt(s['loadgenCpu'], 0, ' ms')} | ${fmt(r.storm?.p50Ms, 0, ' ms')} | ${fmt(r.storm?.p99Ms, 0, ' ms')} | ${fmt(r.storm?.lastMs, 0, ' ms')} | ${fmt((r.storm?.bytesPerClient ?? NaN) / 1024, 0, ' KiB')} | ${fmt(r.loadgenRssMiB, 0, ' MiB')} | ${short.join('; ')} |`,
    );
  }
  return rows.join('\n');
}

/** Portcullis ÷ go-control-plane for each (variant, routes, clients) both completed. */
export function formatRatios(results: readonly ScaleResult[]): string {
  const rows = ['| variant | routes | scopes | clients | change p50 | p99 | last ACK | bytes/client/change | RSS/client | RSS after push | storm last |', `|${' --- |'.repeat(4)}${' ---: |'.repeat(7)}`];
  for (const p of results.filter((r) => r.options.server === 'portcullis' && !r.failure)) {
    const g = results.find((r) => r.options.server === 'go-control-plane' && !r.failure && r.options.variant === p.options.variant && r.options.routes === p.options.routes && r.options.scopes === p.options.scopes && r.options.clients === p.options.clients);
    if (!g) continue;
    const [a, b] = [summary(p), summary(g)];
    const ratio = (x: number | null | undefined, y: number | null | undefined): string => (x == null || y == null || !(y > 0) || !(x > 0) ? 'n/a' : `${(x / y).toFixed(2)}×`);
    const complete = (r: ScaleResult): boolean => r.rounds.every((x) => x.acked === r.options.clients);
    const stormed = (r: ScaleResult): boolean => r.storm !== null && r.storm.synced === r.options.clients;
    rows.push(
      `| ${p.options.variant} | ${p.options.routes} | ${p.options.scopes} | ${p.options.clients} | ${complete(p) && complete(g) ? `${ratio(a['p50'], b['p50'])} | ${ratio(a['p99'], b['p99'])} | ${ratio(a['last'], b['last'])} | ${ratio(a['bytes'], b['bytes'])}` : 'n/a (a round did not reach every client) | | |'} | ${ratio(p.rssPerClientKiB, g.rssPerClientKiB)} | ${ratio(a['after'], b['after'])} | ${stormed(p) && stormed(g) ? ratio(p.storm?.lastMs, g.storm?.lastMs) : 'n/a'} |`,
    );
  }
  return rows.join('\n');
}

/** The whole route table: every RouteConfiguration encoded (NaN when one does not encode). */
export function routeTableSize(encoder: Encoder, resources: EnvoyResources): number {
  return resources.routes.reduce((sum, r) => {
    const b = encoder.encodeAny(TYPE_URL.route, r.value);
    return sum + (b.ok ? b.value.length : NaN);
  }, 0);
}

async function cli(argv: readonly string[]): Promise<void> {
  const arg = argReader(argv);
  const routes = Number(arg('--routes', '1000'));
  const clusters = Number(arg('--clusters', '20'));
  const scopes = Number(arg('--scopes', '0'));
  const rounds = Number(arg('--rounds', '3'));
  const warmupRounds = Number(arg('--warmup', '1'));
  const which = arg('--server', 'both');
  const servers: BenchServer[] = which === 'both' ? ['portcullis', 'go-control-plane'] : [which as BenchServer];
  const variantArg = arg('--variant', 'sotw');
  const variants: ('sotw' | 'delta')[] = variantArg === 'both' ? ['sotw', 'delta'] : [variantArg === 'delta' ? 'delta' : 'sotw'];
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-xds-scale-'));
  try {
    const files = Array.from({ length: warmupRounds + rounds + 1 }, (_, v) => {
      const file = join(dir, `v${v}.json`);
      writeFileSync(file, JSON.stringify(benchResources({ clusters, routes, variant: v, scopes })));
      return file;
    });
    const { createEncoder } = await import('../../xds-server/encode');
    const { loadEnvoyApi } = await import('../../xds-server/descriptors');
    const routeTableBytes = routeTableSize(createEncoder(loadEnvoyApi()), benchResources({ clusters, routes, variant: 0, scopes }));
    buildGoTool({ name: 'xds-loadgen', module: 'xds-loadgen' });
    if (servers.includes('go-control-plane')) buildGoPeer();
    const results: ScaleResult[] = [];
    for (const variant of variants) {
      for (const server of servers) {
        const o: ScaleOptions = {
          server, variant, routes, clusters, scopes, rounds, warmupRounds,
          clients: Number(arg('--clients', '200')),
          timeoutSeconds: Number(arg('--timeout', '60')),
          maxRssBytes: Number(arg('--max-rss-gib', '8')) * 1024 ** 3,
          pin: argv.includes('--pin'),
        };
        const r = await runScaleBench(o, files, routeTableBytes);
        results.push(r);
        process.stderr.write(`${server} ${variant} ${routes}×${o.clients} (${scopes} scopes): rounds [first, p50, p99, last] ${JSON.stringify(r.rounds.map((x) => [Math.round(x.firstMs), Math.round(x.p50Ms), Math.round(x.p99Ms), Math.round(x.lastMs)]))}${r.failure ? `; FAILED: ${r.failure}` : ''}\n`);
      }
    }
    process.stdout.write(`route table: ${routeTableBytes} bytes encoded (${routes} routes, ${scopes === 0 ? 'one RouteConfiguration' : `${scopes} scopes + the fallback: ${scopes + 1} RouteConfigurations`})\n\n${formatScale(results)}\n\n${formatRatios(results)}\n`);
    if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) runCli(cli);
