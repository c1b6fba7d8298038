/**
 * Bot: the alert journal — every accepted delivery is appended (and fsynced) to
 * `<work-dir>/alerts.jsonl` before it is acknowledged, and marked done once handled, so a restart
 * replays what was accepted but not finished. Handling is idempotent, so a replay creates nothing twice.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';

export interface JournalEntry {
  readonly id: string;
  readonly receivedAt: string;
  readonly payload: unknown;
}

type Line = { t: 'alert'; id: string; receivedAt: string; payload: unknown } | { t: 'done'; id: string };

export class Journal {
  private readonly pendingById = new Map<string, JournalEntry>();

  private constructor(private readonly file: string, private readonly fh: FileHandle) {}

  /** Opens (or creates) the journal; entries not marked done are pending. The file is compacted to them. */
  static async open(dir: string): Promise<Journal> {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'alerts.jsonl');
    const pending = new Map<string, JournalEntry>();
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // a fresh work dir
    }
    for (const raw of text.split('\n')) {
      if (!raw.trim()) continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue; // a torn last line from a crash mid-write: that delivery was never acknowledged
      }
      if (line.t === 'alert') pending.set(line.id, { id: line.id, receivedAt: line.receivedAt, payload: line.payload });
      else pending.delete(line.id);
    }
    const compacted = [...pending.values()].map((e) => JSON.stringify({ t: 'alert', ...e }) + '\n').join('');
    writeFileSync(`${file}.tmp`, compacted);
    renameSync(`${file}.tmp`, file);
    const journal = new Journal(file, await open(file, 'a'));
    for (const [id, e] of pending) journal.pendingById.set(id, e);
    return journal;
  }

  private async append(line: Line): Promise<void> {
    await this.fh.appendFile(JSON.stringify(line) + '\n');
    await this.fh.datasync();
  }

  /** Durably records a delivery; resolves once it is on disk. */
  async record(payload: unknown, now: Date): Promise<JournalEntry> {
    const entry = { id: randomUUID(), receivedAt: now.toISOString(), payload };
    await this.append({ t: 'alert', ...entry });
    this.pendingById.set(entry.id, entry);
    return entry;
  }

  async done(id: string): Promise<void> {
    if (!this.pendingById.delete(id)) return;
    await this.append({ t: 'done', id });
  }

  pending(): JournalEntry[] {
    return [...this.pendingById.values()];
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  get path(): string {
    return this.file;
  }
}
