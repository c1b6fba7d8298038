/**
 * The lockdown bot inside `portcullis serve` (issue 10 item 1): the same flags as `portcullis bot`
 * (GitHub access, Alertmanager credentials, cool-down; parsed by cli/commands/bot.ts), the served
 * branch and folder as its base, its journal beside the mirror, and the server's audit trail as its
 * sink, so alert → PR → merge → rollout land in one trail. Also the GitHub client of the rollout
 * commit statuses, from the same flags.
 */
import * as path from 'node:path';
import type { Logger } from 'pino';
import { parseDuration } from '../compiler/duration';
import type { AuditSink, CommitStatusClient } from '../audit';
import type { GitHubAuth } from '../bot/github';
import type { ReceiverAuth } from '../bot/receiver';
import type { BotService } from '../bot/service';
import type { ShadowClient } from '../bot/shadow';
import { githubAuthFrom, hookAuthFrom, incidentTimeline, shadowRefreshFrom, type AlertReceiverFlags, type GitHubAccessFlags, type Parsed } from './commands/bot';
import { SERVE_DEFAULTS } from './commands/serve';

/** `portcullis serve` flags of the bot and of GitHub access (cli/main.ts: githubOptions, botOptions). */
export interface ServeGitHubFlags extends GitHubAccessFlags, AlertReceiverFlags {
  readonly bot?: boolean;
  readonly githubRepo?: string;
  readonly botHost?: string;
  readonly botPort?: number;
  readonly botHousekeepingInterval?: string;
}

const BOT_DEFAULTS = SERVE_DEFAULTS;

export interface EmbeddedBotPlan {
  readonly owner: string;
  readonly repo: string;
  readonly github: { readonly baseUrl: string; readonly auth: GitHubAuth };
  readonly hook: ReceiverAuth;
  readonly cooldownMs: number;
  readonly housekeepingIntervalMs: number;
  readonly host: string;
  readonly port: number;
  /** Dispatched when a lockdown that changes AWS rules starts or ends. */
  readonly deployWorkflow?: string;
  /** Refresh period of the live shadow figures in open incident PRs (the shadow API is this process's). */
  readonly shadowRefreshMs: number;
}

/** The bot's settings from the flags; null without `--bot`; an error message for a bad flag. */
export function planEmbeddedBot(o: ServeGitHubFlags): Parsed<EmbeddedBotPlan | null> {
  if (!o.bot) return { ok: true, value: null };
  const [owner, repo, ...rest] = (o.githubRepo ?? '').split('/');
  if (!owner || !repo || rest.length) return { ok: false, error: o.githubRepo ? `--github-repo: "${o.githubRepo}" is not owner/name` : '--bot needs --github-repo owner/name (where lockdown pull requests are opened)' };
  const cooldownMs = parseDuration(o.cooldown ?? BOT_DEFAULTS.cooldown);
  if (cooldownMs === null) return { ok: false, error: `--cooldown: "${o.cooldown}" is not a duration (e.g. 6h)` };
  const housekeepingIntervalMs = parseDuration(o.botHousekeepingInterval ?? BOT_DEFAULTS.botHousekeepingInterval);
  if (housekeepingIntervalMs === null) return { ok: false, error: `--bot-housekeeping-interval: "${o.botHousekeepingInterval}" is not a duration (e.g. 10m; 0 = never)` };
  const auth = githubAuthFrom(o);
  if (!auth.ok) return auth;
  const hook = hookAuthFrom(o);
  if (!hook.ok) return hook;
  const shadowRefresh = shadowRefreshFrom(o);
  if (!shadowRefresh.ok) return shadowRefresh;
  return {
    ok: true,
    value: { owner, repo, github: { baseUrl: o.githubUrl ?? BOT_DEFAULTS.githubUrl, auth: auth.value }, hook: hook.value, cooldownMs, housekeepingIntervalMs, host: o.botHost ?? BOT_DEFAULTS.botHost, port: o.botPort ?? BOT_DEFAULTS.botPort, shadowRefreshMs: shadowRefresh.value, ...(o.deployWorkflow ? { deployWorkflow: o.deployWorkflow } : {}) },
  };
}

/** GitHub access for commit statuses: the bot's flags, else $GITHUB_TOKEN (as before the flags existed). */
export function statusGitHub(o: ServeGitHubFlags): Parsed<{ baseUrl: string; auth: GitHubAuth }> {
  const auth = githubAuthFrom(o);
  const baseUrl = o.githubUrl ?? BOT_DEFAULTS.githubUrl;
  if (auth.ok) return { ok: true, value: { baseUrl, auth: auth.value } };
  const token = process.env.GITHUB_TOKEN?.trim();
  return token ? { ok: true, value: { baseUrl, auth: { kind: 'token', token } } } : auth;
}

/** A commit-status client over the bot's GitHub connection (token or App, retries, logged calls). */
export async function commitStatusClient(github: { baseUrl: string; auth: GitHubAuth }, repository: string, logger: Logger): Promise<CommitStatusClient> {
  const [owner, repo] = repository.split('/') as [string, string];
  const log = logger.child({ component: 'github' });
  const { connectGitHub } = await import('../bot/github');
  const gh = await connectGitHub({ ...github, owner, repo, log: { info: (f, m) => log.debug(f, m), warn: (f, m) => log.warn(f, m) } });
  return { rest: { repos: { createCommitStatus: (p) => gh.request('POST /repos/{owner}/{repo}/statuses/{sha}', p) } } };
}

/** Starts the bot service of `plan` against the served branch and folder; its journal under `workDir`. */
export async function startEmbeddedBot(plan: EmbeddedBotPlan, o: { base: string; folder: string; workDir: string; logger: Logger; audit?: AuditSink; auditDir?: string; webhookSecret?: Buffer | null; shadow?: ShadowClient }): Promise<BotService> {
  const [{ startBotService }, { planMarkdownForFiles }] = await Promise.all([import('../bot/service'), import('./commands/plan')]);
  const logger = o.logger.child({ component: 'bot' });
  // The bot's GitHub webhook (POST /hooks/github: reviews, merges) takes the push webhook's secret:
  // one secret for the repository's two hooks.
  return startBotService({
    host: plan.host,
    port: plan.port,
    workDir: path.join(o.workDir, 'bot'),
    auth: plan.hook,
    github: { ...plan.github, owner: plan.owner, repo: plan.repo },
    base: o.base,
    folder: o.folder,
    log: { info: (f, m) => logger.info(f, m), warn: (f, m) => logger.warn(f, m) },
    ...(o.audit ? { audit: o.audit } : {}),
    cooldownMs: plan.cooldownMs,
    housekeepingIntervalMs: plan.housekeepingIntervalMs,
    describePlan: (base, head, now) => planMarkdownForFiles(base, head, now),
    ...(o.webhookSecret ? { githubWebhookSecret: o.webhookSecret.toString('utf8') } : {}),
    ...(plan.deployWorkflow ? { deployWorkflow: plan.deployWorkflow } : {}),
    ...(o.auditDir ? { timeline: incidentTimeline(o.auditDir) } : {}),
    ...(o.shadow ? { shadow: { client: o.shadow, refreshMs: plan.shadowRefreshMs } } : {}),
  });
}
