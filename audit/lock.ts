/**
 * One writer per stream: `<stream>/.lock` holds the writer's pid (created with O_EXCL). A lock left
 * by a dead process (kill -9) is taken over; a live holder makes `open` wait, then fail clearly.
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

export interface StreamLock {
  release(): Promise<void>;
}

export async function lockStream(streamDir: string, waitMs: number): Promise<StreamLock> {
  const file = path.join(streamDir, '.lock');
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: 'wx' });
      return { release: () => unlink(file).catch(() => undefined) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
      // Stale (its writer died) or half-written: remove it and race for it again.
      await unlink(file).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`audit: stream ${path.basename(streamDir)} in ${path.dirname(streamDir)} is being written by process ${holder}; one writer per stream (use another --audit-stream)`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
