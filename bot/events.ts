/**
 * Bot: what GitHub events mean for an incident — `review.submitted` (approver, state, reviewed
 * commit) and `pr.merged` (merge commit, merged by) in the audit trail with the incident's
 * correlation fields; a merge starts the lockdown's cloud window; a `/portcullis lift` comment from a
 * user with write permission on the repository opens the lift PR. Only the bot's own PRs (with its
 * marker) count; everything else is ignored.
 */
import type { AuditSink, BotLog } from './handler';
import type { CloudWindow } from './cloud-window';
import { incidentName, parseMarker, type PrMarker } from './incident';
import { liftChange } from './lift';
import { proposeOnGitHub } from './propose';
import type { BotRepo } from './repo';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface EventDeps {
  readonly repo: BotRepo;
  readonly now: () => Date;
  readonly log: BotLog;
  readonly audit?: AuditSink;
  readonly cloud?: CloudWindow;
  /** An incident PR was merged or closed (its lockdown's shadow overlay ends). */
  readonly onPullClosed?: (marker: PrMarker) => Promise<void>;
}

export const LIFT_COMMAND = /^\/portcullis\s+lift\s*$/m;
const WRITERS = new Set(['admin', 'maintain', 'write']);

const correlation = (m: PrMarker, pr: number) => ({ incident: m.incident, ...(m.fingerprint ? { fingerprint: m.fingerprint } : {}), pr, environment: m.environment });

export class GitHubEvents {
  constructor(private readonly deps: EventDeps) {}

  async handle(event: string, p: any): Promise<string> {
    if (event === 'ping') return 'pong';
    if (event === 'pull_request_review' && p?.action === 'submitted') return this.review(p);
    if (event === 'pull_request' && p?.action === 'closed') {
      // The merge's records first: ending the shadow republishes, which waits for the merge's own sync.
      const merged = p.pull_request?.merged ? await this.merged(p) : null;
      const marker = parseMarker(p.pull_request?.body);
      if (marker) await this.deps.onPullClosed?.(marker);
      return merged ?? (marker ? 'closed: shadow ended' : 'ignored');
    }
    if (event === 'issue_comment' && p?.action === 'created' && p.issue?.pull_request && LIFT_COMMAND.test(String(p.comment?.body ?? ''))) return this.lift(p);
    return 'ignored';
  }

  private async review(p: any): Promise<string> {
    const marker = parseMarker(p.pull_request?.body);
    if (!marker) return 'ignored: not a lockdown PR';
    const r = p.review ?? {};
    await this.deps.audit?.record('review.submitted', { ...correlation(marker, p.pull_request.number), actor: r.user?.login ?? p.sender?.login, state: String(r.state ?? '').toLowerCase(), commit: r.commit_id, reviewId: r.id });
    return 'review.submitted';
  }

  private async merged(p: any): Promise<string> {
    const pr = p.pull_request;
    if (pr.base?.ref !== this.deps.repo.ref.base) return 'ignored: another base';
    const marker = parseMarker(pr.body);
    if (marker) await this.deps.audit?.record('pr.merged', { ...correlation(marker, pr.number), commit: pr.merge_commit_sha, actor: pr.merged_by?.login ?? p.sender?.login, head: pr.head?.sha });
    // Any merge may start or end a lockdown (an incident PR, a lift, a break-glass PR): if it changes AWS rules, deploy now.
    await this.deps.cloud?.scan(this.deps.now()).catch((e: Error) => this.deps.log.warn({ pr: pr.number, error: e.message }, 'cloud window scan failed'));
    return marker ? 'pr.merged' : 'merged: not a lockdown PR';
  }

  private async lift(p: any): Promise<string> {
    const { repo } = this.deps;
    const number = Number(p.issue.number);
    const login = String(p.comment?.user?.login ?? p.sender?.login ?? '');
    if (p.comment?.user?.type === 'Bot' || login.endsWith('[bot]')) return 'ignored: a bot';
    const pull = await repo.pullBody(number);
    const marker = parseMarker(pull.body);
    if (!marker) return 'ignored: not a lockdown PR';
    const permission = await repo.permissionOf(login);
    if (!WRITERS.has(permission)) {
      await repo.comment(number, `@${login}: \`/portcullis lift\` needs write permission on the repository (you have ${permission}).`);
      return 'lift refused: permission';
    }
    if (!pull.merged) {
      await repo.comment(number, `@${login}: this lockdown is not merged, so there is nothing to lift; close the PR to decline it.`);
      return 'lift refused: not merged';
    }
    const baseSha = await repo.branchHead(repo.ref.base);
    if (!baseSha) throw new Error(`base branch ${repo.ref.base} not found`);
    const change = liftChange(await repo.policyFiles(baseSha), incidentName(marker.incident), this.deps.now(), `@${login}`, repo.ref.base);
    if (typeof change === 'string') {
      await repo.comment(number, `@${login}: ${change}`);
      return 'lift refused: nothing to lift';
    }
    const pr = await proposeOnGitHub(repo, baseSha, { branch: change.branch, file: change.file, text: change.text, message: change.title, title: change.title, body: `${change.body}\nLifts #${number}.\n`, labels: ['portcullis', 'lockdown', 'lift'] });
    await repo.comment(number, `@${login}: the lift is proposed in #${pr.number} (${pr.url}); merge it to end the lockdown.`);
    if (pr.created) await this.deps.audit?.record('pr.opened', { ...correlation(marker, pr.number), actor: login, lifts: number });
    return `lift opened #${pr.number}`;
  }
}
