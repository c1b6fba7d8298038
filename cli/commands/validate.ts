/** `portcullis validate [root]`: compile the policy folder and report every error at once. */
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { cloudLimitDiagnostics, compileSources } from '../../compiler';
import { translateEnvironment } from '../../compiler/envoy';
import type { EnvoyResources } from '../../compiler/envoy/resources';
import { readPolicyTree } from '../../sources';
import { withTreeProblems } from '../../sources/policy-tree';
import { EnvoyValidator, findEnvoyBinary, traceRefusal } from '../../xds-server/envoy-validate';
import { formatDiagnostic, positionless, type Diagnostic } from '../../compiler/result';
import type { PolicyIR } from '../../compiler/ir/ir';
import { errStyle, outStyle, resolveNow, type CliContext } from '../context';
import { policyRootOrUsage } from '../policy-root';
import { table } from '../terminal';

export interface ValidateOptions {
  readonly root?: string;
  readonly now?: string;
  /**
   * Also run every fleet's rendered configuration through a real Envoy (`--mode validate`): `true`
   * finds the binary ($ENVOY_BIN, else `envoy` on PATH), a string names it. Without a binary: exit 2.
   */
  readonly envoy?: boolean | string;
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
  if (opts.envoy !== undefined && opts.envoy !== false) {
    const binary = findEnvoyBinary(typeof opts.envoy === 'string' ? opts.envoy : undefined);
    if (!binary) return usageError(ctx, '--envoy: no Envoy binary (give its path, set ENVOY_BIN, or put envoy on PATH)');
    if (!existsSync(binary)) return usageError(ctx, `--envoy: ${binary} does not exist`);
    const refused = await validateWithEnvoy(binary, result.value, tree.value.files);
    if (refused.length > 0) return reportDiagnostics(ctx, refused);
    ctx.stdout.write(`${s.green('ok')} ${relative(ctx.cwd, root) || '.'}: policies compile and Envoy (${binary}) accepts every fleet's configuration (at ${now.toISOString()})\n\n`);
    ctx.stdout.write(summaryTable(result.value) + '\n');
    return 0;
  }
  ctx.stdout.write(`${s.green('ok')} ${relative(ctx.cwd, root) || '.'}: policies compile (at ${now.toISOString()})\n\n`);
  ctx.stdout.write(summaryTable(result.value) + '\n');
  return 0;
}

/** Every (environment, fleet) rendered and checked by Envoy; a refusal traced to a policy position. */
async function validateWithEnvoy(binary: string, ir: PolicyIR, sources: readonly { path: string; text: string }[]): Promise<Diagnostic[]> {
  const fleets = new Map<string, EnvoyResources>();
  for (const env of ir.environments) for (const fleet of env.fleets) fleets.set(fleet, translateEnvironment(env, fleet));
  const errors: Diagnostic[] = [];
  for (const v of await new EnvoyValidator({ binary }).validateAll(fleets)) {
    if (v.result === 'rejected') errors.push(...traceRefusal(v, sources));
    if (v.result === 'error') errors.push(positionless(`Envoy could not check fleet "${v.fleet}": ${v.message}`, { subject: `Environment/${v.environment}`, path: 'spec.fleets' }));
  }
  return errors;
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
