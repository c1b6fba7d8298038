/** What every command gets: where to print, and the clock (injected so tests can pin `now`). */
import { styleFor, type Style } from './terminal';

export interface CliContext {
  readonly stdout: { write(s: string): void; isTTY?: boolean };
  readonly stderr: { write(s: string): void; isTTY?: boolean };
  readonly cwd: string;
  readonly now: () => Date;
}

export function processContext(): CliContext {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), now: () => new Date() };
}

export const outStyle = (ctx: CliContext): Style => styleFor(ctx.stdout);
export const errStyle = (ctx: CliContext): Style => styleFor(ctx.stderr);

/** Parses `--now`; undefined means the context's clock. */
export function resolveNow(ctx: CliContext, now: string | undefined): Date | string {
  if (now === undefined) return ctx.now();
  const t = new Date(now);
  return Number.isNaN(t.getTime()) ? `--now: "${now}" is not an ISO-8601 date-time` : t;
}
