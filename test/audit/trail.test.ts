/** The embedded trail: hash chain, daily segments, verify naming the first bad record, torn-tail recovery. */
import { appendFileSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { verifyAuditDir, type StoredRecord } from '../../audit';
import { chainHash, GENESIS, canonicalJson } from '../../audit/canonical';
import { openTrail, segmentFile, segmentLines, writeLines } from './support';

const DAY = '2026-12-01';

async function trailOf(n: number) {
  const fx = await openTrail();
  for (let i = 0; i < n; i++) {
    await fx.writer.record('xds.ack', { node: `envoy-${i}`, type: 'route', version: `v${i}`, commit: 'c0ffee', environment: 'prod' });
    fx.now = new Date(fx.now.getTime() + 1000);
  }
  await fx.writer.close();
  return { ...fx, file: segmentFile(fx.dir, 'serve', DAY) };
}

describe('audit writer', () => {
  it('writes canonical JSON lines chained by sha256(prev ‖ record)', async () => {
    const fx = await trailOf(3);
    const records = segmentLines(fx.file).map((l) => JSON.parse(l) as StoredRecord);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(records[0]!.prev).toBe(GENESIS);
    for (const [i, r] of records.entries()) {
      expect(r.prev).toBe(i === 0 ? GENESIS : records[i - 1]!.hash);
      expect(chainHash(r.prev, r)).toBe(r.hash);
      expect(canonicalJson(r)).toBe(segmentLines(fx.file)[i]);
    }
    expect(records[1]).toMatchObject({ kind: 'xds.ack', stream: 'serve', node: 'envoy-1', time: '2026-12-01T10:00:01.000Z', v: 1 });
    expect((await verifyAuditDir(fx.dir)).ok).toBe(true);
  });

  it('rotates daily and keeps one chain across segments and restarts', async () => {
    const fx = await openTrail({ start: '2026-12-01T23:59:59.000Z' });
    await fx.writer.record('policy.seen', { commit: 'a1' });
    fx.now = new Date('2026-12-02T00:00:01.000Z');
    await fx.writer.record('policy.seen', { commit: 'a2' });
    await fx.reopen();
    await fx.writer.record('policy.seen', { commit: 'a3' });
    // A clock that steps back never reopens an older segment.
    fx.now = new Date('2026-12-01T12:00:00.000Z');
    await fx.writer.record('policy.seen', { commit: 'a4' });
    await fx.writer.close();
    expect(readdirSync(path.join(fx.dir, 'serve')).filter((n) => n.endsWith('.jsonl'))).toEqual(['2026-12-01.jsonl', '2026-12-02.jsonl']);
    expect(segmentLines(segmentFile(fx.dir, 'serve', '2026-12-02')).map((l) => JSON.parse(l).commit)).toEqual(['a2', 'a3', 'a4']);
    const report = await verifyAuditDir(fx.dir);
    expect(report.ok).toBe(true);
    expect(report.streams[0]).toMatchObject({ stream: 'serve', records: 4, segments: 2, problem: null });
  });

  it('writes a burst in chunks, so chaining thousands of records does not hold the event loop in one go', async () => {
    const { AuditWriter, MAX_BATCH } = await import('../../audit/writer');
    const fx = await openTrail();
    await fx.writer.close();
    let writes = 0;
    const w = await AuditWriter.open({ dir: fx.dir, stream: 'serve', onAppend: () => writes++ });
    const n = MAX_BATCH * 4 + 1;
    // One tick, as a rollout's ACKs arrive: every record is queued before the first write.
    await Promise.all(Array.from({ length: n }, (_, i) => w.record('xds.ack', { node: `envoy-${i}`, type: 'route', version: 'v1', commit: 'c0ffee', environment: 'prod' })));
    await w.close();
    expect(writes).toBe(5);
    const report = await verifyAuditDir(fx.dir);
    expect(report.ok).toBe(true);
    expect(report.streams[0]!.records).toBe(n);
  });

  it('refuses unknown kinds, missing required fields and writer-owned fields', async () => {
    const fx = await openTrail();
    await expect(fx.writer.record('lockdown.begun', {})).rejects.toThrow('unknown audit record kind "lockdown.begun"');
    await expect(fx.writer.record('xds.nack', { node: 'n1', type: 'route', version: 'v1' })).rejects.toThrow('xds.nack: required field "error" is missing');
    await expect(fx.writer.record('pr.opened', { pr: '41' })).rejects.toThrow('field "pr" must be a positive integer');
    await expect(fx.writer.record('policy.seen', { commit: 'a', seq: 9 })).rejects.toThrow('field "seq" is set by the audit writer');
    await fx.writer.close();
  });

  it('lets one writer per stream in at a time and takes over the lock of a dead one', async () => {
    const fx = await openTrail();
    const { AuditWriter } = await import('../../audit');
    await expect(AuditWriter.open({ dir: fx.dir, stream: 'serve' })).rejects.toThrow(/being written by process \d+/);
    // A lock file whose process is gone (kill -9) does not block.
    await fx.writer.close();
    writeFileSync(path.join(fx.dir, 'serve', '.lock'), '999999999\n');
    const w = await AuditWriter.open({ dir: fx.dir, stream: 'serve' });
    await w.close();
  });
});

describe('audit verify', () => {
  it('names the record after a byte of a segment was changed', async () => {
    const fx = await trailOf(5);
    const lines = segmentLines(fx.file);
    lines[2] = lines[2]!.replace('envoy-2', 'envoy-X');
    writeLines(fx.file, lines);
    const s = (await verifyAuditDir(fx.dir)).streams[0]!;
    expect(s.problem).toMatchObject({ file: `serve/${DAY}.jsonl`, line: 3, seq: 3, kind: 'xds.ack', time: '2026-12-01T10:00:02.000Z' });
    expect(s.problem!.message).toContain('does not match its hash');
    expect(s.records).toBe(2);
  });

  it('detects a deleted line, two swapped lines and an inserted copy', async () => {
    const fx = await trailOf(5);
    const lines = segmentLines(fx.file);
    const cases: [string[], number, RegExp][] = [
      [[lines[0]!, lines[1]!, lines[3]!, lines[4]!], 3, /seq 4 where 3 was due/],
      [[lines[0]!, lines[2]!, lines[1]!, lines[3]!, lines[4]!], 2, /seq 3 where 2 was due/],
      [[lines[0]!, lines[1]!, lines[1]!, lines[2]!], 3, /out of order: seq 2 after seq 2/],
    ];
    for (const [edited, line, message] of cases) {
      writeLines(fx.file, edited);
      const problem = (await verifyAuditDir(fx.dir)).streams[0]!.problem;
      expect(problem).toMatchObject({ line });
      expect(problem!.message).toMatch(message);
    }
  });

  it('detects a record rewritten with a fresh hash (the next one no longer follows it) and whitespace edits', async () => {
    const fx = await trailOf(4);
    const lines = segmentLines(fx.file);
    const r = JSON.parse(lines[1]!) as Record<string, unknown>;
    r.node = 'forged';
    r.hash = chainHash(String(r.prev), r);
    writeLines(fx.file, [lines[0]!, canonicalJson(r), lines[2]!, lines[3]!]);
    expect((await verifyAuditDir(fx.dir)).streams[0]!.problem).toMatchObject({ line: 3, message: expect.stringContaining('prev hash differs') });
    writeLines(fx.file, [lines[0]!, lines[1]!.replace('{"commit"', '{ "commit"'), lines[2]!, lines[3]!]);
    expect((await verifyAuditDir(fx.dir)).streams[0]!.problem).toMatchObject({ line: 2, message: expect.stringContaining('canonical form') });
  });

  it('reports a line that is not JSON by file and line', async () => {
    const fx = await trailOf(3);
    const lines = segmentLines(fx.file);
    writeLines(fx.file, [lines[0]!, lines[1]!.slice(0, 40), lines[2]!]);
    const report = await verifyAuditDir(fx.dir);
    expect(report.ok).toBe(false);
    expect(report.streams[0]!.problem).toMatchObject({ file: `serve/${DAY}.jsonl`, line: 2 });
    expect(report.streams[0]!.problem!.message).toMatch(/^not valid JSON/);
  });

  it('detects a deleted segment', async () => {
    const fx = await openTrail({ start: '2026-12-01T12:00:00.000Z' });
    for (const day of ['01', '02', '03']) {
      fx.now = new Date(`2026-12-${day}T12:00:00.000Z`);
      await fx.writer.record('policy.seen', { commit: day });
    }
    await fx.writer.close();
    truncateSync(segmentFile(fx.dir, 'serve', '2026-12-02'));
    const problem = (await verifyAuditDir(fx.dir)).streams[0]!.problem;
    expect(problem).toMatchObject({ file: 'serve/2026-12-03.jsonl', line: 1, seq: 3 });
  });
});

describe('torn last line', () => {
  it('is reported by verify, set aside by the next writer, and the chain before it stays valid', async () => {
    const fx = await trailOf(4);
    const full = readFileSync(fx.file);
    const lines = segmentLines(fx.file);
    // A crash in the middle of writing record 4.
    const cut = full.length - Math.floor(lines[3]!.length / 2) - 1;
    truncateSync(fx.file, cut);
    const before = await verifyAuditDir(fx.dir);
    expect(before.ok).toBe(true);
    expect(before.streams[0]).toMatchObject({ records: 3, torn: { file: `serve/${DAY}.jsonl`, line: 4 } });

    const w = await fx.reopen();
    expect(w.recovered).toMatchObject({ segment: `${DAY}.jsonl`, offset: full.length - lines[3]!.length - 1, keptIn: `${DAY}.jsonl.torn-${full.length - lines[3]!.length - 1}` });
    await w.record('policy.seen', { commit: 'after-crash' });
    await w.close();
    const after = segmentLines(fx.file).map((l) => JSON.parse(l) as StoredRecord);
    expect(after.slice(0, 3).map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(after.slice(3).map((r) => [r.seq, r.kind])).toEqual([
      [4, 'audit.recovered'],
      [5, 'policy.seen'],
    ]);
    expect(readFileSync(path.join(fx.dir, 'serve', w.recovered!.keptIn), 'utf8')).toBe(full.subarray(w.recovered!.offset, cut).toString());
    const report = await verifyAuditDir(fx.dir);
    expect(report.ok).toBe(true);
    expect(report.streams[0]).toMatchObject({ records: 5, torn: null, recovered: [`serve/${w.recovered!.keptIn}`] });
  });

  it('keeps a complete last record that only lost its newline', async () => {
    const fx = await trailOf(2);
    truncateSync(fx.file, readFileSync(fx.file).length - 1);
    const w = await fx.reopen();
    expect(w.recovered).toBeNull();
    await w.record('policy.seen', { commit: 'x' });
    await w.close();
    expect(segmentLines(fx.file)).toHaveLength(3);
    expect((await verifyAuditDir(fx.dir)).ok).toBe(true);
  });

  it('does not write after a damaged last segment it cannot read', async () => {
    const fx = await trailOf(1);
    writeFileSync(fx.file, 'garbage\n');
    appendFileSync(fx.file, 'more garbage\n');
    await expect(fx.reopen()).rejects.toThrow(/cannot find the last record .* run `portcullis audit verify`/);
  });
});

describe('canonical JSON', () => {
  it('sorts keys by code units at every depth, integer-like keys included', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null }, byStatus: { '9': 1, '10': 2, '401': 3, x: 4 } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1,"byStatus":{"10":2,"401":3,"9":1,"x":4}}',
    );
    expect(canonicalJson({ s: 'é"\n', n: 1e21, u: undefined, arr: [undefined] })).toBe('{"arr":[null],"n":1e+21,"s":"é\\"\\n"}');
  });
});
