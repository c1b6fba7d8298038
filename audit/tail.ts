/**
 * Where a stream's chain ends on disk, found when a writer opens it: the last good record (seq,
 * hash, segment). A torn last line (the process died mid-write) is copied to a sidecar file
 * `<segment>.torn-<offset>` and cut off, so the next record chains on the last good one and
 * nothing earlier is touched; the writer then records `audit.recovered`.
 */
import { access, appendFile, open, truncate, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { chainHash, GENESIS } from './canonical';
import { fileSize, listSegments, parseRecord, readLines, type StoredRecord } from './segments';

export interface TornTail {
  readonly segment: string;
  readonly offset: number;
  readonly bytes: number;
  readonly sha256: string;
  /** Sidecar file name (next to the segment) that keeps the torn bytes. */
  readonly keptIn: string;
}

export interface ChainTail {
  readonly seq: number;
  readonly hash: string;
  /** Segment the last record is in; null for an empty stream. */
  readonly segment: string | null;
  readonly torn: TornTail | null;
}

const TAIL_WINDOW = 4 << 20;

export async function findTail(streamDir: string): Promise<ChainTail> {
  return tailOf(streamDir, await listSegments(streamDir));
}

/** The tail of the chain made of `segments` (oldest first). */
async function tailOf(streamDir: string, segments: readonly string[]): Promise<ChainTail> {
  for (let i = segments.length - 1; i >= 0; i--) {
    const name = segments[i]!;
    const file = path.join(streamDir, name);
    const size = await fileSize(file);
    if (size === 0) continue;
    let last: StoredRecord | null = null;
    let unterminated: { text: string; offset: number } | null = null;
    for await (const l of readLines(file, await lineStartNear(file, Math.max(0, size - TAIL_WINDOW)))) {
      if (!l.terminated) unterminated = { text: l.text, offset: l.offset };
      else last = parseRecord(l.text) ?? last;
    }
    if (!unterminated) {
      if (last) return { seq: last.seq, hash: last.hash, segment: name, torn: null };
      throw new Error(`audit: cannot find the last record in ${file} (the segment is damaged); run \`portcullis audit verify\` before writing to this stream again`);
    }
    const before = last ? { seq: last.seq, hash: last.hash, segment: name } : await tailOf(streamDir, segments.slice(0, i));
    const rec = parseRecord(unterminated.text);
    if (rec && rec.prev === before.hash && rec.seq === before.seq + 1 && chainHash(before.hash, rec) === rec.hash) {
      // The write completed but for its newline: keep the record, finish the line.
      await appendFile(file, '\n');
      return { seq: rec.seq, hash: rec.hash, segment: name, torn: null };
    }
    const torn = await setAside(streamDir, name, unterminated.offset, size);
    return { seq: before.seq, hash: before.hash, segment: before.segment, torn };
  }
  return { seq: 0, hash: GENESIS, segment: null, torn: null };
}

/** The first line start at or after `pos`. */
async function lineStartNear(file: string, pos: number): Promise<number> {
  if (pos === 0) return 0;
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    for (let at = pos - 1; ; at += buf.length) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, at);
      if (bytesRead === 0) return at;
      const nl = buf.subarray(0, bytesRead).indexOf(10);
      if (nl !== -1) return at + nl + 1;
    }
  } finally {
    await fh.close();
  }
}

/** Copies bytes [offset, size) of the segment to a sidecar, then cuts them off the segment. */
async function setAside(streamDir: string, segment: string, offset: number, size: number): Promise<TornTail> {
  const file = path.join(streamDir, segment);
  const fh = await open(file, 'r');
  const bytes = Buffer.alloc(size - offset);
  try {
    await fh.read(bytes, 0, bytes.length, offset);
  } finally {
    await fh.close();
  }
  let keptIn = `${segment}.torn-${offset}`;
  // A second crash at the same offset keeps both sets of bytes.
  for (let n = 2; await exists(path.join(streamDir, keptIn)); n++) keptIn = `${segment}.torn-${offset}-${n}`;
  await writeFile(path.join(streamDir, keptIn), bytes, { flag: 'wx' });
  await syncFile(path.join(streamDir, keptIn));
  await truncate(file, offset);
  await syncFile(file);
  return { segment, offset, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), keptIn };
}

export async function syncFile(file: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
