/**
 * On-disk layout of the trail: `<audit-dir>/<stream>/<YYYY-MM-DD>.jsonl`, one chain per stream
 * (one writer each: `serve`, `bot`, `cli`), one segment per UTC day; and a chunked line reader
 * that keeps line numbers and byte offsets and tells a torn (unterminated) last line apart.
 */
import { open, readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';

export const SEGMENT_RE = /^\d{4}-\d{2}-\d{2}\.jsonl$/;
export const STREAM_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** The record as stored: the writer's fields, the caller's fields, and the chain links. */
export interface StoredRecord {
  readonly v: 1;
  readonly seq: number;
  readonly time: string;
  readonly kind: string;
  readonly stream: string;
  readonly prev: string;
  readonly hash: string;
  readonly [field: string]: unknown;
}

export const segmentName = (time: string): string => `${time.slice(0, 10)}.jsonl`;

/** Streams (sub-folders) of an audit directory, sorted; [] when the directory does not exist. */
export async function listStreams(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return entries.filter((e) => e.isDirectory() && STREAM_RE.test(e.name)).map((e) => e.name).sort();
}

/** Segment file names of one stream, oldest first. */
export async function listSegments(streamDir: string): Promise<string[]> {
  try {
    return (await readdir(streamDir)).filter((n) => SEGMENT_RE.test(n)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

export interface Line {
  readonly text: string;
  /** 1-based. */
  readonly line: number;
  /** Byte offset of the line's first byte. */
  readonly offset: number;
  /** False for a last line without its newline (a write torn by a crash, or one in progress). */
  readonly terminated: boolean;
}

/**
 * Lines of a file from byte `start` (a line start), one array per 1 MiB chunk read (one await per
 * chunk, not per line: what keeps a scan of a million records cheap); `firstLine` numbers the first.
 */
export async function* readLineBatches(file: string, start = 0, firstLine = 1): AsyncGenerator<Line[]> {
  const fh = await open(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    let carry: Buffer = Buffer.alloc(0);
    let carryOffset = start;
    let pos = start;
    let line = firstLine;
    for (;;) {
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
      const buf = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
      const batch: Line[] = [];
      let from = 0;
      for (let nl = buf.indexOf(10, from); nl !== -1; nl = buf.indexOf(10, from)) {
        batch.push({ text: buf.toString('utf8', from, nl), line: line++, offset: carryOffset + from, terminated: true });
        from = nl + 1;
      }
      carry = Buffer.from(buf.subarray(from));
      carryOffset += from;
      if (batch.length > 0) yield batch;
    }
    if (carry.length > 0) yield [{ text: carry.toString('utf8'), line, offset: carryOffset, terminated: false }];
  } finally {
    await fh.close();
  }
}

/** Line by line (for readers that stop early). */
export async function* readLines(file: string, start = 0, firstLine = 1): AsyncGenerator<Line> {
  for await (const batch of readLineBatches(file, start, firstLine)) yield* batch;
}

export async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}

export const streamDir = (dir: string, stream: string): string => path.join(dir, stream);

/** Parses a stored line; null when it is not a JSON object with the chain fields. */
export function parseRecord(text: string): StoredRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
  const r = v as Record<string, unknown>;
  if (typeof r.seq !== 'number' || typeof r.hash !== 'string' || typeof r.prev !== 'string' || typeof r.kind !== 'string' || typeof r.time !== 'string') return null;
  return r as StoredRecord;
}
