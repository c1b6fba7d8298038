/**
 * `portcullis bot`: the lockdown bot as a service (composition root): Alertmanager webhook in,
 * lockdown pull requests out, GitHub webhooks in (docs/incident-response.md). Wires the bot edge to
 * the plan renderer of cli/commands/plan.ts and its audit trail (stream `bot`); runs until SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { AuditWriter, buildTimeline, queryTrail, renderMarkdown } from '../../audit';
import { parseDuration } from '../../compiler/duration';
import type { GitHubAuth } from '../../bot/github';
import type { ReceiverAuth } from '../../bot/receiver';
import { LocalPolicyRepo } from '../../bot/local-repo';
import { startBotService } from '../../bot/service';
import { httpShadowClient } from '../../bot/shadow';
import { untilStopSignal, type CliContext } from '../context';
import { planMarkdownForFiles } from './plan';

/** GitHub access (cli/main.ts githubOptions): a token file or a GitHub App. */
export interface GitHubAccessFlags {
  readonly githubUrl?: string;
  readonly githubTokenFile?: string;
  readonly appId?: string;
  readonly appKeyFile?: string;
  readonly installationId?: string;
}

/** What Alertmanager authenticates with, and the bot's other shared flags (cli/main.ts alertReceiverOptions). */
export interface AlertReceiverFlags {
  readonly hookUser?: string;
  readonly hookPasswordFile?: string;
  readonly hookTokenFile?: string;
  readonly cooldown?: string;
  readonly deployWorkflow?: string;
  /** How often the live shadow figures of open incident PRs are refreshed (default 60s; 0 = never). */
  readonly shadowRefresh?: string;
}

export interface BotOptions extends GitHubAccessFlags, AlertReceiverFlags {
  readonly repo?: string;
  /** Local mode: lockdown branches in this git checkout instead of GitHub pull requests (bot/local-repo.ts). */
  readonly localRepo?: string;
  readonly githubUrl: string;
  readonly base: string;
  readonly path: string;
  readonly host: string;
  readonly port: number;
  readonly workDir: string;
  readonly cooldown: string;
  readonly logLevel?: string;
  readonly webhookSecretFile?: string;
  readonly monitorUrl?: string;
  readonly auditDir?: string;
  /** Control server whose shadow API runs the proposed lockdown in shadow mode (token: --shadow-token-file or PORTCULLIS_SHADOW_TOKEN). */
  readonly shadowUrl?: string;
  readonly shadowTokenFile?: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function secret(file: string | undefined, env: string, flag: string): Parsed<string | null> {
  if (file) {
    try {
      const text = readFileSync(file, 'utf8').trim();
      return text ? { ok: true, value: text } : { ok: false, error: `${flag}: the file is empty` };
    } catch (e) {
      return { ok: false, error: `${flag}: ${(e as Error).message}` };
    }
  }
  const v = process.env[env]?.trim();
  return { ok: true, value: v || null };
}

/** GitHub credentials: a token (file or PORTCULLIS_GITHUB_TOKEN), or a GitHub App (id + private key). */
export function githubAuthFrom(o: Pick<BotOptions, 'githubTokenFile' | 'appId' | 'appKeyFile' | 'installationId'>): Parsed<GitHubAuth> {
  if (o.appId || o.appKeyFile) {
    if (!o.appId || !/^\d+$/.test(o.appId)) return { ok: false, error: '--app-id: a GitHub App id (a number) is required with --app-key-file' };
    const key = secret(o.appKeyFile, 'PORTCULLIS_GITHUB_APP_KEY', '--app-key-file');
    if (!key.ok) return key;
    if (!key.value) return { ok: false, error: '--app-key-file: the App private key (PEM) is required with --app-id' };
    if (o.installationId && !/^\d+$/.test(o.installationId)) return { ok: false, error: '--installation-id: must be a number' };
    return { ok: true, value: { kind: 'app', appId: Number(o.appId), privateKey: key.value, ...(o.installationId ? { installationId: Number(o.installationId) } : {}) } };
  }
  const token = secret(o.githubTokenFile, 'PORTCULLIS_GITHUB_TOKEN', '--github-token-file');
  if (!token.ok) return token;
  if (!token.value) return { ok: false, error: 'GitHub credentials: --github-token-file (or PORTCULLIS_GITHUB_TOKEN), or --app-id with --app-key-file' };
  return { ok: true, value: { kind: 'token', token: token.value } };
}

/** Alertmanager's credentials on the webhook: a bearer token, or basic user + password (`portcullis bot` and `serve --bot`). */
export function hookAuthFrom(o: Pick<BotOptions, 'hookTokenFile' | 'hookPasswordFile' | 'hookUser'>): Parsed<ReceiverAuth> {
  const token = secret(o.hookTokenFile, 'PORTCULLIS_HOOK_TOKEN', '--hook-token-file');
  if (!token.ok) return token;
  if (token.value) return { ok: true, value: { kind: 'bearer', token: token.value } };
  const password = secret(o.hookPasswordFile, 'PORTCULLIS_HOOK_PASSWORD', '--hook-password-file');
  if (!password.ok) return password;
  if (!password.value || !o.hookUser) return { ok: false, error: 'webhook credentials: --hook-token-file (bearer) or --hook-user with --hook-password-file (basic); Alertmanager has no signatures, so one is required' };
  return { ok: true, value: { kind: 'basic', username: o.hookUser, password: password.value } };
}

/** The refresh period of the live shadow figures (`--shadow-refresh`), or the usage error. */
export function shadowRefreshFrom(o: Pick<AlertReceiverFlags, 'shadowRefresh'>): Parsed<number> {
  const ms = parseDuration(o.shadowRefresh ?? '60s');
  return ms === null ? { ok: false, error: `--shadow-refresh: "${o.shadowRefresh}" is not a duration (e.g. 60s; 0 = never)` } : { ok: true, value: ms };
}

/** `--shadow-url` with its token: the bot's HTTP ShadowClient settings, null without the flag. */
function shadowFrom(o: BotOptions): Parsed<{ url: string; token: string; refreshMs: number } | null> {
  if (!o.shadowUrl) return { ok: true, value: null };
  const token = secret(o.shadowTokenFile, 'PORTCULLIS_SHADOW_TOKEN', '--shadow-token-file');
  if (!token.ok) return token;
  if (!token.value) return { ok: false, error: '--shadow-url needs the shadow API token: --shadow-token-file or PORTCULLIS_SHADOW_TOKEN' };
  const refreshMs = shadowRefreshFrom(o);
  return refreshMs.ok ? { ok: true, value: { url: o.shadowUrl, token: token.value, refreshMs: refreshMs.value } } : refreshMs;
}

/** The incident's timeline in markdown from the trail under `auditDir` (null before any record): appended to its PR when it ends. */
export function incidentTimeline(auditDir: string): (incident: string) => Promise<string | null> {
  return async (incident) => {
    const records = await queryTrail(auditDir, { incident });
    return records.length ? renderMarkdown(buildTimeline(records).steps, `incident ${incident}`) : null;
  };
}

export async function runBot(ctx: CliContext, o: BotOptions, signals: NodeJS.EventEmitter = process): Promise<number> {
  const usage = (m: string) => (ctx.stderr.write(`portcullis bot: ${m}\n`), 2);
  if (!o.repo === !o.localRepo) return usage('give --repo OWNER/NAME (GitHub pull requests) or --local-repo DIR (branches of a local checkout), one of them');
  const [owner, repo, ...rest] = (o.repo ?? 'local/repo').split('/');
  if (!owner || !repo || rest.length) return usage(`--repo: "${o.repo}" is not OWNER/NAME`);
  const cooldownMs = parseDuration(o.cooldown);
  if (cooldownMs === null) return usage(`--cooldown: "${o.cooldown}" is not a duration (e.g. 6h)`);
  const gh: Parsed<GitHubAuth | null> = o.localRepo ? { ok: true, value: null } : githubAuthFrom(o);
  if (!gh.ok) return usage(gh.error);
  const hook = hookAuthFrom(o);
  if (!hook.ok) return usage(hook.error);
  const webhookSecret = secret(o.webhookSecretFile, 'PORTCULLIS_GITHUB_WEBHOOK_SECRET', '--webhook-secret-file');
  if (!webhookSecret.ok) return usage(webhookSecret.error);
  const shadow = shadowFrom(o);
  if (!shadow.ok) return usage(shadow.error);
  const workDir = path.resolve(ctx.cwd, o.workDir);
  const auditDir = path.resolve(ctx.cwd, o.auditDir ?? path.join(workDir, 'audit'));
  const audit = await AuditWriter.open({ dir: auditDir, stream: 'bot', fsync: 'incident' }).catch((e: Error) => e);
  if (audit instanceof Error) return usage(`--audit-dir: ${audit.message}`);
  const logger = pino({ level: o.logLevel ?? 'info', base: { service: 'portcullis-bot' }, timestamp: pino.stdTimeFunctions.isoTime });
  const log = { info: (f: Record<string, unknown>, m: string) => logger.info(f, m), warn: (f: Record<string, unknown>, m: string) => logger.warn(f, m) };
  const local = o.localRepo ? await LocalPolicyRepo.open(path.resolve(ctx.cwd, o.localRepo), { base: o.base, folder: o.path, stateDir: workDir }).catch((e: Error) => e) : undefined;
  if (local instanceof Error) return usage(local.message);
  const service = await startBotService({
    host: o.host,
    port: o.port,
    workDir,
    audit,
    timeline: incidentTimeline(auditDir),
    ...(webhookSecret.value ? { githubWebhookSecret: webhookSecret.value } : {}),
    ...(o.monitorUrl ? { monitor: { url: o.monitorUrl, ...(process.env.PORTCULLIS_MONITOR_AUTHORIZATION ? { authorization: process.env.PORTCULLIS_MONITOR_AUTHORIZATION } : {}) } } : {}),
    ...(o.deployWorkflow ? { deployWorkflow: o.deployWorkflow } : {}),
    ...(shadow.value ? { shadow: { client: httpShadowClient(shadow.value), refreshMs: shadow.value.refreshMs } } : {}),
    auth: hook.value,
    ...(local ? { repo: local } : { github: { baseUrl: o.githubUrl, owner, repo, auth: gh.value! } }),
    base: o.base,
    folder: o.path,
    log,
    cooldownMs,
    describePlan: (base, head, now) => planMarkdownForFiles(base, head, now),
  }).catch((e: unknown) => e as Error);
  if (service instanceof Error) {
    await audit.close();
    ctx.stderr.write(`portcullis bot: ${service.message}\n`);
    return 1;
  }
  logger.info({ url: service.url, repo: o.repo ?? local?.dir, base: o.base, githubHooks: Boolean(webhookSecret.value) }, `bot listening: POST /hooks/alertmanager${webhookSecret.value ? ', POST /hooks/github' : ''}`);
  await untilStopSignal(signals);
  await service.stop();
  await audit.close();
  logger.flush();
  return 0;
}
