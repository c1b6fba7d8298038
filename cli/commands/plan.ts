/**
 * `portcullis plan --base REF --head REF`: what merging would change, per environment, for the
 * reviewer of a policy PR (docs/cloud.md "The plan"). Compiles both revisions from git (the work
 * tree is not touched) at now and at every later instant where a lockdown starts or ends, and
 * prints plan-report.ts' content through plan-render.ts; `--preview-json` merges `pulumi preview
 * --json` summaries in, `--max-chars` cuts a markdown comment and says where the full plan is.
 */
import { readFileSync } from 'node:fs';
import { importCommands, planCloud } from '../../compiler/cloud';
import { compileEnvironment } from '../compile-environment';
import { compileSources, type SourceFile } from '../../compiler';
import { positionless, type Diagnostic } from '../../compiler/result';
import { parsePreview, type PreviewSummary } from '../../compiler/cloud/preview';
import { outStyle, resolveNow, type CliContext } from '../context';
import { isFolderInsideRepository, readPolicyFilesAt } from '../../sources/git-revision';
import { withTreeProblems } from '../../sources/policy-tree';
import { DEFAULT_POLICY_FOLDER } from '../policy-root';
import { reportDiagnostics, reportNotes, usageError } from './validate';
import { buildPlanReport, type CompileAt, type PlanReport } from './plan-report';
import { renderPlan, type RenderOptions } from './plan-render';

export interface PlanOptions {
  readonly base: string;
  readonly head: string;
  readonly repo?: string;
  readonly path?: string;
  readonly format: 'text' | 'markdown';
  readonly now?: string;
  /** `pulumi preview --json` outputs, `FILE` or `STACK=FILE`. */
  readonly previewJson?: readonly string[];
  readonly maxChars?: number;
  readonly fullPlanUrl?: string;
}

export async function runPlan(ctx: CliContext, opts: PlanOptions): Promise<number> {
  const now = resolveNow(ctx, opts.now);
  if (typeof now === 'string') return usageError(ctx, now);
  const previews = readPreviews(opts.previewJson ?? []);
  if (!Array.isArray(previews)) return reportDiagnostics(ctx, previews.errors);
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
  const baseOk = withTreeProblems(base.value, compileSources(base.value.files, now)).ok;
  const title = `Portcullis plan ${base.value.commit.slice(0, 7)} → ${head.value.commit.slice(0, 7)}`;
  const note = baseOk ? '' : `base ${base.value.commit.slice(0, 7)} does not compile; showing the head in full`;
  const report = buildPlanReport(baseOk ? compilerOf(base.value.files) : () => null, compilerOf(head.value.files), now, title, note);
  if (!report.ok) {
    ctx.stderr.write(`head ${head.value.commit.slice(0, 12)} cannot be put on the cloud gateways:\n`);
    return reportDiagnostics(ctx, report.errors);
  }
  const render: RenderOptions = { format: opts.format, style: outStyle(ctx), maxChars: opts.maxChars, fullPlanUrl: opts.fullPlanUrl };
  ctx.stdout.write(renderPlan({ ...report.value, previews }, render));
  return 0;
}

const compilerOf =
  (files: readonly SourceFile[]): CompileAt =>
  (at) => {
    const ir = compileSources(files, at);
    return ir.ok ? ir.value : null;
  };

/** Each `--preview-json [STACK=]FILE`, parsed; every unreadable one is an error naming the file. */
function readPreviews(args: readonly string[]): PreviewSummary[] | { errors: Diagnostic[] } {
  const out: PreviewSummary[] = [];
  const errors: Diagnostic[] = [];
  for (const arg of args) {
    const m = /^([a-z0-9][-a-z0-9]*)=(.+)$/.exec(arg);
    const [stack, file] = m ? [m[1], m[2]!] : [undefined, arg];
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      errors.push(positionless(`--preview-json: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file }));
      continue;
    }
    const p = parsePreview(text, file, stack);
    if (p.ok) out.push(p.value);
    else errors.push(...p.errors);
  }
  return errors.length ? { errors } : out;
}

/**
 * The plan of a change given as two file sets, as markdown: the stable entry the lockdown bot and
 * `portcullis lockdown` call for their PR bodies (base branch → base plus the overlay). '' when
 * the head does not compile (the bot never proposes that).
 */
export function planMarkdownForFiles(base: readonly SourceFile[], head: readonly SourceFile[], now: Date, title = 'Portcullis plan'): string {
  // A pull request body holds at most 65,536 characters: leave room for the rest of the body.
  const fullPlanHint = 'the full plan: `portcullis plan --base <base branch> --head <this branch>`';
  return planForFiles(base, head, now, { title, format: 'markdown', maxChars: PR_BODY_PLAN_CHARS, fullPlanHint });
}

/** What of a lockdown pull request's body the plan may take. */
export const PR_BODY_PLAN_CHARS = 50_000;

/** Like planMarkdownForFiles, in either format, with the render options (cut, previews). */
export function planForFiles(
  base: readonly SourceFile[],
  head: readonly SourceFile[],
  now: Date,
  options: RenderOptions & { readonly title?: string; readonly previews?: readonly PreviewSummary[] },
): string {
  const headIr = compileSources(head, now);
  if (!headIr.ok) return '';
  const baseOk = compileSources(base, now).ok;
  const note = baseOk ? '' : 'the base does not compile; showing the head in full';
  const report = buildPlanReport(baseOk ? compilerOf(base) : () => null, compilerOf(head), now, options.title ?? 'Portcullis plan', note);
  if (!report.ok) return report.errors.map((e) => `- ${e.message}`).join('\n');
  const full: PlanReport = { ...report.value, previews: options.previews ?? [] };
  return renderPlan(full, options);
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


export interface ImportCommandsOptions {
  readonly env: string;
  readonly root?: string;
  readonly stack?: string;
  readonly attach: 'webAcl' | 'ruleGroup';
  readonly now?: string;
}

/** `portcullis import-commands --env E`: the `pulumi import` script adopting E's existing AWS resources. */
export async function runImportCommands(ctx: CliContext, opts: ImportCommandsOptions): Promise<number> {
  const picked = await compileEnvironment(ctx, opts);
  if (typeof picked === 'number') return picked;
  const { env } = picked;
  const plan = planCloud(env);
  if (!plan.ok) return reportDiagnostics(ctx, plan.errors);
  ctx.stdout.write(importCommands(plan.value, { stack: opts.stack ?? env.name, attach: opts.attach }));
  return 0;
}
