/**
 * `portcullis serve`: flags → options, then runs the control server (cli/control-server.ts), and
 * with `--bot` the lockdown bot (cli/serve-bot.ts), until SIGINT/SIGTERM. The flag defaults live here once; cli/main.ts shows them in --help.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import pino, { type Logger } from 'pino';
import { parseDuration } from '../../compiler/duration';
import { untilStopSignal, type CliContext } from '../context';
import type { FsyncPolicy } from '../../audit';
import { parseRedisUrl } from '../../monitor/redis-connection';
import type { ServeAudit } from '../audit-wiring';
import type { ControlServer } from '../control-server';
import { findEnvoyBinary } from '../../xds-server/envoy-validate';
import { DEFAULT_SHADOW_LIMITS, type ShadowLimits } from '../../xds-server/shadow-overlays';
import type { GitHubAuth } from '../../bot/github';
import type { BotService } from '../../bot/service';
import type { EmbeddedBotPlan, ServeGitHubFlags } from '../serve-bot';
import type { Parsed } from './bot';

export interface ServeCommandOptions extends ServeGitHubFlags {
  readonly repo: string;
  readonly branch?: string;
  readonly path?: string;
  readonly pollInterval?: string;
  readonly xdsHost?: string;
  readonly xdsPort?: number;
  readonly httpHost?: string;
  readonly httpPort?: number;
  readonly webhookSecretFile?: string;
  readonly workDir?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsClientCa?: string;
  /** Envoy binary for validation; default $ENVOY_BIN, else `envoy` on PATH. */
  readonly envoyBin?: string;
  /** false (`--no-envoy-validate`): no Envoy validation. */
  readonly envoyValidate?: boolean;
  readonly allowFleetRemoval?: boolean;
  readonly logLevel?: string;
  readonly auditDir?: string;
  readonly auditFsync?: string;
  readonly lokiUrl?: string;
  readonly githubStatusRepo?: string;
  readonly replicaId?: string;
  readonly alertmanagerUrl?: string;
  readonly prometheusUrl?: string;
  /** Redis through which several replicas merge keyed triggers' windows (docs/monitor.md). */
  readonly monitorRedisUrl?: string;
  /** Bearer token of the shadow-overlay API (default: env PORTCULLIS_SHADOW_TOKEN; none: the API answers 401). */
  readonly shadowTokenFile?: string;
  readonly shadowDefaultTtl?: string;
  readonly shadowMaxTtl?: string;
}

export const SERVE_DEFAULTS = {
  branch: 'main',
  path: 'policies',
  pollInterval: '5s',
  xdsHost: '127.0.0.1',
  xdsPort: 18000,
  httpHost: '127.0.0.1',
  httpPort: 18001,
  logLevel: 'info',
  auditFsync: 'incident',
  githubUrl: 'https://api.github.com',
  cooldown: '6h',
  botHost: '127.0.0.1',
  botPort: 18002,
  botHousekeepingInterval: '10m',
  shadowDefaultTtl: '30m',
  shadowMaxTtl: '24h',
} as const;

interface ParsedServe {
  readonly pollIntervalMs: number;
  readonly webhookSecret: Buffer | null;
  readonly envoyBinary: string | null;
  readonly bot: EmbeddedBotPlan | null;
  readonly status: { readonly repository: string; readonly github: { baseUrl: string; auth: GitHubAuth } } | null;
  readonly shadow: { readonly token: string | null; readonly limits: ShadowLimits };
}

/** The shadow API's token (file, else env PORTCULLIS_SHADOW_TOKEN) and TTL bounds, or the usage error. */
function parseShadowFlags(o: ServeCommandOptions): Parsed<ParsedServe['shadow']> {
  const defaultTtlMs = parseDuration(o.shadowDefaultTtl ?? SERVE_DEFAULTS.shadowDefaultTtl);
  const maxTtlMs = parseDuration(o.shadowMaxTtl ?? SERVE_DEFAULTS.shadowMaxTtl);
  if (defaultTtlMs === null || defaultTtlMs < 1000) return { ok: false, error: `--shadow-default-ttl: "${o.shadowDefaultTtl}" is not a duration of at least 1s` };
  if (maxTtlMs === null || maxTtlMs < defaultTtlMs) return { ok: false, error: `--shadow-max-ttl: "${o.shadowMaxTtl}" must be a duration no shorter than the default TTL` };
  let token: string | null = process.env.PORTCULLIS_SHADOW_TOKEN?.trim() || null;
  if (o.shadowTokenFile) {
    try {
      token = readFileSync(o.shadowTokenFile, 'utf8').trim();
    } catch (e) {
      return { ok: false, error: `--shadow-token-file: ${(e as { message?: string }).message ?? String(e)}` };
    }
    if (token.length < 16) return { ok: false, error: '--shadow-token-file: the token must be at least 16 characters' };
  }
  return { ok: true, value: { token, limits: { ...DEFAULT_SHADOW_LIMITS, defaultTtlMs, maxTtlMs } } };
}

/** Flags → settings, or the usage error (exit 2). */
async function parseServeFlags(o: ServeCommandOptions): Promise<Parsed<ParsedServe>> {
  const fail = (error: string): Parsed<ParsedServe> => ({ ok: false, error });
  const pollIntervalMs = parseDuration(o.pollInterval ?? SERVE_DEFAULTS.pollInterval);
  if (pollIntervalMs === null) return fail(`--poll-interval: "${o.pollInterval}" is not a duration (e.g. 5s, 500ms, 1m; 0 = webhook only)`);
  let webhookSecret: Buffer | null = null;
  const secretEnv = process.env.PORTCULLIS_WEBHOOK_SECRET;
  if (o.webhookSecretFile) {
    try {
      webhookSecret = Buffer.from(readFileSync(o.webhookSecretFile, 'utf8').trim());
    } catch (e) {
      return fail(`--webhook-secret-file: ${(e as { message?: string }).message ?? String(e)}`);
    }
    if (webhookSecret.length === 0) return fail('--webhook-secret-file: the file is empty');
  } else if (secretEnv) {
    webhookSecret = Buffer.from(secretEnv.trim());
  }
  if ((o.lokiUrl || o.githubStatusRepo) && !o.auditDir && !o.workDir) return fail('--loki-url and --github-status-repo need the audit trail: give --audit-dir or --work-dir');
  if (o.githubStatusRepo && !/^[^/\s]+\/[^/\s]+$/.test(o.githubStatusRepo)) return fail(`--github-status-repo: "${o.githubStatusRepo}" is not owner/name`);
  const tlsFlags = [o.tlsCert, o.tlsKey, o.tlsClientCa].filter((x) => x !== undefined).length;
  if (tlsFlags !== 0 && tlsFlags !== 3) return fail('--tls-cert, --tls-key and --tls-client-ca go together (mTLS for xDS)');
  if (o.envoyBin !== undefined && !existsSync(o.envoyBin)) return fail(`--envoy-bin: ${o.envoyBin} does not exist`);
  if (o.envoyBin !== undefined && o.envoyValidate === false) return fail('--envoy-bin and --no-envoy-validate contradict each other');
  const redis = o.monitorRedisUrl === undefined ? null : parseRedisUrl(o.monitorRedisUrl);
  if (typeof redis === 'string') return fail(`--monitor-redis-url: ${redis}`);
  // Loaded only when GitHub is used: the bot's modules (octokit) take a second to load.
  const gh = o.bot || o.githubStatusRepo ? await import('../serve-bot') : null;
  const bot = gh?.planEmbeddedBot(o) ?? { ok: true, value: null };
  if (!bot.ok) return bot;
  let status: ParsedServe['status'] = null;
  if (gh && o.githubStatusRepo) {
    const github = gh.statusGitHub(o);
    if (!github.ok) return fail(`--github-status-repo: ${github.error} (or env GITHUB_TOKEN)`);
    status = { repository: o.githubStatusRepo, github: github.value };
  }
  const envoyBinary = o.envoyValidate === false ? null : findEnvoyBinary(o.envoyBin);
  const shadow = parseShadowFlags(o);
  if (!shadow.ok) return shadow;
  return { ok: true, value: { pollIntervalMs, webhookSecret, envoyBinary, bot: bot.value, status, shadow: shadow.value } };
}

/**
 * Runs the control server (and with --bot the lockdown bot) until SIGINT/SIGTERM. Exit codes: 0
 * after a clean shutdown, 2 usage errors (bad flag, unreadable secret file), 1 when start-up fails
 * (port in use, ...).
 */
export async function runServe(ctx: CliContext, o: ServeCommandOptions, signals: NodeJS.EventEmitter = process): Promise<number> {
  const parsed = await parseServeFlags(o);
  if (!parsed.ok) {
    ctx.stderr.write(`portcullis serve: ${parsed.error}\n`);
    return 2;
  }
  const p = parsed.value;
  const logger = pino({ level: o.logLevel ?? SERVE_DEFAULTS.logLevel, base: { service: 'portcullis' }, timestamp: pino.stdTimeFunctions.isoTime });
  const workDir = o.workDir ? path.resolve(ctx.cwd, o.workDir) : undefined;
  // The trail lives in --audit-dir, else beside the mirror in --work-dir; a temporary work dir gets none.
  const auditDir = o.auditDir ?? (workDir ? path.join(workDir, 'audit') : undefined);
  let audit: ServeAudit | null = null;
  let server: ControlServer | null = null;
  let bot: BotService | null = null;
  const gh = p.bot || p.status ? await import('../serve-bot') : null;
  try {
    if (auditDir) {
      const { openServeAudit } = await import('../audit-wiring');
      audit = await openServeAudit({
        dir: path.resolve(ctx.cwd, auditDir),
        fsync: (o.auditFsync ?? SERVE_DEFAULTS.auditFsync) as FsyncPolicy,
        ...(o.lokiUrl ? { lokiUrl: o.lokiUrl } : {}),
        ...(gh && p.status ? { githubStatus: { repository: p.status.repository, client: await gh.commitStatusClient(p.status.github, p.status.repository, logger) } } : {}),
        ...(o.replicaId ? { replica: o.replicaId } : {}),
        logger,
      });
    } else logger.warn('no --audit-dir and no --work-dir: the audit trail is off');
    server = await startServer(ctx, o, p, logger, workDir, audit);
    audit?.attach(server);
    if (gh && p.bot) {
      bot = await gh.startEmbeddedBot(p.bot, { base: o.branch ?? SERVE_DEFAULTS.branch, folder: o.path ?? SERVE_DEFAULTS.path, workDir: workDir ?? (await mkdtemp(path.join(tmpdir(), 'portcullis-bot-'))), logger, webhookSecret: p.webhookSecret, shadow: (await import('../shadow-client')).inProcessShadowClient(server), ...(audit && auditDir ? { audit: audit.sink, auditDir: path.resolve(ctx.cwd, auditDir) } : {}) });
      logger.info({ url: bot.url, repo: `${p.bot.owner}/${p.bot.repo}` }, 'bot listening: POST /hooks/alertmanager');
    }
  } catch (e) {
    await server?.stop();
    await audit?.close();
    logger.fatal({ err: e }, 'control server failed to start');
    ctx.stderr.write(`portcullis serve: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  logger.info({ signal: await untilStopSignal(signals) }, 'shutting down');
  await bot?.stop();
  await server.stop();
  await audit?.close();
  logger.flush();
  return 0;
}

async function startServer(ctx: CliContext, o: ServeCommandOptions, p: ParsedServe, logger: Logger, workDir: string | undefined, audit: ServeAudit | null): Promise<ControlServer> {
  // Loaded here: gRPC and the Envoy descriptors are not needed to parse flags.
  const { startControlServer } = await import('../control-server');
  return startControlServer({
    repo: isUrl(o.repo) ? o.repo : path.resolve(ctx.cwd, o.repo),
    branch: o.branch ?? SERVE_DEFAULTS.branch,
    path: o.path ?? SERVE_DEFAULTS.path,
    pollIntervalMs: p.pollIntervalMs,
    xdsHost: o.xdsHost ?? SERVE_DEFAULTS.xdsHost,
    xdsPort: o.xdsPort ?? SERVE_DEFAULTS.xdsPort,
    httpHost: o.httpHost ?? SERVE_DEFAULTS.httpHost,
    httpPort: o.httpPort ?? SERVE_DEFAULTS.httpPort,
    webhookSecret: p.webhookSecret,
    ...(workDir ? { workDir } : {}),
    ...(o.tlsCert && o.tlsKey && o.tlsClientCa ? { tls: { certFile: o.tlsCert, keyFile: o.tlsKey, clientCaFile: o.tlsClientCa } } : {}),
    ...(audit ? { audit: audit.sink } : {}),
    envoyBinary: p.envoyBinary,
    allowFleetRemoval: o.allowFleetRemoval === true,
    logger,
    shadow: p.shadow,
    monitor: {
      alertmanagerUrl: o.alertmanagerUrl ?? null,
      // A bearer token or basic credentials for an Alertmanager behind a proxy: from the environment, never a flag.
      alertmanagerAuthorization: process.env.PORTCULLIS_ALERTMANAGER_AUTHORIZATION || undefined,
      prometheusUrl: o.prometheusUrl ?? null,
      fleetMerge: o.monitorRedisUrl ? { redisUrl: o.monitorRedisUrl } : null,
    },
  });
}

function isUrl(repo: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/\s]+@[^:\s]+:/.test(repo);
}
