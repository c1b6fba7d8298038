/**
 * The embedded audit store's writer: appends hash-chained records to today's segment of one stream
 * (group commit: records queued while a write is in flight go out in one write and, when any of
 * them needs it, one fdatasync). Implements AuditSink; cli/ wires it into serve, the bot and the CLI.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { canonicalJson, chainHash } from './canonical';
import { checkRecord, KINDS } from './kinds';
import { lockStream, type StreamLock } from './lock';
import { segmentName, STREAM_RE, type StoredRecord } from './segments';
import type { AuditSink } from './sink';
import { findTail, syncFile, type TornTail } from './tail';

/** `incident`: fsync incident events (KINDS[k].incident) before they resolve; `always`; `never`. */
export type FsyncPolicy = 'incident' | 'always' | 'never';

export interface AuditWriterOptions {
  readonly dir: string;
  /** One chain per writer: `serve`, `bot`, `cli`, … */
  readonly stream: string;
  readonly fsync?: FsyncPolicy;
  readonly clock?: () => Date;
  /** How long `open` waits for another writer of the stream to finish (CLI appends); default 0. */
  readonly lockWaitMs?: number;
  /** Called after each batch reached the file (the shipper's nudge). */
  readonly onAppend?: () => void;
}

interface Queued {
  readonly kind: string;
  readonly time: string;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly done: (err?: Error) => void;
}

/** Records chained and written in one go (the others wait for the next write). */
export const MAX_BATCH = 256;

export class AuditWriter implements AuditSink {
  private queue: Queued[] = [];
  private flushing: Promise<void> | null = null;
  private fh: FileHandle | null = null;
  private fhSegment: string | null = null;
  private closed = false;

  private constructor(
    private readonly opts: AuditWriterOptions,
    private readonly streamDir: string,
    private readonly lock: StreamLock,
    private seq: number,
    private hash: string,
    private segment: string | null,
    /** The torn last line found on open (set aside and recorded as `audit.recovered`). */
    readonly recovered: TornTail | null,
  ) {}

  static async open(opts: AuditWriterOptions): Promise<AuditWriter> {
    if (!STREAM_RE.test(opts.stream)) throw new Error(`audit: stream name "${opts.stream}" must match ${STREAM_RE}`);
    const streamDir = path.join(opts.dir, opts.stream);
    await mkdir(streamDir, { recursive: true });
    const lock = await lockStream(streamDir, opts.lockWaitMs ?? 0);
    try {
      const tail = await findTail(streamDir);
      const w = new AuditWriter(opts, streamDir, lock, tail.seq, tail.hash, tail.segment, tail.torn);
      if (tail.torn) {
        await w.record('audit.recovered', { ...tail.torn });
      }
      return w;
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  get lastSeq(): number {
    return this.seq;
  }

  record(kind: string, fields: Record<string, unknown>): Promise<void> {
    if (this.closed) return Promise.reject(new Error('audit: writer is closed'));
    const errors = checkRecord(kind, fields);
    if (errors.length > 0) return Promise.reject(new Error(errors.join('; ')));
    const time = (this.opts.clock?.() ?? new Date()).toISOString();
    return new Promise((resolve, reject) => {
      this.queue.push({ kind, time, fields, done: (err) => (err ? reject(err) : resolve()) });
      this.flushing ??= this.flushLoop();
    });
  }

  /** Waits for queued records, closes the segment and releases the stream lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.fh?.close();
    this.fh = null;
    await this.lock.release();
  }

  private async flushLoop(): Promise<void> {
    // Let records of the same tick join the batch.
    await new Promise((r) => setImmediate(r));
    try {
      while (this.queue.length > 0) {
        // At most MAX_BATCH records per write: chaining is synchronous CPU (~20 µs a record), and a
        // rollout's burst (8,000 records for 1,000 Envoys) in one loop held the event loop — and
        // the xDS streams — for 250–450 ms; the write between two chunks lets them run.
        const batch = this.queue.splice(0, MAX_BATCH);
        await this.writeBatch(batch);
      }
    } finally {
      this.flushing = null;
    }
  }

  /** Chains and writes one batch; records crossing midnight go to the next day's segment. */
  private async writeBatch(batch: readonly Queued[]): Promise<void> {
    const policy = this.opts.fsync ?? 'incident';
    let i = 0;
    while (i < batch.length) {
      // A segment never goes back in time, even if the clock does.
      const segment = this.segmentFor(batch[i]!.time);
      const lines: string[] = [];
      const group: Queued[] = [];
      let seq = this.seq;
      let hash = this.hash;
      let sync = policy === 'always';
      for (; i < batch.length && this.segmentFor(batch[i]!.time) === segment; i++) {
        const q = batch[i]!;
        const body: Record<string, unknown> = { ...q.fields, v: 1, seq: ++seq, time: q.time, kind: q.kind, stream: this.opts.stream, prev: hash };
        hash = chainHash(hash, body);
        lines.push(canonicalJson({ ...body, hash }));
        group.push(q);
        if (policy === 'incident' && KINDS[q.kind]?.incident) sync = true;
      }
      try {
        const fh = await this.handleFor(segment);
        await fh.write(lines.join('\n') + '\n');
        if (sync) await fh.datasync();
      } catch (e) {
        // The bytes on disk are the truth: re-read the tail so the next batch chains on what is there.
        const err = e instanceof Error ? e : new Error(String(e));
        for (const q of group.concat(batch.slice(i))) q.done(err);
        await this.resync();
        return;
      }
      this.seq = seq;
      this.hash = hash;
      this.segment = segment;
      for (const q of group) q.done();
      this.opts.onAppend?.();
    }
  }

  private segmentFor(time: string): string {
    const name = segmentName(time);
    return this.segment !== null && name < this.segment ? this.segment : name;
  }

  private async handleFor(segment: string): Promise<FileHandle> {
    if (this.fh && this.fhSegment === segment) return this.fh;
    await this.fh?.close();
    this.fh = null;
    const file = path.join(this.streamDir, segment);
    this.fh = await open(file, 'a');
    this.fhSegment = segment;
    // A new segment's directory entry must survive a crash too.
    await syncFile(this.streamDir);
    return this.fh;
  }

  private async resync(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
    this.fhSegment = null;
    const tail = await findTail(this.streamDir).catch(() => null);
    if (!tail) return;
    this.seq = tail.seq;
    this.hash = tail.hash;
    this.segment = tail.segment;
    if (tail.torn) void this.record('audit.recovered', { ...tail.torn }).catch(() => undefined);
  }
}

export type { StoredRecord };
