/** What every command gets: where to print, and the clock (injected so tests can pin `now`). */
import { styleFor, type Style } from './terminal';

export interface CliContext {
  readonly stdout: { write(s: string): void; isTTY?: boolean };
  readonly stderr: { write(s: string): void; isTTY?: boolean };
  readonly cwd: string;
  readonly now: () => Date;
}

/**
 * A process stream that goes quiet once its reader has gone (`portcullis validate | head -2`):
 * the EPIPE is not an error of the command, so it must not surface as an uncaught exception with a
 * stack trace. Writes after that are dropped; the command finishes and keeps its own exit code.
 */
export function pipeSafe(stream: NodeJS.WriteStream): { write(s: string): void; isTTY?: boolean } {
  let closed = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') closed = true;
    else throw err;
  });
  return {
    isTTY: stream.isTTY,
    write(s: string): void {
      if (!closed) stream.write(s);
    },
  };
}

export function processContext(): CliContext {
  return { stdout: pipeSafe(process.stdout), stderr: pipeSafe(process.stderr), cwd: process.cwd(), now: () => new Date() };
}

export const outStyle = (ctx: CliContext): Style => styleFor(ctx.stdout);
export const errStyle = (ctx: CliContext): Style => styleFor(ctx.stderr);

/** Parses `--now`; undefined means the context's clock. */
export function resolveNow(ctx: CliContext, now: string | undefined): Date | string {
  if (now === undefined) return ctx.now();
  const t = new Date(now);
  return Number.isNaN(t.getTime()) ? `--now: "${now}" is not an ISO-8601 date-time` : t;
}

/** Resolves with the signal's name at the first SIGINT or SIGTERM: long-running commands stop then. */
export function untilStopSignal(signals: NodeJS.EventEmitter = process): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      signals.off('SIGINT', stop);
      signals.off('SIGTERM', stop);
      resolve(signal);
    };
    signals.on('SIGINT', stop);
    signals.on('SIGTERM', stop);
  });
}
