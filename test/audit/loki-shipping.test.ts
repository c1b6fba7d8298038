/**
 * Loki shipping against a real VictoriaLogs (Loki push API): records come back field by field; a
 * store outage under appends loses nothing and duplicates nothing; a restarted shipper re-sends nothing.
 * The outage is 12 s (the minute shortened to keep CI fast; the backoff tops out at 2 s here).
 */
import { AuditWriter, LokiShipper } from '../../audit';
import { queryTrail } from '../../audit/query';
import { tempDir } from '../support/git-repo';
import { waitFor } from '../support/processes';
import { VictoriaLogs } from '../support/victoria-logs';
import { INCIDENT, writeIncident } from '../../bench/audit/incident-trail';

jest.setTimeout(90_000);

let vl: VictoriaLogs;
beforeAll(async () => {
  vl = await VictoriaLogs.start();
});
afterAll(async () => {
  await vl?.stop();
});

/** The record as VictoriaLogs stores a parsed JSON line: nested objects flattened to dotted names, values as strings. */
function flatten(value: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out[prefix] = Array.isArray(value) ? JSON.stringify(value) : String(value);
  return out;
}

const allSince = new Date(0);

test('records are queried back from VictoriaLogs field by field, with bounded labels', async () => {
  const dir = tempDir('portcullis-ship-');
  const now = new Date(Date.now() - 3_600_000);
  await writeIncident(dir, now, ['envoy-a', 'envoy-b']);
  const local = await queryTrail(dir, { since: allSince });
  const shipper = new LokiShipper({ dir, url: vl.lokiPushUrl, labels: { cluster: 'test-1' }, maxBatchRecords: 7 });
  expect(await shipper.shipAvailable()).toBe(local.length);

  const stored = await waitFor('the records in VictoriaLogs', async () => {
    const rows = await vl.query(`cluster:="test-1" | sort by (stream, seq)`);
    return rows.length === local.length ? rows : undefined;
  });
  const byKey = new Map(stored.map((r) => [`${r.stream}/${r.seq}`, r]));
  for (const rec of local) {
    const row = byKey.get(`${rec.stream}/${rec.seq}`)!;
    expect(row).toBeDefined();
    for (const [field, value] of Object.entries(flatten(rec))) {
      if (field === 'time') continue;
      expect([field, row[field]]).toEqual([field, value]);
    }
    expect(Date.parse(row._time!)).toBe(Date.parse(rec.time));
    // Labels become stream fields: bounded ones only (no node, commit or incident).
    expect(row._stream).toContain(`kind="${rec.kind}"`);
    expect(row._stream).not.toMatch(/node=|commit=|incident=/);
  }
  const alert = await vl.query(`cluster:="test-1" kind:="alert.received" incident:="${INCIDENT}"`);
  expect(alert.map((r) => r.fingerprint)).toEqual(['f00d']);
  // Shipped once: a second run (and a new shipper on the same cursor) sends nothing.
  expect(await shipper.shipAvailable()).toBe(0);
  expect(await new LokiShipper({ dir, url: vl.lokiPushUrl }).shipAvailable()).toBe(0);
});

test('an outage under appends: nothing lost, nothing duplicated; a restarted shipper resumes at its cursor', async () => {
  const dir = tempDir('portcullis-ship-');
  const writer = await AuditWriter.open({ dir, stream: 'serve', fsync: 'never' });
  let shipper = new LokiShipper({ dir, url: vl.lokiPushUrl, labels: { cluster: 'outage' }, pollMs: 100, minBackoffMs: 200, maxBackoffMs: 2000, maxBatchRecords: 50 });
  shipper.start();
  let written = 0;
  let appending = true;
  const appender = (async () => {
    // Bounded: at most 40 s, ~40 records a second.
    const deadline = Date.now() + 40_000;
    while (appending && Date.now() < deadline) {
      await writer.record('xds.ack', { node: `envoy-${written % 7}`, type: 'route', version: `v${written}`, commit: 'c0ffee', environment: 'prod' });
      written++;
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  await waitFor('shipping under way', () => shipper.shipped > 20, 10_000);
  await vl.pause();
  // The outage lasts as long as it takes the counters to show it, not a fixed time: pushes failed
  // and records piled up behind the cursor, before and after a shipper restart.
  let mark = written;
  await waitFor('pushes failing while records pile up', () => shipper.failures >= 2 && written - mark >= 60, 20_000, 50);
  // Halfway through the outage the shipper restarts (a process restart): it resumes from its cursor.
  await shipper.stop();
  shipper = new LokiShipper({ dir, url: vl.lokiPushUrl, labels: { cluster: 'outage' }, pollMs: 100, minBackoffMs: 200, maxBackoffMs: 2000, maxBatchRecords: 50 });
  shipper.start();
  mark = written;
  await waitFor('the restarted shipper failing too', () => shipper.failures >= 2 && written - mark >= 60, 20_000, 50);
  await vl.resume();
  mark = written;
  await waitFor('appends going on after the store is back', () => written - mark >= 20, 10_000, 25);
  appending = false;
  await appender;
  await writer.close();
  const total = written;
  // The running shipper catches up by itself once the store is back.
  await waitFor('everything shipped', () => shipper.shippedSeq('serve') === total, 20_000, 100);
  await shipper.stop();

  const rows = await waitFor('every record in VictoriaLogs', async () => {
    const r = await vl.query('cluster:="outage" | fields seq');
    return r.length >= total ? r : undefined;
  }, 20_000, 250);
  const seqs = rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
  expect(seqs.length).toBe(total);
  expect(new Set(seqs).size).toBe(total);
  expect(seqs[0]).toBe(1);
  expect(seqs.at(-1)).toBe(total);
  console.log(`outage test: ${total} records appended, ${rows.length} in VictoriaLogs, ${shipper.failures} failed pushes after the shipper restart`);
});

test('`portcullis audit ship --once` pushes from the cursor and fails clearly when the store is unreachable', async () => {
  const { runCli } = await import('../support/cli');
  const dir = tempDir('portcullis-ship-');
  const w = await AuditWriter.open({ dir, stream: 'cli' });
  await w.record('cloud.deploy', { stack: 'prod', result: 'succeeded', commit: 'abc' });
  await w.close();
  const ok = await runCli(['audit', 'ship', '--once', '--audit-dir', dir, '--loki-url', vl.lokiPushUrl, '--label', 'cluster=cli-ship'], { cwd: dir, now: new Date() });
  expect(ok).toMatchObject({ code: 0, out: expect.stringContaining('shipped 1 record(s)') });
  expect((await runCli(['audit', 'ship', '--once', '--audit-dir', dir, '--loki-url', vl.lokiPushUrl], { cwd: dir, now: new Date() })).out).toContain('shipped 0 record(s)');
  await waitFor('the deploy record', async () => (await vl.query('cluster:="cli-ship" kind:="cloud.deploy"')).length === 1);
  const w2 = await AuditWriter.open({ dir, stream: 'cli' });
  await w2.record('cloud.deploy', { stack: 'prod', result: 'failed', commit: 'abd' });
  await w2.close();
  const refused = await runCli(['audit', 'ship', '--once', '--audit-dir', dir, '--loki-url', 'http://127.0.0.1:9/insert/loki/api/v1/push'], { cwd: dir, now: new Date() });
  expect(refused).toMatchObject({ code: 1, err: expect.stringContaining('the cursor did not move') });
});

test('the cursor follows daily segments and a torn tail the writer set aside: every record once', async () => {
  const { truncateSync, readFileSync } = await import('node:fs');
  const path = await import('node:path');
  const dir = tempDir('portcullis-ship-');
  let now = new Date(Date.now() - 2 * 86_400_000);
  const open = () => AuditWriter.open({ dir, stream: 'serve', clock: () => now });
  let w = await open();
  for (let i = 0; i < 3; i++) await w.record('policy.seen', { commit: `day1-${i}` });
  const shipper = new LokiShipper({ dir, url: vl.lokiPushUrl, labels: { cluster: 'rotation' } });
  expect(await shipper.shipAvailable()).toBe(3);
  now = new Date(now.getTime() + 86_400_000);
  for (let i = 0; i < 3; i++) await w.record('policy.seen', { commit: `day2-${i}` });
  await w.close();
  // A crash mid-line on day 2: the shipper never sends the torn bytes; the next writer sets them aside.
  const day2 = path.join(dir, 'serve', `${now.toISOString().slice(0, 10)}.jsonl`);
  truncateSync(day2, readFileSync(day2).length - 20);
  expect(await shipper.shipAvailable()).toBe(2);
  w = await open();
  await w.record('policy.seen', { commit: 'after-crash' });
  await w.close();
  expect(await shipper.shipAvailable()).toBe(2); // audit.recovered and the new record
  const rows = await waitFor('the rotation records', async () => {
    const r = await vl.query('cluster:="rotation" | sort by (seq)');
    return r.length === 7 ? r : undefined;
  });
  expect(rows.map((r) => [r.seq, r.kind, r.commit ?? ''])).toEqual([
    ['1', 'policy.seen', 'day1-0'],
    ['2', 'policy.seen', 'day1-1'],
    ['3', 'policy.seen', 'day1-2'],
    ['4', 'policy.seen', 'day2-0'],
    ['5', 'policy.seen', 'day2-1'],
    ['6', 'audit.recovered', ''],
    ['7', 'policy.seen', 'after-crash'],
  ]);
});
