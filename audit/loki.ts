/**
 * Ships the trail to a Loki push API (`/loki/api/v1/push`; VictoriaLogs, Grafana Loki): reads every
 * stream's segments from the cursor, batches records (bounded labels: service, stream, kind,
 * environment; the line is the stored record itself), retries with exponential backoff while the
 * store is away, and moves the cursor only after the store accepted a batch.
 */
import type { Logger } from 'pino';
import * as path from 'node:path';
import { readCursor, writeCursor, type Cursor, type StreamCursor } from './cursor';
import { fileSize, listSegments, listStreams, parseRecord, readLines, type StoredRecord } from './segments';

export interface LokiShipperOptions {
  readonly dir: string;
  /** Full push URL, e.g. http://loki:3100/loki/api/v1/push or http://vl:9428/insert/loki/api/v1/push. */
  readonly url: string;
  /** Default `<dir>/.loki-cursor.json`. */
  readonly cursorFile?: string;
  /** Extra static labels (e.g. `{ cluster: 'eu-1' }`); keep them bounded. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Request headers, e.g. authorization or X-Scope-OrgID. Never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly maxBatchRecords?: number;
  readonly maxBatchBytes?: number;
  /** How often new records are looked for when not nudged; default 1 s. */
  readonly pollMs?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly logger?: Logger;
  readonly fetch?: typeof fetch;
}

interface Batch {
  readonly records: StoredRecord[];
  readonly lines: string[];
  /** The cursor once this batch is accepted. */
  readonly cursor: Cursor;
}

export class LokiShipper {
  private cursor: Cursor | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private backoffMs = 0;
  /** Serializes runs: two overlapping runs would push the same batch twice. */
  private exclusive: Promise<unknown> = Promise.resolve();
  /** Records accepted by the store since this shipper started. */
  shipped = 0;
  /** Failed push attempts since this shipper started. */
  failures = 0;

  constructor(private readonly opts: LokiShipperOptions) {}

  private get cursorFile(): string {
    return this.opts.cursorFile ?? path.join(this.opts.dir, '.loki-cursor.json');
  }

  /** Ships on a timer and whenever nudged, until stopped. */
  start(): void {
    this.stopped = false;
    this.nudge();
  }

  /** New records were appended: ship soon (coalesced with a run in progress). */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.loop().finally(() => {
      this.running = null;
      if (this.stopped) return;
      const delay = this.again ? Math.max(this.backoffMs, 0) : this.backoffMs || (this.opts.pollMs ?? 1000);
      this.again = false;
      this.timer = setTimeout(() => this.nudge(), delay);
      this.timer.unref();
    });
  }

  /** Stops the timer and waits for a push in progress (its cursor is saved if it succeeded). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    try {
      await this.shipAvailable();
      this.backoffMs = 0;
    } catch (e) {
      this.failures++;
      const min = this.opts.minBackoffMs ?? 500;
      this.backoffMs = Math.min(this.opts.maxBackoffMs ?? 30_000, this.backoffMs ? this.backoffMs * 2 : min);
      // Jitter keeps many replicas from retrying in step.
      this.backoffMs = Math.round(this.backoffMs * (0.8 + Math.random() * 0.4));
      this.opts.logger?.warn({ err: e instanceof Error ? e.message : String(e), retryInMs: this.backoffMs }, 'audit shipping to Loki failed; will retry (nothing is lost: the cursor did not move)');
    }
  }

  /** Seq of the last record of `stream` the store accepted (0 before the first). */
  shippedSeq(stream: string): number {
    return this.cursor?.[stream]?.seq ?? 0;
  }

  /** Pushes batches until every stream is shipped to its end; throws when the store refuses. One run at a time. */
  shipAvailable(): Promise<number> {
    const run = this.exclusive.then(() => this.shipAll());
    this.exclusive = run.catch(() => undefined);
    return run;
  }

  private async shipAll(): Promise<number> {
    this.cursor ??= await readCursor(this.cursorFile);
    let total = 0;
    for (;;) {
      const batch = await this.nextBatch(this.cursor);
      if (batch.records.length === 0) return total;
      await this.push(batch);
      await writeCursor(this.cursorFile, batch.cursor);
      this.cursor = batch.cursor;
      this.shipped += batch.records.length;
      total += batch.records.length;
      if (this.stopped) return total;
    }
  }

  private async nextBatch(cursor: Cursor): Promise<Batch> {
    const maxRecords = this.opts.maxBatchRecords ?? 1000;
    const maxBytes = this.opts.maxBatchBytes ?? 1 << 20;
    const records: StoredRecord[] = [];
    const lines: string[] = [];
    let bytes = 0;
    const next: Record<string, StreamCursor> = { ...cursor };
    for (const stream of await listStreams(this.opts.dir)) {
      const segments = await listSegments(path.join(this.opts.dir, stream));
      let at = next[stream] ?? { segment: segments[0] ?? '', offset: 0, seq: 0 };
      for (const segment of segments) {
        if (segment < at.segment) continue;
        if (segment > at.segment) at = { segment, offset: 0, seq: at.seq };
        const file = path.join(this.opts.dir, stream, segment);
        if (at.offset >= (await fileSize(file))) continue;
        for await (const l of readLines(file, at.offset)) {
          if (!l.terminated || records.length >= maxRecords || bytes >= maxBytes) break;
          const r = parseRecord(l.text);
          const end = l.offset + Buffer.byteLength(l.text) + 1;
          // Lines that are not records (a damaged segment; `audit verify` names them) are skipped, not shipped.
          if (r && r.seq > at.seq) {
            records.push(r);
            lines.push(l.text);
            bytes += l.text.length;
          }
          at = { segment, offset: end, seq: r && r.seq > at.seq ? r.seq : at.seq };
        }
        if (records.length >= maxRecords || bytes >= maxBytes) break;
      }
      if (at.segment !== '') next[stream] = at;
      if (records.length >= maxRecords || bytes >= maxBytes) break;
    }
    return { records, lines, cursor: next };
  }

  private async push(batch: Batch): Promise<void> {
    const streams = new Map<string, { stream: Record<string, string>; values: [string, string][] }>();
    batch.records.forEach((r, i) => {
      const labels: Record<string, string> = { service: 'portcullis', ...this.opts.labels, stream: r.stream, kind: r.kind };
      if (typeof r.environment === 'string' && r.environment !== '') labels.environment = r.environment;
      const key = JSON.stringify(labels);
      let s = streams.get(key);
      if (!s) streams.set(key, (s = { stream: labels, values: [] }));
      s.values.push([`${BigInt(Date.parse(r.time)) * 1_000_000n}`, batch.lines[i]!]);
    });
    const body = JSON.stringify({ streams: [...streams.values()] });
    const res = await (this.opts.fetch ?? fetch)(this.opts.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.opts.headers },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`Loki push answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  }
}
