/**
 * Bot: what it reads from and writes to the policy repository through the GitHub API — the base
 * branch's policy files, branch heads, one file on a branch, the bot's pull requests (found by
 * head branch, state all) — with GitHub's "already exists" answers treated as found.
 */
import { isPolicyFileName, type SourceFile } from '../compiler';
import type { BotPull } from './decide';
import { messageOf, statusOf, type GitHubClient } from './github';
import { BRANCH_PREFIX, parseMarker } from './incident';

export interface RepoRef {
  readonly owner: string;
  readonly repo: string;
  /** The branch lockdowns are proposed against (the one the control server follows). */
  readonly base: string;
  /** Policy folder inside the repository. */
  readonly folder: string;
}

/** What the alert handler uses of a repository: PolicyRepo's public face without its GitHub client (bot/local-repo.ts is the git-only one). */
export type BotRepo = Omit<PolicyRepo, 'gh'>;

/* eslint-disable @typescript-eslint/no-explicit-any */
export class PolicyRepo {
  /** Blobs never change: their text is cached by sha. */
  private readonly blobs = new Map<string, string>();
  /** The last commit's policy files (the base moves rarely; every alert reads it). */
  private lastFiles: { commit: string; files: SourceFile[] } | null = null;

  constructor(readonly gh: GitHubClient, readonly ref: RepoRef) {}

  private get params() {
    return { owner: this.ref.owner, repo: this.ref.repo };
  }

  async branchHead(branch: string): Promise<string | null> {
    try {
      const r = await this.gh.request('GET /repos/{owner}/{repo}/git/ref/{ref}', { ...this.params, ref: `heads/${branch}` });
      return r.data.object.sha as string;
    } catch (e) {
      if (statusOf(e) === 404) return null;
      throw e;
    }
  }

  /** Every policy file (*.yaml, *.yml) under the folder at `commit`, paths from the repository root. */
  async policyFiles(commit: string): Promise<SourceFile[]> {
    if (this.lastFiles?.commit === commit) return this.lastFiles.files;
    const files = await this.readPolicyFiles(commit);
    this.lastFiles = { commit, files };
    return files;
  }

  private async readPolicyFiles(commit: string): Promise<SourceFile[]> {
    const tree = await this.gh.request('GET /repos/{owner}/{repo}/git/trees/{tree_sha}', { ...this.params, tree_sha: commit, recursive: '1' });
    const prefix = this.ref.folder ? `${this.ref.folder.replace(/\/+$/, '')}/` : '';
    const wanted = (tree.data.tree as any[]).filter((e) => e.type === 'blob' && e.path.startsWith(prefix) && isPolicyFileName(e.path));
    return Promise.all(wanted.map(async (e) => ({ path: e.path as string, text: await this.blob(e.sha as string) })));
  }

  private async blob(sha: string): Promise<string> {
    const known = this.blobs.get(sha);
    if (known !== undefined) return known;
    const r = await this.gh.request('GET /repos/{owner}/{repo}/git/blobs/{file_sha}', { ...this.params, file_sha: sha });
    const text = Buffer.from(r.data.content as string, 'base64').toString('utf8');
    this.blobs.set(sha, text);
    return text;
  }

  /** A file on a branch: its text and blob sha (for the next write), or null. */
  async fileOn(branch: string, path: string): Promise<{ text: string; sha: string } | null> {
    try {
      const r = await this.gh.request('GET /repos/{owner}/{repo}/contents/{path}', { ...this.params, path, ref: branch });
      if (Array.isArray(r.data) || r.data.type !== 'file') return null;
      return { text: Buffer.from(r.data.content as string, 'base64').toString('utf8'), sha: r.data.sha as string };
    } catch (e) {
      if (statusOf(e) === 404) return null;
      throw e;
    }
  }

  /** Creates `branch` at `sha`, or moves it there (force) when `reset`; an existing branch is kept otherwise. */
  async ensureBranch(branch: string, sha: string, reset: boolean): Promise<void> {
    try {
      await this.gh.request('POST /repos/{owner}/{repo}/git/refs', { ...this.params, ref: `refs/heads/${branch}`, sha });
    } catch (e) {
      if (!(statusOf(e) === 422 && /already exists/i.test(messageOf(e)))) throw e;
      if (reset) await this.gh.request('PATCH /repos/{owner}/{repo}/git/refs/{ref}', { ...this.params, ref: `heads/${branch}`, sha, force: true });
    }
  }

  /** Writes one file on a branch as one commit (`sha`: the blob being replaced; 409 when stale). */
  async writeFile(branch: string, path: string, text: string | null, message: string, sha?: string): Promise<string> {
    const route = text === null ? 'DELETE /repos/{owner}/{repo}/contents/{path}' : 'PUT /repos/{owner}/{repo}/contents/{path}';
    const content = text === null ? {} : { content: Buffer.from(text).toString('base64') };
    const r = await this.gh.request(route, { ...this.params, path, branch, message, ...content, ...(sha ? { sha } : {}) });
    return r.data.commit.sha as string;
  }

  /** Bot PRs: the recently updated ones (state all) plus those on `branches` (looked up by head, state all). */
  async botPulls(branches: readonly string[]): Promise<BotPull[]> {
    const lists = await Promise.all([
      this.gh.request('GET /repos/{owner}/{repo}/pulls', { ...this.params, state: 'all', sort: 'updated', direction: 'desc', per_page: 100 }),
      ...branches.map((b) => this.gh.request('GET /repos/{owner}/{repo}/pulls', { ...this.params, state: 'all', head: `${this.ref.owner}:${b}`, per_page: 100 })),
    ]);
    const seen = new Map<number, any>();
    for (const l of lists) for (const p of l.data as any[]) if (p.head?.ref?.startsWith(BRANCH_PREFIX)) seen.set(p.number, p);
    const out: BotPull[] = [];
    for (const p of seen.values()) {
      const marker = parseMarker(p.body);
      if (!marker) continue;
      out.push({ number: p.number, branch: p.head.ref, state: p.state, merged: Boolean(p.merged_at), closedAt: p.closed_at, mergedAt: p.merged_at, marker, commented: [] });
    }
    return out;
  }

  /** The bot's comment markers on a PR (`<!-- portcullis-... -->`). */
  async commentMarkers(issue: number): Promise<string[]> {
    const r = await this.gh.request('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', { ...this.params, issue_number: issue, per_page: 100 });
    return (r.data as any[]).flatMap((c) => (typeof c.body === 'string' ? (c.body.match(/<!-- portcullis-[a-z]+ [0-9a-f]{8} -->/g) ?? []) : []));
  }

  /** Opens a PR, or finds the open one GitHub says already exists for the head. */
  async openPull(head: string, title: string, body: string): Promise<{ number: number; url: string; created: boolean }> {
    try {
      const r = await this.gh.request('POST /repos/{owner}/{repo}/pulls', { ...this.params, head, base: this.ref.base, title, body });
      return { number: r.data.number, url: r.data.html_url, created: true };
    } catch (e) {
      if (!(statusOf(e) === 422 && /already exists/i.test(messageOf(e)))) throw e;
      const r = await this.gh.request('GET /repos/{owner}/{repo}/pulls', { ...this.params, head: `${this.ref.owner}:${head}`, state: 'open' });
      const found = (r.data as any[])[0];
      if (!found) throw e;
      return { number: found.number, url: found.html_url, created: false };
    }
  }

  async pullBody(number: number): Promise<{ body: string; url: string; headSha: string }> {
    const r = await this.gh.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', { ...this.params, pull_number: number });
    return { body: r.data.body ?? '', url: r.data.html_url, headSha: r.data.head.sha };
  }

  async updatePull(number: number, fields: { body?: string; title?: string; state?: 'closed' }): Promise<void> {
    await this.gh.request('PATCH /repos/{owner}/{repo}/pulls/{pull_number}', { ...this.params, pull_number: number, ...fields });
  }

  async comment(issue: number, body: string): Promise<void> {
    await this.gh.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', { ...this.params, issue_number: issue, body });
  }

  async addLabels(issue: number, labels: readonly string[]): Promise<void> {
    await this.gh.request('POST /repos/{owner}/{repo}/issues/{issue_number}/labels', { ...this.params, issue_number: issue, labels });
  }

  /** Users and org/team slugs; GitHub refuses some (not collaborators): logged by the caller, never fatal. */
  async requestReviewers(pull: number, reviewers: readonly string[]): Promise<void> {
    const users = reviewers.filter((r) => !r.includes('/')).map((r) => r.replace(/^@/, ''));
    const teams = reviewers.filter((r) => r.includes('/')).map((r) => r.split('/')[1]!);
    if (!users.length && !teams.length) return;
    await this.gh.request('POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers', { ...this.params, pull_number: pull, reviewers: users, team_reviewers: teams });
  }
}
