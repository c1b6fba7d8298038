/** `portcullis validate [root]`: compile the policy folder and report every error at once. */
import { relative } from 'node:path';
import { cloudLimitDiagnostics, compileSources } from '../../compiler';
import { readPolicyTree } from '../../sources';
import { withTreeProblems } from '../../sources/policy-tree';
import { formatDiagnostic, type Diagnostic } from '../../compiler/result';
import type { PolicyIR } from '../../compiler/ir/ir';
import { errStyle, outStyle, resolveNow, type CliContext } from '../context';
import { policyRootOrUsage } from '../policy-root';
import { table } from '../terminal';

export interface ValidateOptions {
  readonly root?: string;
  readonly now?: string;
}

/** Prints diagnostics to stderr, one per line, and a count; returns the exit code for policy errors. */
export function reportDiagnostics(ctx: CliContext, errors: readonly Diagnostic[]): number {
  const s = errStyle(ctx);
  for (const d of errors) ctx.stderr.write(`${s.red('error')} ${formatDiagnostic(d)}\n`);
  ctx.stderr.write(s.bold(`${errors.length} error${errors.length === 1 ? '' : 's'}; nothing was written\n`));
  return 1;
}

/** What the reader did not read (hidden names, links, submodules): on stderr, never silently. */
export function reportNotes(ctx: CliContext, notes: readonly string[] | undefined): void {
  const s = errStyle(ctx);
  for (const n of notes ?? []) ctx.stderr.write(`${s.yellow('note')} ${n}\n`);
}

export async function runValidate(ctx: CliContext, opts: ValidateOptions): Promise<number> {
  const now = resolveNow(ctx, opts.now);
  if (typeof now === 'string') return usageError(ctx, now);
  const where = policyRootOrUsage(ctx.cwd, opts.root, '');
  if ('usage' in where) return usageError(ctx, where.usage);
  const { root } = where;
  const tree = await readPolicyTree(root, { relativeTo: ctx.cwd });
  if (!tree.ok) return reportDiagnostics(ctx, tree.errors);
  reportNotes(ctx, tree.value.notes);
  const result = withTreeProblems(tree.value, compileSources(tree.value.files, now));
  if (!result.ok) return reportDiagnostics(ctx, result.errors);
  // What `plan` would refuse (AWS WAF limits) is refused here too, with positions.
  const cloud = cloudLimitDiagnostics(tree.value.files, result.value);
  if (cloud.length > 0) return reportDiagnostics(ctx, cloud);
  const s = outStyle(ctx);
  ctx.stdout.write(`${s.green('ok')} ${relative(ctx.cwd, root) || '.'}: policies compile (at ${now.toISOString()})\n\n`);
  ctx.stdout.write(summaryTable(result.value) + '\n');
  return 0;
}

function summaryTable(ir: PolicyIR): string {
  const rows = [['environment', 'fleets', 'services', 'routes', 'rate limits', 'active lockdowns']];
  for (const env of ir.environments) {
    const limits = new Set(env.routes.flatMap((r) => r.rateLimits.map((l) => l.name)));
    rows.push([
      env.name,
      env.fleets.join(', ') || '-',
      String(env.services.length),
      String(env.routes.length),
      String(limits.size),
      env.activeLockdowns.map((l) => `${l.name} (until ${l.expiresAt})`).join(', ') || '-',
    ]);
  }
  return table(rows);
}

export function usageError(ctx: CliContext, message: string): number {
  ctx.stderr.write(`${errStyle(ctx).red('error')} ${message}\n`);
  return 2;
}
