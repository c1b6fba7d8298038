/**
 * `portcullis audit verify | record | show`: the audit trail from the command line (docs/audit.md).
 * verify checks every stream's hash chain; record appends one event (the deploy workflow's
 * cloud.deploy); show prints an incident's, a PR's or a time range's timeline.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  AuditWriter,
  buildTimeline,
  checkRecord,
  parsePulumiOutput,
  queryTrail,
  renderMarkdown,
  renderText,
  verifyAuditDir,
  type StreamReport,
  type TrailQuery,
} from '../../audit';
import { errStyle, outStyle, untilStopSignal, type CliContext } from '../context';
import { usageError } from './validate';

/** `--audit-dir`, else $PORTCULLIS_AUDIT_DIR, else ./.portcullis/audit. */
export function auditDir(ctx: CliContext, dir: string | undefined): string {
  return path.resolve(ctx.cwd, dir ?? process.env.PORTCULLIS_AUDIT_DIR ?? path.join('.portcullis', 'audit'));
}

export async function runAuditVerify(ctx: CliContext, o: { auditDir?: string; format?: string }): Promise<number> {
  const dir = auditDir(ctx, o.auditDir);
  const report = await verifyAuditDir(dir);
  if (o.format === 'json') {
    ctx.stdout.write(JSON.stringify({ dir, ...report }, null, 2) + '\n');
    return report.ok ? 0 : 1;
  }
  const out = outStyle(ctx);
  const err = errStyle(ctx);
  if (report.streams.length === 0) {
    ctx.stderr.write(`${err.red('error')} no audit streams under ${dir}\n`);
    return 1;
  }
  for (const s of report.streams) {
    if (s.problem) {
      const p = s.problem;
      const what = [p.kind, p.seq !== undefined ? `seq ${p.seq}` : '', p.time].filter(Boolean).join(', ');
      ctx.stderr.write(`${err.red('error')} ${p.file}:${p.line}${what ? ` (${what})` : ''}: ${p.message}\n`);
      ctx.stderr.write(`  stream ${s.stream}: ${s.records} record(s) before it verify; nothing after it can be trusted\n`);
    } else {
      ctx.stdout.write(`${out.green('ok')} stream ${s.stream}: ${s.records} records in ${s.segments} segment(s), chain intact${headText(s)}\n`);
    }
    if (s.torn) ctx.stdout.write(`${out.yellow('warning')} ${s.torn.file}:${s.torn.line}: torn last line (${s.torn.bytes} bytes, a write cut short by a crash); the writer sets it aside on its next start\n`);
    for (const r of s.recovered) ctx.stdout.write(`${out.yellow('note')} ${r}: torn bytes a writer set aside after a crash (see its audit.recovered record)\n`);
  }
  return report.ok ? 0 : 1;
}

const headText = (s: StreamReport): string => (s.head ? `; head seq ${s.head.seq} ${s.head.hash.slice(0, 16)} at ${s.head.time}` : '');

export interface RecordOptions {
  readonly auditDir?: string;
  readonly stream?: string;
  readonly field?: readonly string[];
  readonly fromPulumi?: string;
}

export async function runAuditRecord(ctx: CliContext, kind: string, o: RecordOptions): Promise<number> {
  const given = parseFields(o.field ?? []);
  if (typeof given === 'string') return usageError(ctx, given);
  let fields = given;
  if (o.fromPulumi) {
    let text: string;
    try {
      text = readFileSync(path.resolve(ctx.cwd, o.fromPulumi), 'utf8');
    } catch (e) {
      return usageError(ctx, `--from-pulumi: ${(e as Error).message}`);
    }
    const parsed = parsePulumiOutput(text);
    if (!parsed.ok) return usageError(ctx, `--from-pulumi ${o.fromPulumi}: ${parsed.error}`);
    const { result, changes, resources, durationSeconds } = parsed.value;
    // What --field says wins over what was read from Pulumi's output.
    fields = { result, changes, resources, ...(durationSeconds !== null ? { durationSeconds } : {}), ...given };
  }
  const errors = checkRecord(kind, fields);
  if (errors.length > 0) {
    for (const e of errors) ctx.stderr.write(`${errStyle(ctx).red('error')} ${e}\n`);
    ctx.stderr.write('nothing was recorded\n');
    return 2;
  }
  const writer = await AuditWriter.open({ dir: auditDir(ctx, o.auditDir), stream: o.stream ?? 'cli', fsync: 'always', clock: ctx.now, lockWaitMs: 10_000 });
  try {
    await writer.record(kind, fields);
    ctx.stdout.write(`${outStyle(ctx).green('recorded')} ${kind} (stream ${o.stream ?? 'cli'}, seq ${writer.lastSeq})\n`);
  } finally {
    await writer.close();
  }
  return 0;
}

const NUMERIC = new Set(['pr']);

/** `k=v` (a string; `pr` a number) and `k:=<JSON>`; a message when one is malformed. */
export function parseFields(specs: readonly string[]): Record<string, unknown> | string {
  const out: Record<string, unknown> = {};
  for (const spec of specs) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(:?=)([\s\S]*)$/.exec(spec);
    if (!m) return `--field "${spec}": expected key=value or key:=<JSON>`;
    const [, key, op, raw] = m as unknown as [string, string, string, string];
    if (op === ':=') {
      try {
        out[key] = JSON.parse(raw);
      } catch {
        return `--field ${key}:=…: not JSON: ${raw}`;
      }
    } else if (NUMERIC.has(key)) {
      if (!/^\d+$/.test(raw)) return `--field ${key}=${raw}: must be a number`;
      out[key] = Number(raw);
    } else out[key] = raw;
  }
  return out;
}

export interface ShowOptions {
  readonly auditDir?: string;
  readonly incident?: string;
  readonly since?: string;
  readonly pr?: string;
  readonly format?: string;
}

export async function runAuditShow(ctx: CliContext, o: ShowOptions): Promise<number> {
  const given = [o.incident, o.since, o.pr].filter((x) => x !== undefined).length;
  if (given !== 1) return usageError(ctx, 'audit show: give exactly one of --incident KEY, --since 1h|TIME, --pr N');
  let query: TrailQuery;
  let title: string;
  if (o.incident !== undefined) [query, title] = [{ incident: o.incident }, `incident ${o.incident}`];
  else if (o.pr !== undefined) {
    if (!/^\d+$/.test(o.pr)) return usageError(ctx, `--pr: "${o.pr}" is not a pull request number`);
    [query, title] = [{ pr: Number(o.pr) }, `PR #${o.pr}`];
  } else {
    const since = parseSince(o.since!, ctx.now());
    if (typeof since === 'string') return usageError(ctx, since);
    [query, title] = [{ since }, `since ${since.toISOString()}`];
  }
  const records = await queryTrail(auditDir(ctx, o.auditDir), query);
  const { steps, rollouts } = buildTimeline(records);
  const format = o.format ?? 'text';
  if (format === 'json') ctx.stdout.write(JSON.stringify({ query: title, steps, rollouts, records }, null, 2) + '\n');
  else if (format === 'markdown') ctx.stdout.write(renderMarkdown(steps, title));
  else ctx.stdout.write(renderText(steps));
  return 0;
}

/** `90s`, `30m`, `1h`, `7d` before now, or an ISO-8601 instant. */
export function parseSince(text: string, now: Date): Date | string {
  const m = /^(\d+)(s|m|h|d)$/.exec(text.trim());
  if (m) return new Date(now.getTime() - Number(m[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2] as 's' | 'm' | 'h' | 'd']);
  const t = new Date(text);
  return Number.isNaN(t.getTime()) ? `--since: "${text}" is neither a duration (90s, 30m, 1h, 7d) nor an ISO-8601 time` : t;
}

export interface ShipOptions {
  readonly auditDir?: string;
  readonly lokiUrl: string;
  readonly label?: readonly string[];
  readonly tenant?: string;
  readonly once?: boolean;
}

/**
 * `audit ship`: pushes the trail to a Loki push API from the cursor on, once (`--once`: CI after
 * `audit record`) or following new records until SIGINT/SIGTERM (a sidecar). Authorization comes
 * from $PORTCULLIS_LOKI_AUTHORIZATION (e.g. `Bearer …`), never from a flag (shell history, ps).
 */
export async function runAuditShip(ctx: CliContext, o: ShipOptions, signals: NodeJS.EventEmitter = process): Promise<number> {
  const labels: Record<string, string> = {};
  for (const l of o.label ?? []) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(l);
    if (!m) return usageError(ctx, `--label "${l}": expected name=value`);
    labels[m[1]!] = m[2]!;
  }
  const headers: Record<string, string> = {};
  if (process.env.PORTCULLIS_LOKI_AUTHORIZATION) headers.authorization = process.env.PORTCULLIS_LOKI_AUTHORIZATION;
  if (o.tenant) headers['x-scope-orgid'] = o.tenant;
  const { LokiShipper } = await import('../../audit');
  const shipper = new LokiShipper({ dir: auditDir(ctx, o.auditDir), url: o.lokiUrl, labels, headers });
  if (o.once) {
    try {
      const n = await shipper.shipAvailable();
      ctx.stdout.write(`${outStyle(ctx).green('shipped')} ${n} record(s) to ${o.lokiUrl}\n`);
      return 0;
    } catch (e) {
      ctx.stderr.write(`${errStyle(ctx).red('error')} ${e instanceof Error ? e.message : String(e)} (the cursor did not move; run again)\n`);
      return 1;
    }
  }
  shipper.start();
  await untilStopSignal(signals);
  await shipper.stop();
  ctx.stdout.write(`shipped ${shipper.shipped} record(s); ${shipper.failures} failed attempt(s)\n`);
  return 0;
}
