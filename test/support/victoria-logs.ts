/**
 * Test harness: a real VictoriaLogs (`victoria-logs`, installed by scripts/setup.sh into .tools/bin)
 * on 127.0.0.1 with a free port and a temporary storage directory; it can be stopped and started
 * again on the same port and storage (a log-store outage). Missing binary: the test fails.
 */
import { existsSync, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { freePort } from './ports';
import { spawnManaged, waitFor, type ManagedProcess } from './processes';

const ROOT = path.resolve(__dirname, '..', '..');

export function victoriaLogsBinary(): string {
  const bin = process.env.VICTORIA_LOGS_BIN ?? path.join(ROOT, '.tools', 'bin', 'victoria-logs');
  if (!existsSync(bin)) throw new Error(`victoria-logs not found at ${bin}; run \`bash scripts/setup.sh\``);
  return bin;
}

export class VictoriaLogs {
  private proc: ManagedProcess | null = null;

  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<VictoriaLogs> {
    const vl = new VictoriaLogs(await freePort(), mkdtempSync(path.join(tmpdir(), 'portcullis-vl-')));
    await vl.resume();
    return vl;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Where a Loki client pushes. */
  get lokiPushUrl(): string {
    return `${this.url}/insert/loki/api/v1/push`;
  }

  /** (Re)starts on the same port and storage directory; resolves once /health answers. */
  async resume(): Promise<void> {
    const log = openSync(path.join(this.dir, 'victoria-logs.log'), 'a');
    this.proc = spawnManaged('victoria-logs', victoriaLogsBinary(), [
      `-httpListenAddr=127.0.0.1:${this.port}`,
      `-storageDataPath=${path.join(this.dir, 'data')}`,
      '-retentionPeriod=100y',
      '-loggerLevel=WARN',
    ], { stdio: ['ignore', log, log] });
    await waitFor('VictoriaLogs /health', async () => (await fetch(`${this.url}/health`)).ok, 20_000, 100);
  }

  /** Graceful stop (SIGTERM: what it accepted is flushed to storage). */
  async pause(): Promise<void> {
    await this.proc?.stop(10_000);
    this.proc = null;
  }

  async stop(): Promise<void> {
    await this.pause();
  }

  /** LogsQL query → one object per log entry (field values are strings). */
  async query(logsql: string, limit = 100_000): Promise<Record<string, string>[]> {
    const res = await fetch(`${this.url}/select/logsql/query`, {
      method: 'POST',
      body: new URLSearchParams({ query: logsql, limit: String(limit) }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`VictoriaLogs query answered ${res.status}: ${await res.text()}`);
    return (await res.text()).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, string>);
  }
}
