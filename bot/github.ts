/**
 * Bot: the GitHub connection — token or GitHub App (app id + private key → installation token),
 * octokit's throttling and retry plugins with bounded attempts that honour `retry-after`, and every
 * call logged and counted. The rest of the bot sees only `GitHubClient.request`.
 */
import { App, Octokit } from 'octokit';
import type { Counter, Histogram } from 'prom-client';
import { DEFAULT_NOTIFICATION_PACING, DEFAULT_WRITE_PACING, pacingGroup, type Pacing } from './pacing';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface GitHubResponse {
  readonly status: number;
  readonly data: any;
}

/** `request('POST /repos/{owner}/{repo}/pulls', {...})`, as octokit; failures throw with `status`. */
export interface GitHubClient {
  request(route: string, params?: Record<string, unknown>): Promise<GitHubResponse>;
}

export type GitHubAuth =
  | { readonly kind: 'token'; readonly token: string }
  | { readonly kind: 'app'; readonly appId: number; readonly privateKey: string; readonly installationId?: number };

export interface GitHubLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface GitHubOptions {
  readonly baseUrl: string;
  readonly owner: string;
  readonly repo: string;
  readonly auth: GitHubAuth;
  readonly log: GitHubLog;
  /** `portcullis_bot_github_requests_total{method,route,status}` and its latency histogram. */
  readonly metrics?: { readonly requests: Counter<string>; readonly seconds: Histogram<string> };
  /** Retries per request for 5xx, and for 403/429 secondary rate limits (default 2 each). */
  readonly retries?: number;
  /** Longest retry-after honoured, in seconds; a longer wait fails the call (default 60). */
  readonly maxRetryAfterSeconds?: number;
  /** Scales octokit's retry waits (1000 = seconds as GitHub says; tests use less). */
  readonly retryAfterBaseMs?: number;
  /** Write pacing (pacing.ts); default a burst of 5, then 1 per second. */
  readonly writePacing?: Pacing;
  /** Pacing of writes that notify people (PRs, comments, review requests); default 3, then 1 per 3 s. */
  readonly notificationPacing?: Pacing;
}

/** The status of a failed GitHub call (0: no answer at all). */
export function statusOf(err: unknown): number {
  const s = (err as { status?: unknown })?.status;
  return typeof s === 'number' ? s : 0;
}

/** GitHub's error message of a failed call, for logs and 422 checks. */
export function messageOf(err: unknown): string {
  const data = (err as { response?: { data?: { message?: unknown; errors?: unknown } } })?.response?.data;
  const parts = [typeof data?.message === 'string' ? data.message : String((err as Error)?.message ?? err)];
  if (Array.isArray(data?.errors)) parts.push(...data.errors.map((e: any) => (typeof e === 'string' ? e : (e?.message ?? e?.code ?? ''))));
  return parts.filter(Boolean).join('; ');
}

function octokitClass(o: GitHubOptions): typeof Octokit {
  const retries = o.retries ?? 2;
  const maxWait = o.maxRetryAfterSeconds ?? 60;
  const base = o.retryAfterBaseMs ?? 1000;
  const limited = (kind: string) => (retryAfter: number, options: any, _octokit: unknown, retryCount: number) => {
    const retry = retryCount < retries && retryAfter <= maxWait;
    o.log.warn({ method: options.method, route: options.url, retryAfter, retryCount, retry }, `GitHub ${kind} rate limit`);
    return retry;
  };
  return Octokit.defaults({
    baseUrl: o.baseUrl,
    userAgent: 'portcullis-bot',
    retry: { retries, retryAfterBaseValue: base },
    throttle: {
      onRateLimit: limited('primary'),
      onSecondaryRateLimit: limited('secondary'),
      retryAfterBaseValue: base,
      fallbackSecondaryRateRetryAfter: 60,
      write: pacingGroup(o.writePacing ?? DEFAULT_WRITE_PACING),
      notifications: pacingGroup(o.notificationPacing ?? DEFAULT_NOTIFICATION_PACING),
    },
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  });
}

/** Logs and counts every attempt (octokit's after/error hooks run once per HTTP exchange). */
function instrument(octokit: Octokit, o: GitHubOptions): void {
  const started = new WeakMap<object, number>();
  octokit.hook.before('request', (options: any) => void started.set(options, Date.now()));
  const done = (options: any, status: number, message?: string) => {
    const seconds = (Date.now() - (started.get(options) ?? Date.now())) / 1000;
    const labels = { method: options.method, route: options.url, status: String(status) };
    o.metrics?.requests.inc(labels);
    o.metrics?.seconds.observe({ method: options.method, route: options.url }, seconds);
    // 404/422 are answers the bot looks for (no branch yet, PR already exists); outages and limits are warnings.
    (status >= 500 || status === 0 || status === 403 || status === 429 || status === 401 ? o.log.warn : o.log.info).call(o.log, { ...labels, ms: Math.round(seconds * 1000), ...(message ? { error: message } : {}) }, 'github call');
  };
  octokit.hook.after('request', (response: any, options: any) => done(options, response.status));
  octokit.hook.error('request', (error: any, options: any) => {
    done(options, statusOf(error), messageOf(error));
    throw error;
  });
}

/** A client for one repository. App auth finds the installation on the repository unless given. */
export async function connectGitHub(o: GitHubOptions): Promise<GitHubClient> {
  const OctokitClass = octokitClass(o);
  if (o.auth.kind === 'token') {
    const octokit = new OctokitClass({ auth: o.auth.token });
    instrument(octokit, o);
    return octokit;
  }
  const app = new App({ appId: o.auth.appId, privateKey: o.auth.privateKey, Octokit: OctokitClass });
  instrument(app.octokit, o);
  const installationId = o.auth.installationId ?? (await app.octokit.request('GET /repos/{owner}/{repo}/installation', { owner: o.owner, repo: o.repo })).data.id;
  const octokit = await app.getInstallationOctokit(installationId);
  instrument(octokit, o);
  return octokit as unknown as GitHubClient;
}
