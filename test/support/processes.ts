/**
 * Test harness: child processes in their own process groups, always cleaned up (afterAll calls
 * `stop`; a process-exit hook kills whatever a crashed test left behind).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const live = new Set<ManagedProcess>();

process.once('exit', () => {
  for (const p of live) p.killGroup('SIGKILL');
});

export class ManagedProcess {
  private exited: Promise<number | null>;
  exitCode: number | null | undefined = undefined;

  constructor(readonly child: ChildProcess, readonly name: string) {
    live.add(this);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? null : code);
        live.delete(this);
        resolve(code);
      });
      child.once('error', () => {
        live.delete(this);
        resolve(null);
      });
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid (spawn failed)`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined && this.child.pid !== undefined;
  }

  killGroup(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the process has exited. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.killGroup('SIGTERM');
    const timer = setTimeout(() => this.killGroup('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL the group at once (a crash, not a shutdown). */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.killGroup('SIGKILL');
    await this.exited;
  }

  waitExit(): Promise<number | null> {
    return this.exited;
  }
}

/** Spawns `cmd` detached (own process group) so `stop` reaches its children too. */
export function spawnManaged(name: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): ManagedProcess {
  const child = spawn(cmd, [...args], { stdio: 'ignore', ...opts, detached: true });
  return new ManagedProcess(child, name);
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
