/**
 * GitHub double: a stateful node:http server Octokit reaches through `baseUrl`. Git state lives in a
 * real bare repository (git-store.ts); pull requests, labels, reviews, comments and statuses in
 * memory. Every request is checked against GitHub's OpenAPI description (GitHub's error shape when it
 * would be refused) and every response too: a response outside the description is recorded in
 * `violations` and answered 500, so the test that caused it fails.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { signBody } from '../../../xds-server/http/webhook';
import { GitStore, type Person } from './git-store';
import { errorBody, pullRequest, repository, user, type Comment, type Pull, type Review, type Site, type Status } from './objects';
import { githubOpenApi, type Operation } from './openapi';
import { HANDLERS } from './handlers';
import { verifyAppJwt } from './app-auth';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** What a handler gets: the matched operation, its inputs, who is calling, and the double. */
export interface Call {
  readonly op: Operation;
  readonly query: Record<string, unknown>;
  readonly body: Json;
  readonly login: string;
  readonly gh: GitHubDouble;
}

export interface Fault {
  /** 500 (server error), 403 or 429 (secondary rate limit, with retry-after). */
  readonly status: 500 | 502 | 403 | 429;
  /** How many requests fail; Infinity until `recover()`. */
  readonly times?: number;
  readonly retryAfterSeconds?: number;
  /** Only these operation ids fail (default: all). */
  readonly operations?: readonly string[];
}

export interface DoubleOptions {
  readonly owner?: string;
  readonly repo?: string;
  /** token → login (personal access tokens, or `ghs_` installation tokens). */
  readonly tokens?: Readonly<Record<string, string>>;
  /** A GitHub App: its id, public key (PEM) and the installation on this repository. */
  readonly app?: { readonly id: number; readonly publicKey: string; readonly installationId: number; readonly slug: string };
  /** Where webhooks go (a URL), signed with `secret`; more with `addWebhook`. */
  readonly webhook?: { readonly url: string; readonly secret: string };
}

/** A repository webhook: every event, or only `events` (GitHub's hook "events" setting). */
export interface Webhook {
  readonly url: string;
  readonly secret: string;
  readonly events?: readonly string[];
}

export interface Delivery {
  readonly id: string;
  readonly url: string;
  readonly event: string;
  readonly payload: Json;
  status?: number;
  error?: string;
}

export interface LoggedCall {
  readonly method: string;
  readonly path: string;
  readonly operation: string | null;
  readonly status: number;
  readonly login: string | null;
  /** When the request arrived (epoch ms) and how long the double took to answer it. */
  readonly at: number;
  readonly ms: number;
}

export class GitHubDouble {
  readonly git = new GitStore();
  readonly pulls = new Map<number, Pull>();
  readonly comments = new Map<number, Comment>();
  readonly reviews: Review[] = [];
  readonly statuses: Status[] = [];
  readonly violations: string[] = [];
  readonly calls: LoggedCall[] = [];
  readonly deliveries: Delivery[] = [];
  readonly tokens = new Map<string, string>();
  readonly site: Site;
  /** The repository's webhooks (the first from `options.webhook`); each gets every event it subscribes to. */
  readonly webhooks: Webhook[] = [];
  private nextNumber = 1;
  private nextId = 100;
  private fault: (Fault & { left: number }) | null = null;
  private server: Server | null = null;
  private pending = new Set<Promise<void>>();
  private pushedAt = '2026-01-01T00:00:00Z';

  constructor(readonly options: DoubleOptions = {}) {
    for (const [t, login] of Object.entries(options.tokens ?? {})) this.tokens.set(t, login);
    if (options.webhook) this.webhooks.push({ ...options.webhook });
    this.site = { api: '', owner: options.owner ?? 'acme', repo: options.repo ?? 'policies', repoId: 4242 };
  }

  get url(): string {
    return this.site.api;
  }

  async start(): Promise<this> {
    githubOpenApi();
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const port = (this.server.address() as { port: number }).port;
    (this.site as { api: string }).api = `http://127.0.0.1:${port}`;
    return this;
  }

  async stop(): Promise<void> {
    await this.settled();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
    this.git.remove();
  }

  /** The first webhook; setting it replaces that one (null removes it). */
  get webhook(): Webhook | null {
    return this.webhooks[0] ?? null;
  }

  set webhook(hook: Webhook | null) {
    this.webhooks.splice(0, this.webhooks.length ? 1 : 0, ...(hook ? [hook] : []));
  }

  /** Adds a repository webhook (e.g. the control server's push hook beside the bot's). */
  addWebhook(hook: Webhook): void {
    this.webhooks.push(hook);
  }

  /** Compiles the validators of every operation the double implements, so no request pays for it. */
  warm(): this {
    githubOpenApi().warm(Object.keys(HANDLERS));
    return this;
  }

  /** Waits until every webhook delivery sent so far has been answered. */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  /** Makes the next requests fail as GitHub does when it is down or rate limiting. */
  failWith(fault: Fault): void {
    this.fault = { ...fault, left: fault.times ?? Infinity };
  }

  recover(): void {
    this.fault = null;
  }

  id(): number {
    return this.nextId++;
  }

  issueNumber(): number {
    return this.nextNumber++;
  }

  now(): string {
    return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  person(login: string): Person {
    return { name: login, email: `${userSlug(login)}@users.noreply.github.com`, date: `${Math.floor(Date.now() / 1000)} +0000` };
  }

  repository(): Json {
    return repository(this.site, 'main', this.pushedAt);
  }

  /** Seeds the default branch with files (a first commit, or one on top). */
  seed(files: Readonly<Record<string, string>>, message = 'seed'): string {
    return this.pushCommit('main', files, message, this.options.owner ?? 'acme');
  }

  /** Commits file changes on a branch as `login` (a push), and announces it. */
  pushCommit(branch: string, files: Readonly<Record<string, string | null>>, message: string, login: string): string {
    const old = this.git.resolve(`heads/${branch}`);
    const sha = this.git.commitFiles(old, files, message, this.person(login));
    if (!this.git.casRef(`heads/${branch}`, sha, old)) throw new Error(`branch ${branch} moved meanwhile`);
    this.announcePush(branch, old, sha, login);
    return sha;
  }

  /** After any ref update: the push webhook, and open PRs on that branch follow the new head. */
  announcePush(branch: string, before: string | null, after: string | null, login: string): void {
    this.pushedAt = this.now();
    for (const p of this.pulls.values()) {
      if (p.state !== 'open' || !after) continue;
      if (p.head === branch && p.headSha !== after) {
        p.headSha = after;
        p.updatedAt = this.now();
        this.emit('pull_request', { action: 'synchronize', number: p.number, before, after }, p, login);
      }
      if (p.base === branch) p.baseSha = after;
    }
    const zero = '0'.repeat(40);
    this.send('push', {
      ref: `refs/heads/${branch}`,
      before: before ?? zero,
      after: after ?? zero,
      created: before === null,
      deleted: after === null,
      forced: false,
      base_ref: null,
      compare: `https://github.com/${this.site.owner}/${this.site.repo}/compare`,
      commits: [],
      head_commit: null,
      pusher: { name: login, email: null },
      repository: this.repository(),
      sender: { login, id: 1, type: login.endsWith('[bot]') ? 'Bot' : 'User' },
    });
  }

  /** A pull_request / pull_request_review / issue_comment event about `pull`. */
  emit(event: string, fields: Json, pull: Pull, login: string): void {
    this.send(event, { ...fields, pull_request: pullRequest(this.site, pull, this.repository(), true), repository: this.repository(), sender: user(this.site, login) });
  }

  send(event: string, payload: Json): void {
    const body = JSON.stringify(payload);
    for (const hook of this.webhooks) if (!hook.events || hook.events.includes(event)) this.deliver(hook, event, payload, body);
  }

  private deliver(hook: Webhook, event: string, payload: Json, body: string): void {
    const delivery: Delivery = { id: randomUUID(), url: hook.url, event, payload };
    this.deliveries.push(delivery);
    const p = fetch(hook.url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/double',
        'x-github-event': event,
        'x-github-delivery': delivery.id,
        'x-github-hook-id': String(this.webhooks.indexOf(hook) + 1),
        'x-hub-signature-256': signBody(hook.secret, body),
      },
    })
      .then(async (r) => {
        delivery.status = r.status;
        await r.arrayBuffer();
      })
      .catch((e: unknown) => {
        delivery.error = e instanceof Error ? e.message : String(e);
      })
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Throws when any response did not match GitHub's description (call it in afterEach). */
  assertClean(): void {
    const seen = this.violations.splice(0);
    if (seen.length) throw new Error(`GitHub double saw responses GitHub would never send:\n${seen.join('\n')}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://double');
    const raw = await readBody(req);
    const log: { operation: string | null; login: string | null } = { operation: null, login: null };
    let reply: Reply;
    try {
      reply = this.route(req, url, raw, log);
    } catch (e) {
      // A double bug: the test must fail, and the client must not hang.
      this.violations.push(`${log.operation ?? url.pathname}: the double threw: ${e instanceof Error ? e.message : String(e)}`);
      reply = { status: 500, body: errorBody(500, 'GitHub double error') };
    }
    this.calls.push({ method: req.method ?? 'GET', path: url.pathname, operation: log.operation, status: reply.status, login: log.login, at, ms: Date.now() - at });
    const headers: Record<string, string> = { 'x-github-request-id': randomUUID(), 'x-ratelimit-limit': '5000', 'x-ratelimit-remaining': '4999', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600), ...reply.headers };
    if (reply.body === undefined) {
      res.writeHead(reply.status, headers).end();
      return;
    }
    res.writeHead(reply.status, { ...headers, 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(reply.body));
  }

  private route(req: IncomingMessage, url: URL, raw: Buffer, log: { operation: string | null; login: string | null }): Reply {
    const api = githubOpenApi();
    const op = api.match(req.method ?? 'GET', url.pathname);
    if (!op) return { status: 404, body: errorBody(404, 'Not Found') };
    log.operation = op.id;
    const login = this.authenticate(req.headers.authorization, op);
    if (login === null) return { status: 401, body: errorBody(401, 'Bad credentials') };
    log.login = login;
    const fault = this.takeFault(op);
    if (fault) return fault;
    let body: Json;
    if (raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return { status: 400, body: errorBody(400, 'Problems parsing JSON') };
      }
    }
    const query = Object.fromEntries(url.searchParams);
    const invalid = api.checkRequest(op, query, body);
    if (invalid.length) return { status: 422, body: errorBody(422, `Invalid request.\n\n${invalid.join('\n')}`) };
    // The validators coerce query values in place (per_page "100" → 100).
    const handler = HANDLERS[op.id];
    if (!handler) {
      this.violations.push(`${op.id}: not implemented by the double`);
      return { status: 501, body: errorBody(501, `${op.id} is not implemented by the GitHub double`) };
    }
    const reply = handler({ op, query, body, login, gh: this });
    if (reply.status >= 500) return reply;
    const wrong = api.checkResponse(op, reply.status, reply.body);
    if (wrong.length) {
      this.violations.push(...wrong);
      return { status: 500, body: errorBody(500, `GitHub double: response outside GitHub's description: ${wrong.join('; ')}`) };
    }
    return reply;
  }

  /** The caller's login, or null (401). The app's JWT reaches only the installation-token endpoint. */
  private authenticate(header: string | undefined, op: Operation): string | null {
    const m = /^(?:token|bearer) (\S+)$/i.exec(header ?? '');
    if (!m) return null;
    const token = m[1]!;
    const app = this.options.app;
    if (app && (op.id === 'apps/create-installation-access-token' || op.id === 'apps/get-repo-installation')) {
      return verifyAppJwt(token, app.publicKey, app.id) ? `${app.slug}[app]` : null;
    }
    return this.tokens.get(token) ?? null;
  }

  private takeFault(op: Operation): Reply | null {
    const f = this.fault;
    if (!f || f.left <= 0 || (f.operations && !f.operations.includes(op.id))) return null;
    f.left--;
    if (f.status >= 500) return { status: f.status, body: errorBody(f.status, 'Server Error') };
    const retry = String(f.retryAfterSeconds ?? 1);
    const message = 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.';
    return { status: f.status, body: errorBody(f.status, message, undefined, 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits'), headers: { 'retry-after': retry, 'x-ratelimit-remaining': '4999' } };
  }
}

function userSlug(login: string): string {
  return login.replace(/\[bot\]$/, '').replace(/[^a-z0-9-]/gi, '-');
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
