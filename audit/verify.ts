/**
 * `audit verify`: walks every stream's chain, segment by segment, and names the first record that
 * breaks it (edited, deleted, inserted, reordered, not JSON). A torn last line (a crash mid-write,
 * not yet recovered by a writer) is reported apart: the chain before it is intact.
 */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { canonicalJson, chainHash, GENESIS } from './canonical';
import { listSegments, listStreams, readLineBatches, type StoredRecord } from './segments';

export interface RecordRef {
  readonly stream: string;
  /** Path relative to the audit directory. */
  readonly file: string;
  readonly line: number;
  readonly seq?: number;
  readonly kind?: string;
  readonly time?: string;
}

export interface VerifyProblem extends RecordRef {
  readonly message: string;
}

export interface StreamReport {
  readonly stream: string;
  readonly segments: number;
  /** Records that verified (up to the first problem). */
  readonly records: number;
  /** The last verified record: write it down elsewhere to detect a cut-off tail later. */
  readonly head: { readonly seq: number; readonly hash: string; readonly time: string } | null;
  readonly problem: VerifyProblem | null;
  /** An unterminated last line of the stream's last segment (bytes). */
  readonly torn: (RecordRef & { readonly bytes: number }) | null;
  /** Sidecar files with torn bytes a writer set aside when it recovered. */
  readonly recovered: readonly string[];
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly streams: readonly StreamReport[];
}

export async function verifyAuditDir(dir: string): Promise<VerifyReport> {
  const streams: StreamReport[] = [];
  for (const stream of await listStreams(dir)) streams.push(await verifyStream(dir, stream));
  return { ok: streams.every((s) => s.problem === null), streams };
}

async function verifyStream(dir: string, stream: string): Promise<StreamReport> {
  const streamDir = path.join(dir, stream);
  const segments = await listSegments(streamDir);
  const recovered = (await readdir(streamDir)).filter((n) => /\.jsonl\.torn-\d+(-\d+)?$/.test(n)).sort().map((n) => path.join(stream, n));
  let prev = GENESIS;
  let expected = 1;
  let head: StreamReport['head'] = null;
  let torn: StreamReport['torn'] = null;
  const done = (problem: VerifyProblem | null): StreamReport => ({ stream, segments: segments.length, records: expected - 1, head, problem, torn, recovered });
  for (const [i, segment] of segments.entries()) {
    const file = path.join(stream, segment);
    for await (const batch of readLineBatches(path.join(dir, file))) {
      for (const l of batch) {
        const at: RecordRef = { stream, file, line: l.line };
        if (!l.terminated) {
          if (i === segments.length - 1) {
            torn = { ...at, bytes: Buffer.byteLength(l.text) };
            break;
          }
          return done({ ...at, message: 'unterminated line inside the chain (a later segment follows it)' });
        }
        const checked = checkLine(l.text, stream, prev, expected, segment);
        if (!checked.ok) return done({ ...at, ...checked.ref, message: checked.message });
        const r = checked.record;
        prev = r.hash;
        expected++;
        head = { seq: r.seq, hash: r.hash, time: r.time };
      }
    }
  }
  return done(null);
}

type Checked = { ok: true; record: StoredRecord } | { ok: false; ref: Partial<RecordRef>; message: string };

/** One stored line against the chain so far: the record, or what is wrong with it. */
function checkLine(text: string, stream: string, prev: string, expected: number, segment: string): Checked {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { ok: false, ref: {}, message: `not valid JSON (${e instanceof Error ? e.message : String(e)})` };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { ok: false, ref: {}, message: 'not a JSON object' };
  const r = v as Record<string, unknown>;
  const ref: Partial<RecordRef> = {
    ...(typeof r.seq === 'number' ? { seq: r.seq } : {}),
    ...(typeof r.kind === 'string' ? { kind: r.kind } : {}),
    ...(typeof r.time === 'string' ? { time: r.time } : {}),
  };
  const bad = (message: string): Checked => ({ ok: false, ref, message });
  if (typeof r.seq !== 'number' || typeof r.prev !== 'string' || typeof r.hash !== 'string' || typeof r.kind !== 'string' || typeof r.time !== 'string') {
    return bad('not an audit record (seq, time, kind, prev and hash are required)');
  }
  if (canonicalJson(r) !== text) return bad('edited: the line is not in the canonical form the writer wrote');
  if (r.seq < expected) return bad(`out of order: seq ${r.seq} after seq ${expected - 1} (reordered or inserted)`);
  if (r.seq > expected) return bad(`seq ${r.seq} where ${expected} was due: ${r.seq - expected} record(s) before it are missing (deleted or reordered)`);
  if (r.prev !== prev) return bad('does not follow the record before it (prev hash differs): a record was inserted, deleted or replaced');
  if (chainHash(prev, r) !== r.hash) return bad('edited: its content does not match its hash');
  if (r.stream !== stream) return bad(`belongs to stream "${String(r.stream)}", found in stream "${stream}"`);
  if (`${r.time.slice(0, 10)}.jsonl` > segment) return bad(`time ${r.time} is later than its segment ${segment}`);
  return { ok: true, record: r as StoredRecord };
}
