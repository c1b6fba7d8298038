/**
 * xDS benchmark: N simulated Envoys (SotW ADS, one connection each, loopback) hold a fleet config;
 * one route changes; how long until the last of them ACKed it, how many encodes per version, how much
 * server memory per connected client. The same harness drives the Portcullis server and a
 * go-control-plane peer (tools/gcp-peer), each in its own child process.
 *
 *   node dist/bench/xds/ads-bench.js [--clients 1000] [--server portcullis|go-control-plane|both] [--rounds 5] [--variant sotw|delta]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TYPE_URL, type XdsKind } from '../../compiler/envoy/resources';
import { buildGoTool } from '../go-tools';
import { AdsClient, type AdsResponse, type AdsVariant } from './ads-client';
import { BENCH_FLEET, BENCH_ROUTE_CONFIG, benchResources, clusterNames } from './bench-snapshot';

export type BenchServer = 'portcullis' | 'go-control-plane';

export interface AdsBenchOptions {
  readonly server: BenchServer;
  /** ADS variant the simulated Envoys use. */
  readonly variant: AdsVariant;
  /** Simulated Envoys; bounded to 5000. */
  readonly clients: number;
  /** One-route changes measured. */
  readonly rounds: number;
  /** One-route changes before measuring (JIT warm-up for Node; the same for every server). */
  readonly warmupRounds: number;
  readonly clusters: number;
  readonly routes: number;
  /** Clients connecting at once. */
  readonly connectBatch: number;
  /** Upper bound for any one phase (connect, a round). */
  readonly phaseTimeoutMs: number;
}

export const DEFAULT_BENCH: Omit<AdsBenchOptions, 'server'> = {
  variant: 'sotw',
  clients: 1000,
  rounds: 5,
  warmupRounds: 1,
  clusters: 20,
  routes: 100,
  connectBatch: 100,
  phaseTimeoutMs: 60_000,
};

export interface RoundResult {
  /** Per-client time from publication to the ACK of the new route version, in ms. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly lastAckMs: number;
  readonly acked: number;
}

export interface AdsBenchResult {
  readonly server: BenchServer;
  readonly variant: AdsVariant;
  readonly clients: number;
  readonly routes: number;
  readonly clusters: number;
  /** Time for all clients to connect and ACK the initial config, in s. */
  readonly initialSyncSeconds: number;
  readonly rounds: readonly RoundResult[];
  /** Medians over the rounds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly lastAckMs: number;
  /** Resident memory growth of the server process from 0 to N connected clients, per client. */
  readonly rssPerClientKiB: number;
  /** Heap growth per client (V8 heapUsed / Go HeapInuse, after a GC). */
  readonly heapPerClientKiB: number;
  /** The same from N/2 to N clients: the cost of one more connection, without one-off growth. */
  readonly marginalRssPerClientKiB: number | null;
  readonly marginalHeapPerClientKiB: number | null;
  readonly serverRssMiB: number;
  /** Resource encodes per published version (Portcullis counts them; null for the peer). */
  readonly encodesPerVersion: number | null;
  /** Route responses sent per round per client (1 = only the changed type was pushed). */
  readonly routePushesPerClient: number;
  /** Responses of other types during the rounds (0 = nothing but the route was pushed). */
  readonly otherPushes: number;
  /** Portcullis: how long setSnapshots held the server's event loop (median over rounds), in ms. */
  readonly publishLoopMs: number | null;
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  command(line: string, expect: string): Promise<string>;
  stop(): Promise<void>;
}

export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
export const median = (xs: readonly number[]): number => percentile([...xs].sort((a, b) => a - b), 50);

/** Builds the go-control-plane peer (tools/gcp-peer) once into .tools/bin (Go module proxy; nothing vendored). */
export function buildGoPeer(): string {
  return buildGoTool({ name: 'gcp-peer', module: 'gcp-peer' });
}

/** Spawns `command`, on the CPUs `cpus` lists (taskset's list, e.g. "0") when given; the process reads its affinity at start (Go: GOMAXPROCS). */
export function spawnOn(cpus: string | undefined, command: string, args: readonly string[]): ChildProcess {
  const stdio: ['pipe', 'pipe', 'inherit'] = ['pipe', 'pipe', 'inherit'];
  return cpus === undefined ? spawn(command, args, { stdio }) : spawn('taskset', ['-c', cpus, command, ...args], { stdio });
}

/** Starts a bench server process; `cpus`: pinned to those CPUs (xds-scale-bench --pin). */
export async function startServer(kind: BenchServer, snapshotFile: string, cpus?: string): Promise<ServerProcess> {
  let child: ChildProcess;
  if (kind === 'portcullis') {
    const isTs = __filename.endsWith('.ts');
    const entry = join(__dirname, `bench-server.${isTs ? 'ts' : 'js'}`);
    // PORTCULLIS_BENCH_NODE_ARGS (e.g. "--cpu-prof") goes to the server process, for profiling.
    const extra = (process.env['PORTCULLIS_BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const execArgv = ['--expose-gc', ...extra, ...(isTs ? ['-r', require.resolve('ts-node/register/transpile-only')] : [])];
    child = spawnOn(cpus, process.execPath, [...execArgv, entry, '--snapshot', snapshotFile]);
  } else {
    child = spawnOn(cpus, buildGoPeer(), ['-snapshot', snapshotFile]);
  }
  const lines = createInterface({ input: child.stdout! });
  const waiting: { prefix: string; resolve: (l: string) => void }[] = [];
  lines.on('line', (line) => {
    const i = waiting.findIndex((w) => line.startsWith(w.prefix));
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(line);
  });
  const expectLine = (prefix: string): Promise<string> =>
    new Promise((resolve_, reject) => {
      const timer = setTimeout(() => reject(new Error(`${kind}: no "${prefix}" within 60 s`)), 60_000);
      waiting.push({ prefix, resolve: (l) => (clearTimeout(timer), resolve_(l)) });
    });
  const ready = await expectLine('READY');
  return {
    child,
    port: Number(ready.split(' ')[1]),
    command(line, expect) {
      const p = expectLine(expect);
      child.stdin!.write(`${line}\n`);
      return p;
    },
    stop() {
      return new Promise((resolve_) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => (clearTimeout(timer), resolve_()));
        child.stdin!.end();
      });
    },
  };
}

/** One simulated Envoy: asks for all four types at once (as Envoy does on reconnect) and ACKs everything. */
class SimulatedEnvoy {
  readonly client: AdsClient;
  readonly seen = new Map<XdsKind, number>();
  routeArrivals: bigint[] = [];

  constructor(port: number, id: number, edsNames: readonly string[], variant: AdsVariant) {
    this.client = new AdsClient({
      port,
      variant,
      node: { id: `bench-${id}`, cluster: BENCH_FLEET },
      onResponse: (r: AdsResponse, c) => {
        if (!r.kind) return;
        this.seen.set(r.kind, (this.seen.get(r.kind) ?? 0) + 1);
        if (r.kind === 'route') this.routeArrivals.push(r.receivedAt);
        c.ack(r, r.kind === 'endpoint' ? edsNames : r.kind === 'route' ? [BENCH_ROUTE_CONFIG] : undefined);
      },
    });
    if (variant === 'sotw') {
      this.client.sotw({ typeUrl: TYPE_URL.cluster });
      this.client.sotw({ typeUrl: TYPE_URL.endpoint, resourceNames: edsNames });
      this.client.sotw({ typeUrl: TYPE_URL.listener });
      this.client.sotw({ typeUrl: TYPE_URL.route, resourceNames: [BENCH_ROUTE_CONFIG] });
    } else {
      this.client.delta({ typeUrl: TYPE_URL.cluster });
      this.client.delta({ typeUrl: TYPE_URL.endpoint, subscribe: edsNames });
      this.client.delta({ typeUrl: TYPE_URL.listener });
      this.client.delta({ typeUrl: TYPE_URL.route, subscribe: [BENCH_ROUTE_CONFIG] });
    }
  }

  get synced(): boolean {
    return this.seen.size === 4;
  }
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

type ServerStats = { heapBytes: number; encodes: number } & Record<string, number>;

async function serverStats(server: ServerProcess): Promise<ServerStats> {
  return JSON.parse((await server.command('stats', 'STATS')).slice(6)) as ServerStats;
}

/** One snapshot file per version the run publishes (warm-up, measured rounds, and the first). */
function writeVariants(o: AdsBenchOptions, dir: string): string[] {
  return Array.from({ length: o.warmupRounds + o.rounds + 1 }, (_, v) => {
    const file = join(dir, `v${v}.json`);
    writeFileSync(file, JSON.stringify(benchResources({ clusters: o.clusters, routes: o.routes, variant: v })));
    return file;
  });
}

type HalfWay = { heapBytes: number; rss: number; clients: number };

/** Connects the clients batch by batch, each batch synced before the next; memory is sampled at half. */
async function connectClients(o: AdsBenchOptions, server: ServerProcess, clients: number, envoys: SimulatedEnvoy[]): Promise<{ initialSyncSeconds: number; half: HalfWay | null }> {
  const edsNames = clusterNames(o.clusters);
  const connectStart = process.hrtime.bigint();
  let paused = 0n;
  let half: HalfWay | null = null;
  for (let i = 0; i < clients; i += o.connectBatch) {
    const batch: SimulatedEnvoy[] = [];
    for (let j = i; j < Math.min(clients, i + o.connectBatch); j++) batch.push(new SimulatedEnvoy(server.port, j, edsNames, o.variant));
    envoys.push(...batch);
    await until(() => batch.every((e) => e.synced), o.phaseTimeoutMs, `clients ${i}..${i + batch.length - 1} to sync`);
    if (!half && envoys.length * 2 >= clients && envoys.length < clients) {
      // Memory at half the clients: growth from here on is per connection, not the process's
      // one-off growth (V8 young generation, allocator arenas) that the first clients trigger.
      const t = process.hrtime.bigint();
      await new Promise((r) => setTimeout(r, 500));
      half = { heapBytes: (await serverStats(server)).heapBytes, rss: rssBytes(server.child.pid!), clients: envoys.length };
      paused += process.hrtime.bigint() - t;
    }
  }
  return { initialSyncSeconds: Number(process.hrtime.bigint() - connectStart - paused) / 1e9, half };
}

/** Warm-up rounds, then the measured rounds: publish the next version, wait for every client's RDS; `seenBefore` is each client's push count once warm. */
async function publishRounds(o: AdsBenchOptions, server: ServerProcess, files: readonly string[], envoys: readonly SimulatedEnvoy[]): Promise<{ rounds: RoundResult[]; publishMs: number[]; encodesBeforeRounds: number; seenBefore: Map<string, number>[] }> {
  let published = 0;
  const publishNext = async (): Promise<number> => {
    const line = await server.command(`publish ${files[++published]}`, 'PUBLISHED');
    return Number(line.split(' ')[1] ?? NaN);
  };
  for (let w = 0; w < o.warmupRounds; w++) {
    for (const e of envoys) e.routeArrivals = [];
    await publishNext();
    await until(() => envoys.every((e) => e.routeArrivals.length > 0), o.phaseTimeoutMs, `warm-up round ${w + 1}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const encodesBeforeRounds = (await serverStats(server)).encodes;
  const rounds: RoundResult[] = [];
  const publishMs: number[] = [];
  const seenBefore = envoys.map((e) => new Map(e.seen));
  for (let round = 1; round <= o.rounds; round++) {
    for (const e of envoys) e.routeArrivals = [];
    const t0 = process.hrtime.bigint();
    publishMs.push(await publishNext());
    await until(() => envoys.every((e) => e.routeArrivals.length > 0), o.phaseTimeoutMs, `round ${round} ACKs`);
    const latencies = envoys.map((e) => Number(e.routeArrivals[0]! - t0) / 1e6).sort((a, b) => a - b);
    rounds.push({ p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), lastAckMs: latencies.at(-1)!, acked: latencies.length });
    await new Promise((r) => setTimeout(r, 200));
  }
  return { rounds, publishMs, encodesBeforeRounds, seenBefore };
}

/** Pushes each client received since `seenBefore`: RDS ones, and all the others. */
function countPushes(envoys: readonly SimulatedEnvoy[], seenBefore: readonly Map<string, number>[]): { routePushes: number; otherPushes: number } {
  let routePushes = 0;
  let otherPushes = 0;
  envoys.forEach((e, i) => {
    for (const [kind, n] of e.seen) {
      const delta = n - (seenBefore[i]!.get(kind) ?? 0);
      if (kind === 'route') routePushes += delta;
      else otherPushes += delta;
    }
  });
  return { routePushes, otherPushes };
}

export async function runAdsBench(options: Partial<AdsBenchOptions> & { server: BenchServer }): Promise<AdsBenchResult> {
  const o: AdsBenchOptions = { ...DEFAULT_BENCH, ...options };
  const clients = Math.max(1, Math.min(5000, Math.floor(o.clients)));
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-ads-bench-'));
  const files = writeVariants(o, dir);
  const server = await startServer(o.server, files[0]!);
  const envoys: SimulatedEnvoy[] = [];
  try {
    const before = await serverStats(server);
    const rssBefore = rssBytes(server.child.pid!);
    const { initialSyncSeconds, half } = await connectClients(o, server, clients, envoys);
    await new Promise((r) => setTimeout(r, 500));
    const after = await serverStats(server);
    const rssAfter = rssBytes(server.child.pid!);
    if (process.env['PORTCULLIS_BENCH_DEBUG']) process.stderr.write(`${o.server} memory before ${JSON.stringify(before)} after ${JSON.stringify(after)}\n`);

    const { rounds, publishMs, encodesBeforeRounds, seenBefore } = await publishRounds(o, server, files, envoys);
    const end = await serverStats(server);
    const { routePushes, otherPushes } = countPushes(envoys, seenBefore);
    return {
      server: o.server,
      variant: o.variant,
      clients,
      routes: o.routes,
      clusters: o.clusters,
      initialSyncSeconds,
      rounds,
      p50Ms: median(rounds.map((r) => r.p50Ms)),
      p99Ms: median(rounds.map((r) => r.p99Ms)),
      lastAckMs: median(rounds.map((r) => r.lastAckMs)),
      rssPerClientKiB: (rssAfter - rssBefore) / clients / 1024,
      heapPerClientKiB: (after.heapBytes - before.heapBytes) / clients / 1024,
      marginalRssPerClientKiB: half ? (rssAfter - half.rss) / (clients - half.clients) / 1024 : null,
      marginalHeapPerClientKiB: half ? (after.heapBytes - half.heapBytes) / (clients - half.clients) / 1024 : null,
      serverRssMiB: rssAfter / 1024 / 1024,
      encodesPerVersion: end.encodes < 0 ? null : (end.encodes - encodesBeforeRounds) / o.rounds,
      routePushesPerClient: routePushes / clients / o.rounds,
      publishLoopMs: o.server === 'portcullis' ? median(publishMs) : null,
      otherPushes,
    };
  } finally {
    for (const e of envoys) e.client.cancel();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatResults(results: readonly AdsBenchResult[]): string {
  const rows = [
    '| server | variant | clients | routes | initial sync | push→last ACK p50 | p99 | last | encodes/version | route pushes/client/round | other pushes | server RSS | RSS/client | heap/client | RSS/client N/2→N | heap/client N/2→N |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of results) {
    rows.push(
      `| ${r.server} | ${r.variant} | ${r.clients} | ${r.routes} | ${r.initialSyncSeconds.toFixed(2)} s | ${r.p50Ms.toFixed(0)} ms | ${r.p99Ms.toFixed(0)} ms | ${r.lastAckMs.toFixed(0)} ms | ${r.encodesPerVersion ?? 'n/a'} | ${r.routePushesPerClient.toFixed(2)} | ${r.otherPushes} | ${r.serverRssMiB.toFixed(0)} MiB | ${r.rssPerClientKiB.toFixed(1)} KiB | ${r.heapPerClientKiB.toFixed(1)} KiB | ${r.marginalRssPerClientKiB?.toFixed(1) ?? 'n/a'} KiB | ${r.marginalHeapPerClientKiB?.toFixed(1) ?? 'n/a'} KiB |`,
    );
  }
  return rows.join('\n');
}

/** `--name value` from the command line, or `fallback`. */
export function argReader(argv: readonly string[]): (name: string, fallback: string) => string {
  return (name, fallback) => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
  };
}

async function cli(argv: readonly string[]): Promise<void> {
  const arg = argReader(argv);
  const which = arg('--server', 'both');
  const servers: BenchServer[] = which === 'both' ? ['portcullis', 'go-control-plane'] : [which as BenchServer];
  const results: AdsBenchResult[] = [];
  for (const server of servers) {
    if (server === 'go-control-plane') {
      try {
        buildGoPeer();
      } catch (e) {
        // No Go toolchain or no module proxy: the Portcullis figures still stand on their own.
        process.stderr.write(`go-control-plane peer not run: ${(e as Error).message}\n`);
        continue;
      }
    }
    const r = await runAdsBench({
      server,
      variant: arg('--variant', 'sotw') === 'delta' ? 'delta' : 'sotw',
      clients: Number(arg('--clients', String(DEFAULT_BENCH.clients))),
      rounds: Number(arg('--rounds', String(DEFAULT_BENCH.rounds))),
      routes: Number(arg('--routes', String(DEFAULT_BENCH.routes))),
      clusters: Number(arg('--clusters', String(DEFAULT_BENCH.clusters))),
    });
    results.push(r);
    process.stderr.write(
      `${server}: rounds [p50, p99, last] ms ${JSON.stringify(r.rounds.map((x) => [Math.round(x.p50Ms), Math.round(x.p99Ms), Math.round(x.lastAckMs)]))}${r.publishLoopMs === null ? '' : `; setSnapshots ${r.publishLoopMs} ms`}\n`,
    );
  }
  process.stdout.write(`${formatResults(results)}\n`);
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

/** Runs a benchmark's command line: exit 0 when done, 1 with the stack on a failure. */
export function runCli(cli: (argv: readonly string[]) => Promise<void>): void {
  cli(process.argv.slice(2)).then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) runCli(cli);
