/**
 * Test harness: a CliContext that keeps what a command prints, and `portcullis <args>` run in this
 * process with one (exit code, stdout, stderr), as the CLI tests assert them.
 */
import type { CliContext } from '../../cli/context';

export interface CapturedCli {
  readonly ctx: CliContext;
  out(): string;
  err(): string;
}

export function captureCli(opts: { cwd?: string; now?: () => Date } = {}): CapturedCli {
  let out = '';
  let err = '';
  return {
    ctx: {
      stdout: { write: (s: string) => void (out += s) },
      stderr: { write: (s: string) => void (err += s) },
      cwd: opts.cwd ?? process.cwd(),
      now: opts.now ?? (() => new Date()),
    },
    out: () => out,
    err: () => err,
  };
}

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** `portcullis <args>` with `cwd` and a clock pinned at `now`. */
export async function runCli(args: readonly string[], opts: { cwd: string; now: Date }): Promise<CliRun> {
  // Loaded on first use: tests that only need a context do not pay for every command's imports.
  const { main } = await import('../../cli/main');
  const c = captureCli({ cwd: opts.cwd, now: () => opts.now });
  const code = await main(['node', 'portcullis', ...args], c.ctx);
  return { code, out: c.out(), err: c.err() };
}
