/**
 * The last good commit of a followed branch, kept in the follower's mirror (`--work-dir`) so that a
 * restarted server serves it again before it even fetches: a deploy, reboot or OOM kill while the
 * branch head is refused (or the remote unreachable) changes nothing for the fleet. A ref keeps the
 * commit's objects alive; a small JSON record says which repository, branch and folder it was for.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { git } from './git';

export interface LastGoodRecord {
  readonly repo: string;
  readonly branch: string;
  readonly path: string;
  readonly commit: string;
  /** When it was last served. */
  readonly servedAt: string;
}

const RECORD_FILE = 'portcullis-last-good.json';

function refOf(branch: string): string {
  return `refs/portcullis/last-good/${branch}`;
}

/** Records `record.commit` as the last good commit (ref first, so the record never names lost objects). */
export async function saveLastGood(gitDir: string, record: LastGoodRecord): Promise<void> {
  await git(['--git-dir', gitDir, 'update-ref', refOf(record.branch), record.commit]);
  const file = path.join(gitDir, RECORD_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify(record, null, 2) + '\n');
  await rename(`${file}.tmp`, file); // atomic: a crash leaves the old record or the new one
}

/**
 * The recorded last good commit for this repository, branch and folder; null when there is none, it
 * was for another repository/branch/folder, or its objects are gone.
 */
export async function loadLastGood(gitDir: string, expect: { repo: string; branch: string; path: string }): Promise<LastGoodRecord | null> {
  let record: LastGoodRecord;
  try {
    record = JSON.parse(await readFile(path.join(gitDir, RECORD_FILE), 'utf8')) as LastGoodRecord;
  } catch {
    return null;
  }
  if (record.repo !== expect.repo || record.branch !== expect.branch || record.path !== expect.path || !/^[0-9a-f]{40,64}$/.test(record.commit)) return null;
  const kept = await git(['--git-dir', gitDir, 'for-each-ref', '--format=%(objectname)', refOf(record.branch)]).catch(() => '');
  return kept.trim() === record.commit ? record : null;
}
