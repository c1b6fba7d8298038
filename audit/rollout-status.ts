/**
 * Rollout status on GitHub: for the commit a control server serves, one commit status per
 * environment (`portcullis/<env>`): pending "7/12 Envoys enforce abc1234" → success "12/12 …", or
 * failure "2 Envoys rejected abc1234: <Envoy's error>". Fed by the same events as the audit trail
 * (it is an AuditSink: cli/ tees the trail into it); updates are coalesced and rate-limited per
 * context, and only a changed state or description is posted. With several control-server
 * replicas each reports its own nodes under its own context (`portcullis/<env> (<replica>)`), and
 * nothing for an environment none of its own Envoys belongs to.
 */
import type { AuditSink } from './sink';

/** The part of a connected node's status the reporter reads (xds-server's NodeStatus fits). */
export interface RolloutNode {
  readonly id: string;
  readonly environment: string | null;
  readonly servedCommit?: string | null;
  readonly inSync: boolean;
  readonly lastNack: { readonly commit: string | null; readonly type: string; readonly error: string } | null;
}

/** octokit's `rest.repos.createCommitStatus`, or anything shaped like it. */
export interface CommitStatusClient {
  readonly rest: {
    readonly repos: {
      createCommitStatus(params: { owner: string; repo: string; sha: string; state: CommitState; description: string; context: string; target_url?: string }): Promise<unknown>;
    };
  };
}

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

export interface RolloutStatusOptions {
  readonly client: CommitStatusClient;
  /** `owner/name` of the policy repository on GitHub. */
  readonly repository: string;
  /** The served commit and its environments; null before the first one. */
  readonly served: () => { readonly commit: string; readonly environments: readonly string[] } | null;
  readonly nodes: () => readonly RolloutNode[];
  /** Set with several replicas: each reports its own nodes under `portcullis/<env> (<replica>)`. */
  readonly replica?: string;
  /** Minimum time between two posts for one context (a trailing update follows); default 2 s. */
  readonly minIntervalMs?: number;
  /** Events within this window make one evaluation (a rollout to 1,000 nodes brings 8,000); default 100 ms. */
  readonly coalesceMs?: number;
  /** Link on the status, e.g. the server's /status page. */
  readonly targetUrl?: string;
  readonly onError?: (e: unknown) => void;
}

interface Posted {
  readonly state: CommitState;
  readonly description: string;
  readonly at: number;
}

export interface StatusUpdate {
  readonly environment: string;
  readonly sha: string;
  readonly context: string;
  readonly state: CommitState;
  readonly description: string;
}

const TRIGGERS = /^(xds\.|policy\.compiled$|lockdown\.)/;

export class RolloutStatusReporter implements AuditSink {
  private readonly posted = new Map<string, Posted>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private dirty = false;
  /** Per environment: the commit last reported, to close it when a newer one supersedes it. */
  private readonly reportedCommit = new Map<string, { commit: string; description: string }>();

  constructor(private readonly opts: RolloutStatusOptions) {}

  async record(kind: string): Promise<void> {
    if (TRIGGERS.test(kind)) this.schedule(this.opts.coalesceMs ?? 100);
  }

  /** The statuses due now: one per environment of the served commit, plus closers for superseded commits. */
  evaluate(): StatusUpdate[] {
    const served = this.opts.served();
    if (!served) return [];
    const out: StatusUpdate[] = [];
    const short = served.commit.slice(0, 7);
    const all = this.opts.nodes();
    for (const env of served.environments) {
      const nodes = all.filter((n) => n.environment === env);
      const enforcing = nodes.filter((n) => n.inSync && n.servedCommit === served.commit).length;
      const rejected = nodes.filter((n) => n.lastNack && n.lastNack.commit === served.commit);
      let state: CommitState;
      let description: string;
      if (rejected.length > 0) {
        state = 'failure';
        const first = rejected[0]!.lastNack!;
        description = `${rejected.length} Envoy${rejected.length === 1 ? '' : 's'} rejected ${short} (${first.type}): ${first.error}`;
      } else if (nodes.length === 0) {
        // A replica speaks only for its own Envoys: those of this environment may all be on another one.
        if (this.opts.replica) continue;
        [state, description] = ['pending', `no Envoy of ${env} connected; ${short} is served`];
      } else {
        state = enforcing === nodes.length ? 'success' : 'pending';
        description = `${enforcing}/${nodes.length} Envoys enforce ${short}`;
      }
      const context = this.context(env);
      const before = this.reportedCommit.get(env);
      if (before && before.commit !== served.commit) {
        // A newer commit carries this one's changes on: close the older status instead of leaving it pending.
        const last = this.posted.get(`${before.commit}\0${context}`);
        if (last && last.state === 'pending') out.push({ environment: env, sha: before.commit, context, state: 'success', description: clip(`superseded by ${short} (${before.description} when it was)`) });
      }
      out.push({ environment: env, sha: served.commit, context, state, description: clip(description) });
    }
    return out;
  }

  /** Posts what changed (rate-limited per context); resolves when this round is done. */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    this.running = this.postChanges().finally(() => (this.running = null));
    await this.running;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private context(env: string): string {
    return this.opts.replica ? `portcullis/${env} (${this.opts.replica})` : `portcullis/${env}`;
  }

  private schedule(delayMs: number): void {
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, delayMs);
    this.timer.unref();
  }

  private async postChanges(): Promise<void> {
    this.dirty = false;
    const minInterval = this.opts.minIntervalMs ?? 2000;
    const [owner, repo] = this.opts.repository.split('/') as [string, string];
    let wait = Infinity;
    for (const u of this.evaluate()) {
      const key = `${u.sha}\0${u.context}`;
      const last = this.posted.get(key);
      if (last && last.state === u.state && last.description === u.description) continue;
      const due = last ? last.at + minInterval - Date.now() : 0;
      // Terminal states go out at once; intermediate counts wait for the rate limit (coalesced).
      if (due > 0 && u.state === 'pending') {
        wait = Math.min(wait, due);
        continue;
      }
      try {
        await this.opts.client.rest.repos.createCommitStatus({ owner, repo, sha: u.sha, state: u.state, description: u.description, context: u.context, ...(this.opts.targetUrl ? { target_url: this.opts.targetUrl } : {}) });
        this.posted.set(key, { state: u.state, description: u.description, at: Date.now() });
        if (u.sha === this.opts.served()?.commit) this.reportedCommit.set(u.environment, { commit: u.sha, description: u.description });
      } catch (e) {
        this.opts.onError?.(e);
        wait = Math.min(wait, minInterval);
      }
    }
    if (this.dirty) wait = Math.min(wait, this.opts.coalesceMs ?? 100);
    if (wait !== Infinity) setImmediate(() => this.schedule(Math.max(wait, 0)));
  }
}

const clip = (s: string): string => (s.length <= 140 ? s : `${s.slice(0, 139)}…`);
