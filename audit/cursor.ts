/**
 * The shipper's cursor: per stream, the segment, byte offset and seq of the last record a log
 * store acknowledged. Written atomically (temp file, fsync, rename) after every accepted push, so a
 * restart resumes exactly there: nothing shipped twice, nothing skipped.
 */
import { open, readFile, rename } from 'node:fs/promises';

export interface StreamCursor {
  readonly segment: string;
  /** Byte offset just past the last shipped line. */
  readonly offset: number;
  readonly seq: number;
}

export type Cursor = Readonly<Record<string, StreamCursor>>;

export async function readCursor(file: string): Promise<Cursor> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  const doc = JSON.parse(text) as { streams?: Cursor };
  return doc.streams ?? {};
}

export async function writeCursor(file: string, cursor: Cursor): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify({ streams: cursor }, null, 1) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}
