/**
 * `npm run bench` (audit part): append throughput of the audit writer with fsync off, on incident
 * events and on every record (awaited one by one, and many in flight = group commit); bytes one
 * incident takes on disk; `audit show` and `audit verify` over a trail of 1,000,000 records.
 * Usage: audit-bench.js [records=1000000]
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AuditWriter, buildTimeline, queryTrail, renderText, verifyAuditDir, type FsyncPolicy } from '../../audit';
import { incidentRecords, writeIncident } from './incident-trail';

const temp = (): string => mkdtempSync(path.join(tmpdir(), 'portcullis-audit-bench-'));
const ms = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e6;
/** CPU time (user + system) since `start`, in ms: the machine is shared, wall time alone misleads. */
const cpuMs = (start: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
};
const ack = (i: number) => ({ node: `envoy-${i % 1000}`, fleet: 'prod-edge', type: 'route', version: `route-${(i / 1000) | 0}`, commit: `c${(i / 1000) | 0}`.padEnd(40, '0'), environment: 'prod', nonce: `${i}`, latencyMs: 12.5 });

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile() && e.name.endsWith('.jsonl')) total += statSync(path.join(e.parentPath, e.name)).size;
  return total;
}

/** Records/s for `count` records (bounded by `maxMs`): awaited one by one, or `inFlight` at a time. */
async function appendRate(fsync: FsyncPolicy, inFlight: number, count: number, maxMs: number, incidentEvery = 0): Promise<{ rate: number; n: number; bytes: number; cpuUs: number }> {
  const dir = temp();
  const w = await AuditWriter.open({ dir, stream: 'serve', fsync });
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  let n = 0;
  while (n < count && ms(start) < maxMs) {
    const batch: Promise<void>[] = [];
    for (let k = 0; k < inFlight; k++, n++) {
      batch.push(incidentEvery > 0 && n % incidentEvery === 0 ? w.record('xds.nack', { ...ack(n), error: 'rejected' }) : w.record('xds.ack', ack(n)));
    }
    await Promise.all(batch);
  }
  const elapsed = ms(start);
  const cpuUs = (cpuMs(cpu) * 1000) / n;
  await w.close();
  const bytes = dirBytes(dir);
  rmSync(dir, { recursive: true, force: true });
  return { rate: (n / elapsed) * 1000, n, bytes, cpuUs };
}

async function appends(): Promise<void> {
  console.log(`appends (xds.ack records of ~415 bytes; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}):`);
  const rows: [string, FsyncPolicy, number, number, number, number][] = [
    ['fsync never, awaited one by one', 'never', 1, 20_000, 5000, 0],
    ['fsync never, 1000 in flight', 'never', 1000, 300_000, 8000, 0],
    ['fsync always, awaited one by one', 'always', 1, 3_000, 4000, 0],
    ['fsync always, 1000 in flight (group commit)', 'always', 1000, 100_000, 6000, 0],
    ['fsync incident, 1% incident events, awaited one by one', 'incident', 1, 10_000, 5000, 100],
    ['fsync incident, 1% incident events, 1000 in flight', 'incident', 1000, 200_000, 6000, 100],
  ];
  for (const [label, fsync, inFlight, count, maxMs, every] of rows) {
    const r = await appendRate(fsync, inFlight, count, maxMs, every);
    console.log(`  ${label.padEnd(58)} ${Math.round(r.rate).toLocaleString('en-US').padStart(9)} records/s  ${r.cpuUs.toFixed(1).padStart(6)} µs CPU/record  (${r.n} records, ${(r.bytes / r.n).toFixed(0)} B each)`);
  }
}

async function perIncident(): Promise<void> {
  console.log('bytes per incident (alert → PR → review → merge → compiled → every node pushed+ACKed → cloud → expired):');
  for (const [nodes, types] of [[12, ['route']], [12, ['cluster', 'endpoint', 'listener', 'route']], [1000, ['route']]] as const) {
    const dir = temp();
    const names = Array.from({ length: nodes }, (_, i) => `envoy-${i}`);
    await writeIncident(dir, new Date('2026-12-01T10:00:00Z'), names, { types, noNoise: true });
    const records = incidentRecords(names, { types, noNoise: true }).length;
    const bytes = dirBytes(dir);
    console.log(`  ${String(nodes).padStart(4)} Envoys × ${types.length} type(s): ${records} records, ${(bytes / 1024).toFixed(1)} KiB (${(bytes / records).toFixed(0)} B/record)`);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A trail of `total` records over 24 h: per-node xDS records of many commits, an incident every 10,000. */
async function bigTrail(total: number): Promise<{ dir: string; incidents: number }> {
  const dir = temp();
  const start = Date.parse('2026-12-01T00:00:00Z');
  let now = new Date(start);
  const writers = new Map<string, AuditWriter>();
  const writer = async (stream: string) => {
    let w = writers.get(stream);
    if (!w) writers.set(stream, (w = await AuditWriter.open({ dir, stream, fsync: 'never', clock: () => now })));
    return w;
  };
  const stepMs = 86_400_000 / total;
  let written = 0;
  let incidents = 0;
  let pending: Promise<void>[] = [];
  while (written < total) {
    if (written % 10_000 === 0) {
      incidents++;
      const names = Array.from({ length: 12 }, (_, i) => `envoy-${i}`);
      const base = now.getTime();
      for (const [offset, stream, kind, fields] of incidentRecords(names, { incident: `trigger-${incidents}/prod/198.51.100.0/24`, pr: 1000 + incidents, merge: `m${incidents}`.padEnd(40, 'f'), lockdown: `lockdown-${incidents}`, noNoise: true })) {
        now = new Date(base + Math.min(offset, 60_000));
        pending.push((await writer(stream)).record(kind, fields));
        written++;
      }
      now = new Date(base);
    }
    now = new Date(start + written * stepMs);
    pending.push((await writer('serve')).record(written % 2 ? 'xds.ack' : 'xds.pushed', ack(written)));
    written++;
    if (pending.length >= 5000) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  for (const w of writers.values()) await w.close();
  return { dir, incidents };
}

async function showOverBigTrail(total: number): Promise<void> {
  const t0 = process.hrtime.bigint();
  const { dir, incidents } = await bigTrail(total);
  const bytes = dirBytes(dir);
  console.log(`audit show / verify over ${total.toLocaleString('en-US')} records (${incidents} incidents, ${(bytes / 2 ** 20).toFixed(0)} MiB; written in ${(ms(t0) / 1000).toFixed(1)} s):`);
  const timed = async (label: string, run: () => Promise<string>): Promise<void> => {
    const start = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const what = await run();
    console.log(`  ${label.padEnd(36)} ${ms(start).toFixed(0).padStart(7)} ms wall ${cpuMs(cpu).toFixed(0).padStart(7)} ms CPU   ${what}`);
  };
  const mid = Math.ceil(incidents / 2);
  await timed(`show --incident (incident ${mid})`, async () => {
    const recs = await queryTrail(dir, { incident: `trigger-${mid}/prod/198.51.100.0/24` });
    const { steps } = buildTimeline(recs);
    renderText(steps);
    return `${recs.length} records → ${steps.length} steps`;
  });
  await timed(`show --pr ${1000 + mid}`, async () => {
    const recs = await queryTrail(dir, { pr: 1000 + mid });
    return `${recs.length} records`;
  });
  await timed('show --since 1h (the last hour)', async () => {
    const recs = await queryTrail(dir, { since: new Date(Date.parse('2026-12-01T23:00:00Z')) });
    const { steps } = buildTimeline(recs);
    return `${recs.length} records → ${steps.length} steps`;
  });
  await timed('verify (every record, every hash)', async () => {
    const r = await verifyAuditDir(dir);
    return `${r.ok ? 'ok' : 'FAILED'}: ${r.streams.map((s) => `${s.stream} ${s.records}`).join(', ')}`;
  });
  console.log(`  peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 1_000_000);
  await appends();
  await perIncident();
  await showOverBigTrail(total);
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
