/**
 * Bot: the incident's lockdown run in shadow mode on the fleet while its PR is open (the control
 * server's shadow API; nothing is enforced), and the live "would have blocked" figures for the PR
 * body, read by the monitor from the RBAC shadow result in the access logs. `ShadowClient` is what
 * the bot needs; `httpShadowClient` implements it over HTTP (`portcullis bot --shadow-url`); `serve
 * --bot` passes an in-process one (cli/serve-bot.ts).
 */

/** What the monitor counted for one overlay (GET /monitor/shadow). */
export interface LiveShadowFigures {
  /** The window the figures cover (e.g. `30m`). */
  readonly window: string;
  readonly active: boolean;
  readonly since: string;
  readonly wouldBlock: {
    readonly requests: number;
    readonly clients: number;
    readonly byStatus: Readonly<Record<string, number>>;
    readonly withValidToken: { readonly requests: number; readonly clients: number };
    readonly byRoute: readonly { readonly route: string; readonly requests: number }[];
  };
  readonly unaffected: { readonly requests: number };
}

export type ShadowStart = { readonly ok: true; readonly notShadowed: readonly string[]; readonly expiresAt: string } | { readonly ok: false; readonly error: string };

export interface ShadowClient {
  /** Starts (or refreshes: idempotent) overlay `name` = the Lockdown `lockdown` (YAML) in `environment`. */
  put(name: string, environment: string, lockdown: string, ttlMs: number): Promise<ShadowStart>;
  /** Ends it (a missing overlay is no error). */
  delete(name: string): Promise<void>;
  /** The names of the overlays running now (GET /shadow/overlays). */
  list(): Promise<string[]>;
  /** The monitor's figures over the last `windowMs`; null when unknown. */
  figures(environment: string, name: string, windowMs: number): Promise<LiveShadowFigures | null>;
}

export interface HttpShadowOptions {
  /** The control server's base URL (it serves /shadow/overlays and /monitor/shadow). */
  readonly url: string;
  /** Bearer token of the shadow API. */
  readonly token: string;
  readonly timeoutMs?: number;
}

export function httpShadowClient(o: HttpShadowOptions): ShadowClient {
  const base = o.url.replace(/\/+$/, '');
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${o.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(o.timeoutMs ?? 5000),
    });
  return {
    async put(name, environment, lockdown, ttlMs) {
      const res = await call('PUT', `/shadow/overlays/${encodeURIComponent(name)}`, { environment, lockdown, ttl: `${Math.ceil(ttlMs / 1000)}s` });
      const data = (await res.json().catch(() => ({}))) as { notShadowed?: string[]; expiresAt?: string; errors?: { message: string }[]; error?: string };
      if (!res.ok) return { ok: false, error: `HTTP ${res.status}: ${(data.errors ?? []).map((e) => e.message).join('; ') || data.error || ''}`.slice(0, 500) };
      return { ok: true, notShadowed: data.notShadowed ?? [], expiresAt: data.expiresAt ?? '' };
    },
    async delete(name) {
      const res = await call('DELETE', `/shadow/overlays/${encodeURIComponent(name)}`);
      if (!res.ok && res.status !== 404) throw new Error(`DELETE shadow overlay ${name}: HTTP ${res.status}`);
    },
    async list() {
      const res = await call('GET', '/shadow/overlays');
      if (!res.ok) throw new Error(`GET shadow overlays: HTTP ${res.status}`);
      return ((await res.json()) as { overlays: { name: string }[] }).overlays.map((x) => x.name);
    },
    async figures(environment, name, windowMs) {
      const q = new URLSearchParams({ environment, overlay: name, window: `${Math.max(1, Math.round(windowMs / 1000))}s` });
      const res = await call('GET', `/monitor/shadow?${q}`);
      return res.ok ? ((await res.json()) as LiveShadowFigures) : null;
    },
  };
}

/** Minutes, as the body says them ("the last 30 minutes"). */
function minutes(window: string, windowMs: number): string {
  const m = Math.max(1, Math.round(windowMs / 60_000));
  return window && !/^\d+m$/.test(window) ? window : `${m} minute${m === 1 ? '' : 's'}`;
}

/** The PR body's live section (markdown lines): what the proposed lockdown, running in shadow, would have blocked. */
export function liveShadowLines(started: ShadowStart | null, f: LiveShadowFigures | null, windowMs: number): string[] {
  if (started === null) return [];
  if (!started.ok) return [`Not running in shadow mode: the control server refused it (${started.error}).`];
  const notShadowed = started.notShadowed.map((n) => `- ${n}`);
  if (!f) return ['Running in shadow mode on the fleet (nothing enforced); live figures not available yet.', ...notShadowed];
  const w = f.wouldBlock;
  const lines = [
    `Running in shadow mode on the fleet since ${f.since} (nothing enforced): **would have blocked ${w.requests} request${w.requests === 1 ? '' : 's'} from ${w.clients} client${w.clients === 1 ? '' : 's'} in the last ${minutes(f.window, windowMs)}** (${w.withValidToken.requests} with a valid token); ${f.unaffected.requests} other request${f.unaffected.requests === 1 ? '' : 's'} unaffected.`,
  ];
  if (w.byRoute.length > 0) lines.push('', '| route | would block |', '| --- | --- |', ...w.byRoute.map((r) => `| \`${r.route}\` | ${r.requests} |`));
  return [...lines, ...(notShadowed.length ? ['', ...notShadowed] : [])];
}

export interface ShadowRunsOptions {
  readonly client: ShadowClient;
  /** Lifetime asked for each overlay; every refresh renews it, so it outlives the PR by at most this (default 30 minutes). */
  readonly ttlMs?: number;
  /** Window of the live figures (default 30 minutes, the monitor's longest). */
  readonly windowMs?: number;
  readonly log: { warn(fields: Record<string, unknown>, msg: string): void };
}

/** A PR whose lockdown runs in shadow, as the refresh loop needs it. */
export interface ShadowedPull<P> {
  readonly name: string;
  readonly environment: string;
  readonly pull: P;
  readonly started: ShadowStart;
}

/**
 * The shadow overlays of this bot's open incident PRs, in memory; rebuilt from GitHub (the open
 * incident PRs) and the control server (the overlays running) at start and on every refresh tick
 * (LockdownBot.resumeShadows), so a restart loses nothing.
 */
export class ShadowRuns<P> {
  private readonly runs = new Map<string, ShadowedPull<P>>();
  /** Started before their PR exists (the PR body shows the shadow from the start). */
  private readonly pending = new Map<string, Omit<ShadowedPull<P>, 'pull'>>();
  readonly ttlMs: number;
  readonly windowMs: number;

  constructor(private readonly o: ShadowRunsOptions) {
    this.ttlMs = o.ttlMs ?? 30 * 60_000;
    this.windowMs = o.windowMs ?? 30 * 60_000;
  }

  /** Puts the incident's lockdown (YAML) in shadow; a refusal or an unreachable server is logged and shown in the body. */
  async start(incident: string, name: string, environment: string, lockdown: string): Promise<ShadowStart> {
    const started = await this.o.client.put(name, environment, lockdown, this.ttlMs).catch((e: unknown): ShadowStart => ({ ok: false, error: e instanceof Error ? e.message : String(e) }));
    if (!started.ok) this.o.log.warn({ incident, overlay: name, error: started.error }, 'lockdown not started in shadow mode');
    const known = this.runs.get(incident);
    if (known) this.runs.set(incident, { ...known, started });
    else this.pending.set(incident, { name, environment, started });
    return started;
  }

  /** The PR of a started shadow: refreshed from now on. */
  track(incident: string, pull: P): void {
    const run = this.runs.get(incident) ?? this.pending.get(incident);
    if (!run) return;
    this.pending.delete(incident);
    this.runs.set(incident, { ...run, pull });
  }

  /** True when the overlay's TTL is more than half spent (the refresh puts it again). */
  renewalDue(incident: string, nowMs: number): boolean {
    const run = this.runs.get(incident);
    return run !== undefined && (!run.started.ok || Date.parse(run.started.expiresAt) - nowMs < this.ttlMs / 2);
  }

  has(incident: string): boolean {
    return this.runs.has(incident) || this.pending.has(incident);
  }

  tracked(): [string, ShadowedPull<P>][] {
    return [...this.runs];
  }

  /** The overlays the control server runs now; null when it cannot say. */
  running(): Promise<Set<string> | null> {
    return this.o.client.list().then((names) => new Set(names), (e: unknown) => (this.o.log.warn({ error: e instanceof Error ? e.message : String(e) }, 'shadow overlays not listed'), null));
  }

  /** The body's live section for the incident (empty when it runs no shadow). */
  async lines(incident: string): Promise<string[]> {
    const run = this.runs.get(incident) ?? this.pending.get(incident);
    if (!run) return [];
    const figures = run.started.ok ? await this.o.client.figures(run.environment, run.name, this.windowMs).catch(() => null) : null;
    return liveShadowLines(run.started, figures, this.windowMs);
  }

  /** Ends the incident's shadow (PR merged or closed). */
  async end(incident: string, name: string): Promise<void> {
    this.runs.delete(incident);
    this.pending.delete(incident);
    await this.o.client.delete(name).catch((e: unknown) => this.o.log.warn({ incident, overlay: name, error: e instanceof Error ? e.message : String(e) }, 'shadow overlay not deleted; it ends at its TTL'));
  }
}
