/** Test harness for the audit trail: a writer on a temp directory with a movable clock, and segment file helpers. */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { AuditWriter, type FsyncPolicy } from '../../audit';
import { tempDir } from '../support/git-repo';

export interface TrailFixture {
  readonly dir: string;
  writer: AuditWriter;
  /** The writer's clock; tests move it. */
  now: Date;
  reopen(): Promise<AuditWriter>;
}

export async function openTrail(opts: { stream?: string; fsync?: FsyncPolicy; start?: string; dir?: string } = {}): Promise<TrailFixture> {
  const dir = opts.dir ?? tempDir('portcullis-audit-');
  const fx = { dir, now: new Date(opts.start ?? '2026-12-01T10:00:00.000Z') } as TrailFixture;
  const open = () => AuditWriter.open({ dir, stream: opts.stream ?? 'serve', fsync: opts.fsync ?? 'never', clock: () => fx.now });
  fx.writer = await open();
  fx.reopen = async () => {
    await fx.writer.close();
    fx.writer = await open();
    return fx.writer;
  };
  return fx;
}

/** Lines of a segment (without the final empty string). */
export function segmentLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((l, i, all) => i < all.length - 1 || l !== '');
}

export function writeLines(file: string, lines: readonly string[]): void {
  writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
}

export const segmentFile = (dir: string, stream: string, day: string): string => path.join(dir, stream, `${day}.jsonl`);
