/**
 * `portcullis lockdown open|list|lift`: break-glass lockdowns in one command (composition root).
 * `open` builds the overlay from flags, compiles base + overlay, and opens the PR through the bot's
 * GitHub code (or, with --local, commits it on a new branch of a local checkout); bad flags or an
 * overlay that does not compile → clear errors and nothing written.
 */
import { userInfo } from 'node:os';
import { AuditWriter } from '../../audit';
import type { SourceFile } from '../../compiler';
import { readPolicyFiles, readPolicyFilesAt } from '../../sources';
import { formatDiagnostic } from '../../compiler/result';
import { breakGlassLockdown, type BreakGlassFlags } from '../../bot/breakglass';
import { liftChange, lockdownsIn } from '../../bot/lift';
import { connectGitHub } from '../../bot/github';
import { BRANCH_PREFIX } from '../../bot/incident';
import { commitOnNewBranch } from '../../bot/local-branch';
import { compileWithOverlay, lockdownYaml, type LockdownSpecData } from '../../bot/lockdown-file';
import { describeAction } from '../../bot/pr-body';
import { proposeOnGitHub } from '../../bot/propose';
import { PolicyRepo } from '../../bot/repo';
import { resolveNow, type CliContext } from '../context';
import { resolvePolicyRoot } from '../policy-root';
import { auditDir } from './audit';
import { githubAuthFrom } from './bot';
import { planMarkdownForFiles } from './plan';

export interface TargetOptions {
  readonly repo?: string;
  readonly local?: boolean;
  readonly checkout?: string;
  readonly base: string;
  readonly path: string;
  readonly githubUrl: string;
  readonly githubTokenFile?: string;
  readonly appId?: string;
  readonly appKeyFile?: string;
  readonly installationId?: string;
  readonly now?: string;
  /** Audit trail directory for `breakglass.opened` (else $PORTCULLIS_AUDIT_DIR; none: not recorded). */
  readonly auditDir?: string;
}

/** Where the change goes: a GitHub PR, or a branch of a local checkout. */
interface Target {
  readonly files: readonly SourceFile[];
  propose(branch: string, file: string, text: string | null, title: string, body: string): Promise<Proposed>;
}

/** What was proposed: the line printed, and the PR or commit for the audit trail. */
interface Proposed {
  readonly where: string;
  readonly pr?: number;
  readonly url?: string;
  readonly commit?: string;
}

async function openTarget(ctx: CliContext, o: TargetOptions): Promise<Target | string> {
  if (o.local) {
    const dir = o.checkout ?? ctx.cwd;
    const base = await readPolicyFilesAt(dir, o.base, o.path);
    if (!base.ok) return `--local: ${base.errors[0]?.message} (${dir})`;
    return {
      files: base.value.files,
      propose: async (branch, file, text, title) => {
        const commit = await commitOnNewBranch(dir, base.value.commit, branch, file, text, title).catch((e: Error) => e);
        if (commit instanceof Error) throw new Error(`cannot create branch ${branch}: ${commit.message.split('\n').find((l) => l.startsWith('fatal')) ?? commit.message}`);
        return { where: `branch ${branch} (${commit.slice(0, 12)}) in ${dir}: merge it with git to enforce`, commit };
      },
    };
  }
  if (!o.repo) return 'give --repo OWNER/NAME (a GitHub PR) or --local (a branch of a local checkout)';
  const [owner, name] = o.repo.split('/');
  if (!owner || !name) return `--repo: "${o.repo}" is not OWNER/NAME`;
  const auth = githubAuthFrom(o);
  if (!auth.ok) return auth.error;
  const log = { info: () => undefined, warn: (f: Record<string, unknown>, m: string) => ctx.stderr.write(`${m} ${JSON.stringify(f)}\n`) };
  const gh = await connectGitHub({ baseUrl: o.githubUrl, owner, repo: name, auth: auth.value, log });
  const repo = new PolicyRepo(gh, { owner, repo: name, base: o.base, folder: o.path });
  const baseSha = await repo.branchHead(o.base);
  if (!baseSha) return `--base: branch ${o.base} not found in ${o.repo}`;
  const files = await repo.policyFiles(baseSha);
  return {
    files,
    propose: async (branch, file, text, title, body) => {
      const pr = await proposeOnGitHub(repo, baseSha, { branch, file, text, message: title, title, body, labels: ['portcullis', 'lockdown', 'break-glass'] });
      return { where: pr.url, pr: pr.number, url: pr.url };
    },
  };
}

/** Compiles base + change; prints every error and returns false when it does not compile. */
function compiles(ctx: CliContext, files: readonly SourceFile[], file: string, text: string | null, now: Date): boolean {
  const result = compileWithOverlay(files, file, text, now);
  if (result.ok) return true;
  ctx.stderr.write(`the lockdown does not compile with the base; nothing was written:\n${result.errors.map((e) => `  ${formatDiagnostic(e)}`).join('\n')}\n`);
  return false;
}

function body(name: string, file: string, spec: LockdownSpecData, plan: string, what: string): string {
  return [
    `### ${what}: \`${name}\``,
    '',
    `${spec.reason}`,
    '',
    `- **when:** ${spec.createdAt} → **${spec.expiresAt}** (ends by itself)`,
    `- **where:** ${spec.environments.join(', ')}; **owner:** ${spec.owner}`,
    ...spec.actions.map((a) => `- ${describeAction(a)}`),
    '',
    plan,
    '',
    `Lift it early with \`portcullis lockdown lift ${name}\`.`,
  ].join('\n');
}

export async function runLockdownOpen(ctx: CliContext, o: TargetOptions & BreakGlassFlags): Promise<number> {
  const now = resolveNow(ctx, o.now);
  if (typeof now === 'string') return usage(ctx, [now]);
  const lockdown = breakGlassLockdown(o, now);
  if (!lockdown.ok) return usage(ctx, lockdown.errors);
  const { name, file, spec } = lockdown.value;
  const target = await openTarget(ctx, o).catch((e: Error) => `GitHub: ${e.message}`);
  if (typeof target === 'string') return usage(ctx, [target]);
  const text = lockdownYaml(name, spec, `Break-glass lockdown opened with portcullis lockdown open (${spec.owner}).`);
  if (!compiles(ctx, target.files, file, text, now)) return 1;
  const plan = planMarkdownForFiles(target.files, [...target.files.filter((f) => f.path !== file), { path: file, text }], now);
  const proposed = await target.propose(`${BRANCH_PREFIX}${name}`, file, text, `Break-glass lockdown ${name}: ${spec.reason}`.slice(0, 200), body(name, file, spec, plan, 'Break-glass lockdown'));
  ctx.stdout.write(`${proposed.where}\n`);
  const dir = o.auditDir ?? process.env.PORTCULLIS_AUDIT_DIR;
  if (dir) await recordBreakGlass(ctx, dir, { lockdown: name, file, environment: spec.environments.join(','), expiresAt: spec.expiresAt, reason: spec.reason, ...proposed });
  return 0;
}

/** `breakglass.opened` in the audit trail (with --audit-dir or $PORTCULLIS_AUDIT_DIR): who, what, which PR. */
async function recordBreakGlass(ctx: CliContext, dir: string, fields: Record<string, unknown>): Promise<void> {
  const actor = process.env.PORTCULLIS_ACTOR || userInfo().username;
  const { where: _printed, ...rest } = fields;
  const writer = await AuditWriter.open({ dir: auditDir(ctx, dir), stream: 'cli', fsync: 'always', clock: ctx.now, lockWaitMs: 10_000 });
  try {
    await writer.record('breakglass.opened', { actor, ...rest });
  } finally {
    await writer.close();
  }
}

export async function runLockdownLift(ctx: CliContext, o: TargetOptions & { name: string }): Promise<number> {
  const now = resolveNow(ctx, o.now);
  if (typeof now === 'string') return usage(ctx, [now]);
  const target = await openTarget(ctx, o).catch((e: Error) => `GitHub: ${e.message}`);
  if (typeof target === 'string') return usage(ctx, [target]);
  const lift = liftChange(target.files, o.name, now, 'portcullis lockdown lift', o.base);
  if (typeof lift === 'string') return usage(ctx, [lift]);
  const proposed = await target.propose(lift.branch, lift.file, lift.text, lift.title, lift.body);
  ctx.stdout.write(`${proposed.where}\n`);
  return 0;
}

function left(ms: number): string {
  const m = Math.round(Math.abs(ms) / 60_000);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}m`;
}

/** `portcullis lockdown list [--root DIR]`: every lockdown, active / scheduled / expired, with time left. */
export async function runLockdownList(ctx: CliContext, o: { root?: string; now?: string; json?: boolean }): Promise<number> {
  const now = resolveNow(ctx, o.now);
  if (typeof now === 'string') return usage(ctx, [now]);
  const files = await readPolicyFiles(resolvePolicyRoot(ctx.cwd, o.root));
  if (!files.ok) return usage(ctx, files.errors.map(formatDiagnostic));
  const rows = lockdownsIn(files.value).map((l) => {
    const start = Date.parse(String(l.spec.createdAt));
    const end = Date.parse(String(l.spec.expiresAt));
    const t = now.getTime();
    const state = t < start ? 'scheduled' : t < end ? 'active' : 'expired';
    const when = state === 'scheduled' ? `starts in ${left(start - t)}` : state === 'active' ? `${left(end - t)} left` : `expired ${left(t - end)} ago`;
    return { name: l.name, state, when, environments: l.spec.environments, expiresAt: String(l.spec.expiresAt), file: l.file };
  });
  if (o.json) ctx.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else if (!rows.length) ctx.stdout.write('no lockdowns\n');
  else for (const r of rows) ctx.stdout.write(`${r.state.padEnd(9)} ${r.name}  ${r.when}  [${r.environments.join(', ')}]  until ${r.expiresAt}  ${r.file}\n`);
  return 0;
}

function usage(ctx: CliContext, errors: readonly string[]): number {
  ctx.stderr.write(errors.map((e) => `portcullis lockdown: ${e}\n`).join(''));
  return 2;
}
