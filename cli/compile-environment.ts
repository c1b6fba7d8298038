/**
 * The preamble of the commands that act on one environment (render, import-commands): resolve
 * `--now`, find the policy folder, compile it, report notes and diagnostics, pick `--env`. Every
 * failure is reported here and returned as the command's exit code (2 usage, 1 policy errors).
 */
import type { EnvironmentIR } from '../compiler/ir/ir';
import { compileDirectory } from '../sources';
import { resolveNow, type CliContext } from './context';
import { policyRootOrUsage } from './policy-root';
import { reportDiagnostics, reportNotes, usageError } from './commands/validate';

export async function compileEnvironment(ctx: CliContext, o: { readonly root?: string; readonly now?: string; readonly env: string }): Promise<{ env: EnvironmentIR; now: Date } | number> {
  const now = resolveNow(ctx, o.now);
  if (typeof now === 'string') return usageError(ctx, now);
  const where = policyRootOrUsage(ctx.cwd, o.root, '--root ');
  if ('usage' in where) return usageError(ctx, where.usage);
  const compiled = await compileDirectory(where.root, now, { relativeTo: ctx.cwd });
  reportNotes(ctx, compiled.notes);
  if (!compiled.ok) return reportDiagnostics(ctx, compiled.errors);
  const env = pickEnvironment(ctx, compiled.value.environments, o.env);
  return typeof env === 'number' ? env : { env, now };
}

/** `--env NAME` among the compiled environments, or a usage error listing those there are. */
export function pickEnvironment(ctx: CliContext, environments: readonly EnvironmentIR[], name: string): EnvironmentIR | number {
  const env = environments.find((e) => e.name === name);
  return env ?? usageError(ctx, `--env: no Environment "${name}" (have: ${environments.map((e) => e.name).join(', ') || 'none'})`);
}
