/**
 * Benchmark (docs/benchmarks.md, issue 9): Envoy request latency with the access-log stream off, on
 * (a real monitor receiving it, in its own process: bench/monitor/als-receiver.ts), and with the
 * receiver stopped, at a fixed request rate. Two Envoys run side by side from the product's static
 * bootstrap — one without the logger, one with it — and are measured in alternation, round after
 * round, so load on the machine falls on both. Reports p50/p99/max, Envoy CPU per 1,000 requests
 * (from /proc) and the bench process's CPU. Measures only: never fails on a figure. Usage:
 *   node dist/bench/monitor/als-latency-bench.js [--rate 200] [--seconds 5] [--rounds 3]
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
const RATE = option('rate', 200);
const SECONDS = option('seconds', 5);
const ROUNDS = option('rounds', 3);

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
  writeFileSync(file, JSON.stringify(bootstrap));
  const bin = process.env['ENVOY_BIN'] ?? 'envoy';
  const proc = spawn(bin, ['-c', file, '--use-dynamic-base-id', '--concurrency', '1', '--log-level', 'error'], { stdio: 'ignore', detached: true });
  return { name, listener, admin, proc };
}

/** The receiver's process; resolves with its ports once it listens. */
async function startReceiver(policyFile: string, port: number): Promise<{ proc: ChildProcess; http: number }> {
  const script = path.join(__dirname, `als-receiver${path.extname(__filename)}`);
  const hook = script.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only'] : [];
  const proc = spawn(process.execPath, [...hook, script, policyFile, String(port)], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
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
  benchCpuMs: number;
}

/** `count` GETs at RATE per second (open loop: a slow answer does not delay the next request). */
async function load(port: number, count: number, into: Sample | null): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const get = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const began = performance.now();
      const req = request({ host: '127.0.0.1', port, path: '/echo', agent }, (res) => {
        res.resume().on('end', () => (res.statusCode === 200 ? resolve(performance.now() - began) : reject(new Error(`status ${res.statusCode}`))));
      });
      req.once('error', reject).end();
    });
  const began = performance.now();
  const inFlight: Promise<number>[] = [];
  for (let i = 0; i < count; i++) {
    const delay = began + (i * 1000) / RATE - performance.now();
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    inFlight.push(get());
  }
  const ms = await Promise.all(inFlight);
  into?.latencies.push(...ms);
  agent.destroy();
}

async function measure(envoy: Envoy, into: Sample): Promise<void> {
  const envoyBefore = cpuMs(envoy.proc.pid as number);
  const benchBefore = process.cpuUsage();
  await load(envoy.listener, RATE * SECONDS, into);
  const bench = process.cpuUsage(benchBefore);
  into.envoyCpuMs += cpuMs(envoy.proc.pid as number) - envoyBefore;
  into.benchCpuMs += (bench.user + bench.system) / 1000;
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

function report(name: string, s: Sample): string {
  const sorted = [...s.latencies].sort((a, b) => a - b);
  const per1k = (ms: number) => ((ms * 1000) / sorted.length).toFixed(0);
  return `${name.padEnd(18)} ${String(sorted.length).padStart(6)} ${quantile(sorted, 0.5).toFixed(3).padStart(8)} ${quantile(sorted, 0.99).toFixed(3).padStart(8)} ${(sorted[sorted.length - 1] ?? 0).toFixed(3).padStart(8)} ${per1k(s.envoyCpuMs).padStart(12)} ${per1k(s.benchCpuMs).padStart(11)}`;
}

/** Rounds of alternating measurements of two Envoys (the order swaps each round). */
async function alternate(a: [Envoy, Sample], b: [Envoy, Sample]): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [envoy, sample] of round % 2 ? [b, a] : [a, b]) await measure(envoy, sample);
  }
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
  const [offListener, offAdmin, onListener, onAdmin, als] = await Promise.all([portFree(), portFree(), portFree(), portFree(), portFree()]);
  const children: ChildProcess[] = [];
  try {
    const policyFile = path.join(dir, 'receiver.yaml');
    writeFileSync(policyFile, policyText(onListener, upstreamPort));
    const receiver = await startReceiver(policyFile, als);
    children.push(receiver.proc);
    const off = startEnvoy(dir, 'off', upstreamPort, offListener, offAdmin, null);
    const on = startEnvoy(dir, 'on', upstreamPort, onListener, onAdmin, als);
    children.push(off.proc, on.proc);
    await Promise.all([ready('Envoy (logger off)', `http://127.0.0.1:${offAdmin}/ready`), ready('Envoy (logger on)', `http://127.0.0.1:${onAdmin}/ready`)]);
    for (const e of [off, on]) await load(e.listener, 200, null); // warm-up: connections, the ALS stream
    const load1 = loadavg()[0]?.toFixed(2);
    const fresh = (): Sample => ({ latencies: [], envoyCpuMs: 0, benchCpuMs: 0 });
    const [offUp, onUp, offDown, onDown] = [fresh(), fresh(), fresh(), fresh()];
    await alternate([off, offUp], [on, onUp]);
    const counted = (await (await fetch(`http://127.0.0.1:${receiver.http}/`)).text()).split('\n').find((l) => l.startsWith('portcullis_monitor_entries_total{result="counted"}'));
    const statsUp = await alsStats(on);
    process.kill(-(receiver.proc.pid as number), 'SIGTERM');
    await new Promise((r) => setTimeout(r, 2000));
    await alternate([off, offDown], [on, onDown]);
    console.log(`${RATE} requests/s, ${SECONDS} s × ${ROUNDS} rounds per Envoy and phase, one worker each, keep-alive; load average ${load1} → ${loadavg()[0]?.toFixed(2)}`);
    console.log('Envoy              reqs   p50 ms   p99 ms   max ms  Envoy CPU ms/1k  bench CPU ms/1k');
    console.log(report('logger off', offUp));
    console.log(report('logger on', onUp));
    console.log(report('logger off (2)', offDown));
    console.log(report('receiver stopped', onDown));
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
