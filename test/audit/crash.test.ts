/** kill -9 during heavy appends: verify reports at most a torn last line; the next writer recovers and continues the chain. */
import * as path from 'node:path';
import { AuditWriter, verifyAuditDir } from '../../audit';
import { tempDir } from '../support/git-repo';
import { spawnManaged, waitFor } from '../support/processes';

const ROOT = path.resolve(__dirname, '..', '..');
const KILL_AFTER = 2000;

it.each(['never', 'incident'] as const)('survives kill -9 mid-append (fsync %s)', async (fsync) => {
  const dir = tempDir('portcullis-audit-crash-');
  const child = spawnManaged('audit appender', process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(ROOT, 'test', 'audit', 'append-child.ts'), dir, fsync], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json') },
  });
  let out = '';
  child.child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  // Killed while it keeps appending, once it reported 2,000 records written (ten batches).
  const appended = () => Number([...out.matchAll(/appended (\d+)\n/g)].pop()?.[1] ?? 0);
  await waitFor('the child to append 2,000 records', () => appended() >= KILL_AFTER, 30_000, 10);
  await child.kill();

  const report = await verifyAuditDir(dir);
  expect(report.ok).toBe(true);
  const s = report.streams[0]!;
  expect(s.records).toBeGreaterThanOrEqual(KILL_AFTER);
  // At most the last line is torn; everything before it verifies.
  if (s.torn) expect(s.torn.line).toBe(s.records + 1);

  const w = await AuditWriter.open({ dir, stream: 'serve' });
  expect(w.lastSeq).toBe(s.records + (s.torn ? 1 : 0));
  await w.record('policy.seen', { commit: 'after' });
  await w.close();
  const again = await verifyAuditDir(dir);
  expect(again.ok).toBe(true);
  expect(again.streams[0]).toMatchObject({ torn: null, records: s.records + (s.torn ? 2 : 1) });
}, 60_000);
