/**
 * The Portcullis side of the xDS benchmark: a child process running createXdsServer on loopback,
 * driven over stdin/stdout with the same line protocol as the go-control-plane peer:
 *   argv: --snapshot FILE [--port N]      stdout: READY <port>
 *   stdin "publish FILE"  → PUBLISHED     stdin "stats" → STATS {"heapBytes":..,"encodes":..,"loopDelayMaxMs":..}
 *   stdin "prepare FILE"  → PREPARED (reads and parses FILE ahead: the next `publish FILE` is setSnapshots alone)
 *   stdin "loopreset"     → LOOPRESET (the event-loop delay histogram and the server's gauge start again)
 * loopDelayMaxMs: the longest event-loop delay since the last reset (perf_hooks
 * monitorEventLoopDelay, 10 ms resolution); gaugeLoopDelayMaxSeconds: the server's own
 * portcullis_xds_event_loop_delay_max_seconds gauge, when the registry has one (else null);
 * sliceMaxSeconds: its portcullis_xds_push_slice_max_seconds (longest slice of publication work);
 * gcMaxMs: the longest GC pause since the last loopreset.
 * With $BENCH_AUDIT_DIR set, every push and ACK is also written to an audit trail there (its cost).
 * $BENCH_SLICE="TASKS,MS" sets the publication slice (createXdsServer's publicationSlice: TASKS
 * bounds the SotW pushes of a slice, PUSH_COST); PUBLICATION_SLICE when unset.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { EnvoyResources } from '../../compiler/envoy/resources';
import { AuditWriter } from '../../audit';
import { createXdsServer } from '../../xds-server/ads-server';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const registry = new Registry();
  const auditDir = process.env.BENCH_AUDIT_DIR;
  const audit = auditDir ? await AuditWriter.open({ dir: auditDir, stream: 'serve' }) : undefined;
  const slice = process.env.BENCH_SLICE?.split(',').map(Number);
  const publicationSlice = slice ? { maxTasks: slice[0]!, maxMs: slice[1]! } : undefined;
  const server = createXdsServer({ logger: pino({ level: 'warn' }, pino.destination(2)), registry, ...(audit ? { audit } : {}), ...(publicationSlice ? { publicationSlice } : {}) });
  let commit = 0;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  // The longest GC pause since the last loopreset: a stall that is not the server's slices.
  let gcMaxMs = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMaxMs = Math.max(gcMaxMs, e.duration);
  }).observe({ entryTypes: ['gc'] });
  const read = (file: string): EnvoyResources => JSON.parse(readFileSync(file, 'utf8')) as EnvoyResources;
  /** Parsed ahead by `prepare`, so that the bench's own JSON.parse is not in the measured round. */
  const prepared = new Map<string, EnvoyResources>();
  // Awaited: setSnapshots encodes in slices over several turns of the loop.
  const publish = async (file: string): Promise<void> => {
    const resources = prepared.get(file) ?? read(file);
    prepared.delete(file);
    const out = await server.setSnapshots(new Map([[resources.fleet, resources]]), { commit: `bench-${++commit}`, compiledAt: new Date().toISOString() });
    if (!out.ok) throw new Error(`snapshot refused: ${JSON.stringify(out.errors.slice(0, 3))}`);
  };
  await publish(arg('--snapshot')!);
  const port = await server.listen('127.0.0.1', Number(arg('--port') ?? 0));
  process.stdout.write(`READY ${port}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const [cmd, file] = line.trim().split(/\s+/);
    if (cmd === 'publish') {
      const t0 = process.hrtime.bigint();
      // How long publication took (encoding + queueing every stream's push; held the loop when synchronous).
      void publish(file!).then(() => process.stdout.write(`PUBLISHED ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)}\n`));
    } else if (cmd === 'prepare') {
      prepared.set(file!, read(file!));
      process.stdout.write('PREPARED\n');
    } else if (cmd === 'loopreset') {
      loop.reset();
      gcMaxMs = 0;
      // A scrape resets the server's own stall gauge.
      const gauges = ['portcullis_xds_event_loop_delay_max_seconds', 'portcullis_xds_push_slice_max_seconds'].map((n) => registry.getSingleMetric(n)?.get());
      void Promise.all(gauges).then(() => process.stdout.write('LOOPRESET\n'));
    } else if (cmd === 'stats') {
      const loopDelayMaxMs = loop.max / 1e6;
      (globalThis as { gc?: () => void }).gc?.();
      void stats(registry, loopDelayMaxMs, gcMaxMs).then((s) => process.stdout.write(`STATS ${JSON.stringify(s)}\n`));
    }
  });
  lines.on('close', () => {
    void server.shutdown(100).then(() => process.exit(0));
  });
}

async function stats(registry: Registry, loopDelayMaxMs: number, gcMaxMs: number): Promise<Record<string, number | null>> {
  const m = await registry.getSingleMetric('portcullis_xds_resource_encodes_total')!.get();
  const encodes = m.values.reduce((s, v) => s + v.value, 0);
  const gauge = registry.getSingleMetric('portcullis_xds_event_loop_delay_max_seconds');
  const gaugeLoopDelayMaxSeconds = gauge ? Math.max(0, ...(await gauge.get()).values.map((v) => v.value)) : null;
  const slice = registry.getSingleMetric('portcullis_xds_push_slice_max_seconds');
  const sliceMaxSeconds = slice ? Math.max(0, ...(await slice.get()).values.map((v) => v.value)) : null;
  const mem = process.memoryUsage();
  return { heapBytes: mem.heapUsed, heapTotal: mem.heapTotal, external: mem.external, arrayBuffers: mem.arrayBuffers, rss: mem.rss, encodes, loopDelayMaxMs, gaugeLoopDelayMaxSeconds, sliceMaxSeconds, gcMaxMs };
}

void main();
