/**
 * Benchmark (docs/benchmarks.md, issue 9): Envoy request latency with the access-log stream off, on
 * (a real monitor receiving it, in its own process: bench/monitor/als-receiver.ts), and with the
 * receiver stopped, at a fixed request rate. Three Envoys run side by side from the product's static
 * bootstrap — two without the logger, one with it — and the load interleaves them request by
 * request, so every moment of the machine's load falls on all three alike; the two logger-off Envoys'
 * own difference is the noise floor the on/off difference is read against. Reports p50/p99/max, Envoy
 * CPU per 1,000 requests (from /proc) and the bench process's CPU. Measures only: never fails on a
 * figure. Usage:
 *   node dist/bench/monitor/als-latency-bench.js [--rate 100] [--seconds 10] [--rounds 4] [--receiver-cpu N]
 *     [--buffer-bytes B] [--flush-ms MS]
 * `--receiver-cpu N` runs the receiver on CPU N alone (taskset), as a monitor on its own machine
 * would be; start the bench itself with `taskset -c M` (M ≠ N) so the Envoys and the load stay off it.
 * `--buffer-bytes` / `--flush-ms` try other logger buffering than the product's (compiler/envoy/access-log.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer as createHttpServer, request } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { compileSources } from '../../compiler';
import { staticBootstrap, translatePolicy } from '../../compiler/envoy';

const option = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? fallback : Number(process.argv[at + 1]);
};
const RATE = option('rate', 100);
const SECONDS = option('seconds', 10);
const ROUNDS = option('rounds', 4);
const RECEIVER_CPU = option('receiver-cpu', -1);
/** Variants of the logger's buffering to compare (the product's values by default). */
const BUFFER_BYTES = option('buffer-bytes', 0);
const FLUSH_MS = option('flush-ms', 0);

/** The bootstrap with the logger's buffer size / flush interval replaced where asked. */
function withBuffering(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withBuffering);
  if (typeof node !== 'object' || node === null) return node;
  const out = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, withBuffering(v)]));
  if ('buffer_size_bytes' in out && BUFFER_BYTES > 0) out['buffer_size_bytes'] = BUFFER_BYTES;
  if ('buffer_flush_interval' in out && FLUSH_MS > 0) out['buffer_flush_interval'] = `${FLUSH_MS / 1000}s`;
  return out;
}

function portFree(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createTcpServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function policyText(listener: number, upstream: number): string {
  return `apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: echo }
spec: { endpoints: [{ address: 127.0.0.1, port: ${upstream} }] }
---
apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: echo }
spec: { path: { prefix: / }, service: echo }
---
apiVersion: portcullis.dev/v1
kind: Access
metadata: { name: public }
spec: { rules: [{ routes: [echo], public: true }] }
---
apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: bench }
spec: { fleets: [bench], listener: { address: 127.0.0.1, port: ${listener} } }
`;
}

interface Envoy {
  readonly name: string;
  readonly listener: number;
  readonly admin: number;
  readonly proc: ChildProcess;
}

function startEnvoy(dir: string, name: string, upstream: number, listener: number, admin: number, als: number | null): Envoy {
  const compiled = compileSources([{ path: `${name}.yaml`, text: policyText(listener, upstream) }], new Date());
  if (!compiled.ok) throw new Error(compiled.errors.map((e) => e.message).join('\n'));
  const [resources] = translatePolicy(compiled.value);
  if (!resources) throw new Error('no Envoy resources');
  const bootstrap = staticBootstrap(resources, { adminPort: admin, ...(als === null ? {} : { accessLogService: { host: '127.0.0.1', port: als } }) });
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(withBuffering(bootstrap)));
  const bin = process.env['ENVOY_BIN'] ?? 'envoy';
  const proc = spawn(bin, ['-c', file, '--use-dynamic-base-id', '--concurrency', '1', '--log-level', 'error'], { stdio: 'ignore', detached: true });
  return { name, listener, admin, proc };
}

/** The receiver's process; resolves with its ports once it listens. */
async function startReceiver(policyFile: string, port: number): Promise<{ proc: ChildProcess; http: number }> {
  const script = path.join(__dirname, `als-receiver${path.extname(__filename)}`);
  const hook = script.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : [];
  const command = [process.execPath, ...hook, script, policyFile, String(port)];
  const pinned = RECEIVER_CPU < 0 ? command : ['taskset', '-c', String(RECEIVER_CPU), ...command];
  const proc = spawn(pinned[0] as string, pinned.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`the receiver exited (${code})`)));
  });
  return { proc, http: (JSON.parse(first) as { http: number }).http };
}

async function ready(what: string, url: string, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const ok = await fetch(url).then((r) => r.status === 200, () => false);
    if (ok) return;
  }
  throw new Error(`${what} not ready after ${ms} ms`);
}

/** utime + stime of a process, in ms (Linux /proc, 100 ticks per second). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Sample {
  readonly latencies: number[];
  envoyCpuMs: number;
}

interface Target {
  readonly envoy: Envoy;
  readonly sample: Sample | null;
}

/**
 * `perTarget` GETs to each target at RATE per second each, interleaved request by request (open loop:
 * a slow answer does not delay the next request), so every Envoy sees the same moments of the machine.
 */
async function load(targets: readonly Target[], perTarget: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 * targets.length });
  const get = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const began = performance.now();
      const req = request({ host: '127.0.0.1', port, path: '/echo', agent }, (res) => {
        res.resume().on('end', () => (res.statusCode === 200 ? resolve(performance.now() - began) : reject(new Error(`status ${res.statusCode}`))));
      });
      req.once('error', reject).end();
    });
  const began = performance.now();
  const inFlight: Promise<void>[] = [];
  const rate = RATE * targets.length;
  for (let i = 0; i < perTarget * targets.length; i++) {
    const delay = began + (i * 1000) / rate - performance.now();
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const target = targets[i % targets.length] as Target;
    inFlight.push(get(target.envoy.listener).then((ms) => void target.sample?.latencies.push(ms)));
  }
  await Promise.all(inFlight);
  agent.destroy();
}

/** One phase: ROUNDS × SECONDS of interleaved load; Envoy CPU from /proc, the bench's from cpuUsage. */
async function measure(targets: readonly Target[]): Promise<number> {
  const before = targets.map((t) => cpuMs(t.envoy.proc.pid as number));
  const bench = process.cpuUsage();
  for (let round = 0; round < ROUNDS; round++) await load(targets, RATE * SECONDS);
  targets.forEach((t, i) => {
    if (t.sample) t.sample.envoyCpuMs += cpuMs(t.envoy.proc.pid as number) - (before[i] as number);
  });
  const used = process.cpuUsage(bench);
  return (used.user + used.system) / 1000 / (ROUNDS * RATE * SECONDS * targets.length);
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const p99 = (s: Sample): number => quantile([...s.latencies].sort((a, b) => a - b), 0.99);

function report(name: string, s: Sample): string {
  const sorted = [...s.latencies].sort((a, b) => a - b);
  const per1k = ((s.envoyCpuMs * 1000) / sorted.length).toFixed(0);
  return `${name.padEnd(18)} ${String(sorted.length).padStart(6)} ${quantile(sorted, 0.5).toFixed(3).padStart(8)} ${quantile(sorted, 0.99).toFixed(3).padStart(8)} ${(sorted[sorted.length - 1] ?? 0).toFixed(3).padStart(8)} ${per1k.padStart(15)}`;
}

/** "on vs the two logger-off Envoys" at p99, with the two off Envoys' own spread as the noise floor. */
function verdict(what: string, on: Sample, a: Sample, b: Sample): string {
  const off = (p99(a) + p99(b)) / 2;
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
  return `${what}: p99 ${pct(p99(on) / off - 1)} against the mean of the two logger-off Envoys (their own spread: ${pct(Math.abs(p99(a) - p99(b)) / off)})`;
}

async function alsStats(envoy: Envoy): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${envoy.admin}/stats?filter=access_log`)).text();
  return text.split('\n').filter((l) => /logs_(written|dropped)/.test(l)).join(', ');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-als-bench-'));
  const upstream = createHttpServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  const [offListener, offAdmin, offBListener, offBAdmin, onListener, onAdmin, als] = (await Promise.all(Array.from({ length: 7 }, portFree))) as [number, number, number, number, number, number, number];
  const children: ChildProcess[] = [];
  try {
    const policyFile = path.join(dir, 'receiver.yaml');
    writeFileSync(policyFile, policyText(onListener, upstreamPort));
    const receiver = await startReceiver(policyFile, als);
    children.push(receiver.proc);
    const offA = startEnvoy(dir, 'off-a', upstreamPort, offListener, offAdmin, null);
    const offB = startEnvoy(dir, 'off-b', upstreamPort, offBListener, offBAdmin, null);
    const on = startEnvoy(dir, 'on', upstreamPort, onListener, onAdmin, als);
    children.push(offA.proc, offB.proc, on.proc);
    await Promise.all([offA, offB, on].map((e) => ready(`Envoy ${e.name}`, `http://127.0.0.1:${e.admin}/ready`)));
    await load([offA, offB, on].map((envoy) => ({ envoy, sample: null })), 200); // warm-up: connections, the ALS stream
    const load1 = loadavg()[0]?.toFixed(2);
    const fresh = (): Sample => ({ latencies: [], envoyCpuMs: 0 });
    const up = { a: fresh(), b: fresh(), on: fresh() };
    const down = { a: fresh(), b: fresh(), on: fresh() };
    const phase = (s: typeof up) => measure([{ envoy: offA, sample: s.a }, { envoy: offB, sample: s.b }, { envoy: on, sample: s.on }]);
    const benchUp = await phase(up);
    const counted = (await (await fetch(`http://127.0.0.1:${receiver.http}/`)).text()).split('\n').find((l) => l.startsWith('portcullis_monitor_entries_total{result="counted"}'));
    const statsUp = await alsStats(on);
    process.kill(-(receiver.proc.pid as number), 'SIGTERM');
    await new Promise((r) => setTimeout(r, 2000));
    const benchDown = await phase(down);
    const variant = `${RECEIVER_CPU < 0 ? '' : `, receiver on CPU ${RECEIVER_CPU}`}${BUFFER_BYTES ? `, buffer ${BUFFER_BYTES} B` : ''}${FLUSH_MS ? `, flush ${FLUSH_MS} ms` : ''}`;
    console.log(`${RATE} requests/s per Envoy, three Envoys interleaved request by request, ${SECONDS} s × ${ROUNDS} rounds per phase, one worker each, keep-alive${variant}; load average ${load1} → ${loadavg()[0]?.toFixed(2)}`);
    console.log('Envoy              reqs   p50 ms   p99 ms   max ms  Envoy CPU ms/1k');
    console.log(report('logger off (a)', up.a));
    console.log(report('logger off (b)', up.b));
    console.log(report('logger on', up.on));
    console.log(report('logger off (a) 2', down.a));
    console.log(report('logger off (b) 2', down.b));
    console.log(report('receiver stopped', down.on));
    console.log(verdict('logger on, receiver up', up.on, up.a, up.b));
    console.log(verdict('logger on, receiver stopped', down.on, down.a, down.b));
    console.log(`bench process CPU per request: ${benchUp.toFixed(3)} / ${benchDown.toFixed(3)} ms (it also serves the upstream)`);
    console.log(`receiver: ${counted ?? 'no counted entries'}; Envoy (on), receiver up: ${statsUp}; after the stop: ${await alsStats(on)}`);
  } finally {
    for (const c of children.reverse()) {
      try {
        process.kill(-(c.pid as number), 'SIGTERM');
      } catch {
        // gone already (the receiver, stopped by the bench)
      }
    }
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
