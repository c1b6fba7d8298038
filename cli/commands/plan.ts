/**
 * `portcullis plan --base REF --head REF`: what merging would change, per environment and fleet,
 * short enough for a PR comment. Compiles both revisions from git (the work tree is not touched),
 * diffs the IRs, and compares the Envoy resource versions each fleet would receive.
 */
import { compileSources, type SourceFile } from '../../compiler';
import { translateEnvironment } from '../../compiler/envoy';
import type { EnvoyResources } from '../../compiler/envoy/resources';
import type { PolicyIR, RouteIR } from '../../compiler/ir/ir';
import type { Diagnostic, Result } from '../../compiler/result';
import { diffPolicies, type EnvironmentDiff, type IrChange } from '../../compiler/diff/ir-diff';
import { outStyle, resolveNow, type CliContext } from '../context';
import { planCloud, renderCloudPlanSummary, type CloudPlan } from '../../compiler/cloud';
import { isFolderInsideRepository, readPolicyFilesAt } from '../../sources/git-revision';
import { withTreeProblems } from '../../sources/policy-tree';
import { DEFAULT_POLICY_FOLDER } from '../policy-root';
import { reportDiagnostics, reportNotes, usageError } from './validate';

export interface PlanOptions {
  readonly base: string;
  readonly head: string;
  readonly repo?: string;
  readonly path?: string;
  readonly format: 'text' | 'markdown';
  readonly now?: string;
}

interface FleetChange {
  readonly fleet: string;
  readonly changed: readonly string[];
}

export async function runPlan(ctx: CliContext, opts: PlanOptions): Promise<number> {
  const now = resolveNow(ctx, opts.now);
  if (typeof now === 'string') return usageError(ctx, now);
  const revisions = await readRevisions(ctx, opts);
  if (typeof revisions === 'number') return revisions;
  const { base, head } = revisions;
  reportNotes(ctx, head.value.notes);
  const headIr = withTreeProblems(head.value, compileSources(head.value.files, now));
  if (!headIr.ok) {
    ctx.stderr.write(`head ${head.value.commit.slice(0, 12)} does not compile:\n`);
    return reportDiagnostics(ctx, headIr.errors);
  }
  // A base that does not compile is still a valid starting point for a fix: plan against nothing.
  const baseIr = withTreeProblems(base.value, compileSources(base.value.files, now));
  const title = `Portcullis plan ${base.value.commit.slice(0, 7)} → ${head.value.commit.slice(0, 7)}`;
  const note = baseIr.ok ? '' : `base ${base.value.commit.slice(0, 7)} does not compile; showing the head in full`;
  const report = planReport(baseIr.ok ? baseIr.value : null, headIr.value, title, note, opts.format);
  if (!report.ok) {
    ctx.stderr.write(`head ${head.value.commit.slice(0, 12)} cannot be put on the cloud gateways:\n`);
    return reportDiagnostics(ctx, report.errors);
  }
  ctx.stdout.write(opts.format === 'markdown' ? renderMarkdown(report.value) : renderText(ctx, report.value));
  return 0;
}

/** Everything a plan shows for base → head, whatever prints it (this command, the lockdown bot). */
function planReport(before: PolicyIR | null, after: PolicyIR, title: string, note: string, format: 'text' | 'markdown'): Result<PlanReport> {
  const cloud = cloudChanges(before, after, format);
  if (!cloud.ok) return cloud;
  return { ok: true, value: { title, note, diffs: diffPolicies(before, after), fleets: fleetChanges(before, after), cloud: cloud.value } };
}

/**
 * The plan of a change given as two file sets (the lockdown bot's PR body: base branch → base plus
 * the overlay), as markdown; '' when the head does not compile (the bot never proposes that).
 */
export function planMarkdownForFiles(base: readonly SourceFile[], head: readonly SourceFile[], now: Date, title = 'Portcullis plan'): string {
  const headIr = compileSources(head, now);
  if (!headIr.ok) return '';
  const baseIr = compileSources(base, now);
  const report = planReport(baseIr.ok ? baseIr.value : null, headIr.value, title, baseIr.ok ? '' : 'the base does not compile; showing the head in full', 'markdown');
  return report.ok ? renderMarkdown(report.value) : report.errors.map((e) => `- ${e.message}`).join('\n');
}

type Revision = Extract<Awaited<ReturnType<typeof readPolicyFilesAt>>, { ok: true }>;

/**
 * Both revisions' policy folder. An explicit --path that neither revision has is a usage error
 * (it used to fall back to the repository root and report errors about unrelated files); the
 * default folder falls back to the root when neither has it. A folder only one revision has is
 * read as empty in the other (policies added or removed by the change).
 */
async function readRevisions(ctx: CliContext, opts: PlanOptions): Promise<{ base: Revision; head: Revision } | number> {
  const repo = opts.repo ?? ctx.cwd;
  const folder = opts.path ?? DEFAULT_POLICY_FOLDER;
  if (!isFolderInsideRepository(folder)) return usageError(ctx, `--path ${JSON.stringify(folder)}: must be a folder inside the repository (relative, without "..")`);
  const read = (folderToRead: string) =>
    Promise.all([readPolicyFilesAt(repo, opts.base, folderToRead, { fallbackToRoot: false }), readPolicyFilesAt(repo, opts.head, folderToRead, { fallbackToRoot: false })]);
  let [base, head] = await read(folder);
  if (!base.ok) return usageError(ctx, `--base: ${base.errors[0]?.message}`);
  if (!head.ok) return usageError(ctx, `--head: ${head.errors[0]?.message}`);
  if (!base.value.folderFound && !head.value.folderFound) {
    if (opts.path !== undefined) {
      return usageError(ctx, `--path ${JSON.stringify(opts.path)}: no such folder at --base ${opts.base} (${base.value.commit.slice(0, 7)}) or --head ${opts.head} (${head.value.commit.slice(0, 7)})`);
    }
    [base, head] = await read('');
    if (!base.ok) return usageError(ctx, `--base: ${base.errors[0]?.message}`);
    if (!head.ok) return usageError(ctx, `--head: ${head.errors[0]?.message}`);
  }
  return { base, head };
}

/** Per environment: which fleets get which resources changed (by name and type). */
function fleetChanges(before: PolicyIR | null, after: PolicyIR): Map<string, FleetChange[]> {
  const out = new Map<string, FleetChange[]>();
  const oldEnvs = new Map((before?.environments ?? []).map((e) => [e.name, e]));
  for (const env of after.environments) {
    const old = oldEnvs.get(env.name);
    out.set(
      env.name,
      env.fleets.map((fleet) => ({
        fleet,
        changed: resourceChanges(old?.fleets.includes(fleet) ? translateEnvironment(old, fleet) : null, translateEnvironment(env, fleet)),
      })),
    );
  }
  return out;
}

/**
 * Per environment with cloud gateways: the cloud plan's summary when it changes (rules marked
 * +/-/~ against the base), including what stays enforced in Envoy only.
 */
function cloudChanges(before: PolicyIR | null, after: PolicyIR, format: 'text' | 'markdown'): Result<Map<string, string>> {
  const out = new Map<string, string>();
  const errors: Diagnostic[] = [];
  const oldEnvs = new Map((before?.environments ?? []).map((e) => [e.name, e]));
  for (const env of after.environments) {
    if (!env.cloud) continue;
    const head = planCloud(env);
    if (!head.ok) {
      errors.push(...head.errors);
      continue;
    }
    const oldEnv = oldEnvs.get(env.name);
    const base = oldEnv?.cloud ? planCloud(oldEnv) : null;
    const basePlan: CloudPlan | null = base?.ok ? base.value : null;
    if (JSON.stringify(basePlan) !== JSON.stringify(head.value)) {
      out.set(env.name, renderCloudPlanSummary(head.value, { format, before: basePlan }).trimEnd());
    }
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: out };
}

function resourceChanges(before: EnvoyResources | null, after: EnvoyResources): string[] {
  const lines: string[] = [];
  // The rate-limit service's configuration travels with the fleet's resources (fleet-scope limits).
  const label = { clusters: 'clusters', endpoints: 'endpoints', listeners: 'listeners', routes: 'routes', rateLimitConfigs: 'rate-limit service' } as const;
  for (const kind of ['clusters', 'endpoints', 'listeners', 'routes', 'rateLimitConfigs'] as const) {
    const old = new Map((before?.[kind] ?? []).map((r) => [r.name, r.version]));
    const cur = new Map(after[kind].map((r) => [r.name, r.version]));
    const added = [...cur.keys()].filter((n) => !old.has(n));
    const removed = [...old.keys()].filter((n) => !cur.has(n));
    const changed = [...cur.keys()].filter((n) => old.has(n) && old.get(n) !== cur.get(n));
    const parts = [
      ...added.map((n) => `+${n}`),
      ...changed.map((n) => `~${n}`),
      ...removed.map((n) => `-${n}`),
    ];
    if (parts.length) lines.push(`${label[kind]}: ${parts.join(', ')}`);
  }
  return lines;
}

const SYMBOL = { add: '+', remove: '-', change: '~' } as const;

function describeRoute(r: RouteIR): string {
  const methods = r.match.methods.length ? r.match.methods.join(',') + ' ' : '';
  return `${methods}${r.host === '*' ? '' : r.host}${r.match.path.kind === 'prefix' ? r.match.path.value + '*' : r.match.path.value} → ${r.service}`;
}

function short(v: unknown): string {
  if (v !== null && typeof v === 'object' && 'match' in v && 'service' in v) return describeRoute(v as RouteIR);
  if (v !== null && typeof v === 'object' && 'name' in v) return String((v as { name: unknown }).name);
  const text = JSON.stringify(v);
  return text.length > 80 ? text.slice(0, 77) + '...' : text;
}

export function changeLine(c: IrChange): string {
  if (c.op === 'change') return `~ ${c.path}: ${short(c.before)} → ${short(c.after)}`;
  return `${SYMBOL[c.op]} ${c.path}: ${short(c.op === 'add' ? c.after : c.before)}`;
}

function envHeading(d: EnvironmentDiff): string {
  const fleets = d.fleets.length ? ` (fleets: ${d.fleets.join(', ')})` : '';
  const status = d.status === 'changed' ? `${d.changes.length} change${d.changes.length === 1 ? '' : 's'}` : d.status === 'unchanged' ? 'no change' : d.status;
  return `${d.environment}${fleets}: ${status}`;
}

/** Everything one plan prints, whatever the format. */
interface PlanReport {
  readonly title: string;
  readonly note: string;
  readonly diffs: readonly EnvironmentDiff[];
  readonly fleets: ReadonlyMap<string, readonly FleetChange[]>;
  readonly cloud: ReadonlyMap<string, string>;
}

const fleetLines = (report: PlanReport, env: string): string[] =>
  (report.fleets.get(env) ?? []).filter((f) => f.changed.length).map((f) => `envoy ${f.fleet}: ${f.changed.join('; ')}`);

function renderText(ctx: CliContext, report: PlanReport): string {
  const s = outStyle(ctx);
  const lines = [s.bold(report.title)];
  if (report.note) lines.push(s.yellow(report.note));
  for (const d of report.diffs) {
    lines.push('', s.bold(envHeading(d)));
    for (const c of d.changes) {
      const line = `  ${changeLine(c)}`;
      lines.push(c.op === 'add' ? s.green(line) : c.op === 'remove' ? s.red(line) : s.yellow(line));
    }
    lines.push(...fleetLines(report, d.environment).map((l) => s.dim(`  ${l}`)));
    const summary = report.cloud.get(d.environment);
    if (summary) lines.push(...summary.split('\n').map((l) => `  ${l}`));
  }
  return lines.join('\n') + '\n';
}

function renderMarkdown(report: PlanReport): string {
  const lines = [`### ${report.title}`];
  if (report.note) lines.push('', `> ${report.note}`);
  for (const d of report.diffs) {
    lines.push('', `#### ${envHeading(d)}`);
    const body = [...d.changes.map(changeLine), ...fleetLines(report, d.environment)];
    if (body.length) lines.push('```diff', ...body, '```');
    const summary = report.cloud.get(d.environment);
    if (summary) {
      // The cloud plan is long; folded, so the comment stays short and the detail is a click away.
      const [first = '', ...rest] = summary.split('\n');
      lines.push('', `<details><summary>${first.replace(/\*\*/g, '')}</summary>`, '', ...rest, '', '</details>');
    }
  }
  return lines.join('\n') + '\n';
}
