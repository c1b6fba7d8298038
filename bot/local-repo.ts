/**
 * Bot, local mode (`portcullis bot --local-repo DIR`, the `npm start` demo): what the handler needs
 * from the policy repository, over a local git checkout instead of GitHub. A "pull request" is a
 * branch under portcullis/lockdown/ plus a record in the bot's work dir (title, body with the
 * incident marker, labels, comments; the body also as <work-dir>/pulls/<n>.md for people to read).
 * It is merged when its head is reachable from the base branch (the user ran `git merge`), closed
 * when its branch was deleted unmerged. Git plumbing only: the work tree, the index and the
 * checked-out branch are never touched.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { isPolicyFileName, type SourceFile } from '../compiler';
import type { BotPull } from './decide';
import { BRANCH_PREFIX, parseMarker } from './incident';
import { commitFileOn, git, ZERO_SHA } from './local-branch';
import type { BotRepo, CommitState, RepoRef } from './repo';

interface LocalPull {
  readonly number: number;
  readonly branch: string;
  /** The base branch's head when it was opened: a branch still there is not "merged". */
  readonly openedAt: string;
  readonly openedOn: string;
  title: string;
  body: string;
  labels: string[];
  reviewers: string[];
  comments: string[];
  state: 'open' | 'closed';
  merged: boolean;
  closedAt: string | null;
  mergedAt: string | null;
  /** The branch head last seen (to tell "merged, then deleted" from "deleted unmerged"). */
  head: string;
  /** Commit statuses on its head by context (what GitHub would show beside the PR). */
  statuses?: Record<string, string>;
}

interface State {
  next: number;
  pulls: LocalPull[];
}

/** A failed write the way the GitHub client reports one (the handler reads `status`). */
function conflict(message: string): Error {
  return Object.assign(new Error(message), { status: 409 });
}

export class LocalPolicyRepo implements BotRepo {
  private readonly blobs = new Map<string, string>();
  private lastFiles: { commit: string; files: SourceFile[] } | null = null;
  private saving: Promise<void> = Promise.resolve();
  /**
   * Branches ensured but not yet written: created with their first commit, so a branch never shows
   * up (to a user, or to `demo:attack`) pointing at the base with the lockdown not in it yet.
   */
  private readonly pending = new Map<string, string>();

  private constructor(
    /** The checkout (or bare repository) lockdown branches are created in. */
    readonly dir: string,
    readonly ref: RepoRef,
    private readonly stateDir: string,
    private readonly state: State,
    private readonly now: () => Date,
  ) {}

  /** Opens `dir` (must be a git repository with `base`); pull records live in `stateDir`. */
  static async open(dir: string, o: { base: string; folder: string; stateDir: string; now?: () => Date }): Promise<LocalPolicyRepo> {
    await git(dir, ['rev-parse', '--git-dir']).catch((e: Error) => {
      throw new Error(`--local-repo ${dir}: not a git repository (${e.message.split('\n')[0]})`);
    });
    const ref: RepoRef = { owner: 'local', repo: path.basename(path.resolve(dir)), base: o.base, folder: o.folder };
    await mkdir(path.join(o.stateDir, 'pulls'), { recursive: true });
    const text = await readFile(path.join(o.stateDir, 'local-pulls.json'), 'utf8').catch(() => null);
    const state = text ? (JSON.parse(text) as State) : { next: 1, pulls: [] };
    const repo = new LocalPolicyRepo(dir, ref, o.stateDir, state, o.now ?? (() => new Date()));
    if (!(await repo.branchHead(o.base))) throw new Error(`--local-repo ${dir}: branch ${o.base} not found`);
    return repo;
  }

  /** Where a pull's title and body can be read. */
  pullFile(number: number): string {
    return path.join(this.stateDir, 'pulls', `${number}.md`);
  }

  private save(p?: LocalPull): Promise<void> {
    this.saving = this.saving.then(async () => {
      const file = path.join(this.stateDir, 'local-pulls.json');
      await writeFile(`${file}.tmp`, JSON.stringify(this.state, null, 1));
      await rename(`${file}.tmp`, file);
      if (p) await writeFile(this.pullFile(p.number), [`# ${p.title}`, '', `branch: ${p.branch} (${p.state}${p.merged ? ', merged' : ''})`, ...Object.entries(p.statuses ?? {}).map(([c, v]) => `status ${c}: ${v}`), '', p.body, ...p.comments.map((c) => `\n---\n${c}`), ''].join('\n'));
    });
    return this.saving;
  }

  private pull(number: number): LocalPull {
    const p = this.state.pulls.find((x) => x.number === number);
    if (!p) throw Object.assign(new Error(`local pull #${number} not found`), { status: 404 });
    return p;
  }

  async branchHead(branch: string): Promise<string | null> {
    return (await this.refHead(branch)) ?? this.pending.get(branch) ?? null;
  }

  private refHead(branch: string): Promise<string | null> {
    return git(this.dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`]).catch(() => null);
  }

  async policyFiles(commit: string): Promise<SourceFile[]> {
    if (this.lastFiles?.commit === commit) return this.lastFiles.files;
    const folder = this.ref.folder.replace(/\/+$/, '');
    const listing = await git(this.dir, ['ls-tree', '-r', '-z', commit, '--', ...(folder ? [folder] : [])]);
    const entries = listing.split('\0').filter(Boolean).map((line) => {
      const [meta, file] = line.split('\t') as [string, string];
      const [, type, sha] = meta.split(' ') as [string, string, string];
      return { type, sha, file };
    });
    const wanted = entries.filter((e) => e.type === 'blob' && isPolicyFileName(e.file));
    const files = await Promise.all(wanted.map(async (e) => ({ path: e.file, text: await this.blob(e.sha) })));
    this.lastFiles = { commit, files };
    return files;
  }

  private async blob(sha: string): Promise<string> {
    const known = this.blobs.get(sha);
    if (known !== undefined) return known;
    const text = await git(this.dir, ['cat-file', 'blob', sha], { raw: true });
    this.blobs.set(sha, text);
    return text;
  }

  async fileOn(branch: string, file: string): Promise<{ text: string; sha: string } | null> {
    const head = await this.branchHead(branch);
    const line = head ? await git(this.dir, ['ls-tree', head, '--', file]).catch(() => '') : '';
    const m = /^\d+ blob ([0-9a-f]+)\t/.exec(line);
    if (!m) return null;
    return { text: await this.blob(m[1]!), sha: m[1]! };
  }

  async ensureBranch(branch: string, sha: string, reset: boolean): Promise<boolean> {
    const head = await this.refHead(branch);
    if (head === null) {
      const created = !this.pending.has(branch);
      if (reset || created) this.pending.set(branch, sha);
      return created;
    }
    if (reset && head !== sha) await git(this.dir, ['update-ref', `refs/heads/${branch}`, sha, head]);
    return false;
  }

  async writeFile(branch: string, file: string, text: string | null, message: string, sha?: string): Promise<string> {
    const head = await this.branchHead(branch);
    if (!head) throw Object.assign(new Error(`branch ${branch} not found`), { status: 404 });
    if (sha !== undefined && (await this.fileOn(branch, file))?.sha !== sha) throw conflict(`${file} on ${branch} changed since it was read`);
    const commit = await commitFileOn(this.dir, head, file, text, message);
    // Compare-and-swap on the head read above (all zeros: the branch is created now): a concurrent writer makes this fail, not vanish.
    const old = (await this.refHead(branch)) === null ? ZERO_SHA : head;
    await git(this.dir, ['update-ref', `refs/heads/${branch}`, commit, old]).catch((e: Error) => {
      throw conflict(`${branch} moved while writing ${file}: ${e.message.split('\n')[0]}`);
    });
    this.pending.delete(branch);
    const open = this.state.pulls.find((p) => p.branch === branch && p.state === 'open');
    if (open) {
      open.head = commit;
      await this.save();
    }
    return commit;
  }

  /** Brings a record up to date with git: merged into the base, or its branch deleted. */
  private async refresh(p: LocalPull, baseHead: string): Promise<boolean> {
    if (p.state === 'closed') return false;
    const head = (await this.branchHead(p.branch)) ?? p.head;
    const reachable = head !== p.openedOn && (await git(this.dir, ['merge-base', '--is-ancestor', head, baseHead]).then(() => true, () => false));
    const when = this.now().toISOString();
    if (reachable) Object.assign(p, { head, state: 'closed', merged: true, closedAt: when, mergedAt: when });
    else if (!(await this.refHead(p.branch))) Object.assign(p, { state: 'closed', closedAt: when });
    else if (head !== p.head) p.head = head;
    else return false;
    return true;
  }

  async botPulls(branches: readonly string[]): Promise<BotPull[]> {
    void branches; // every record is read: there are few, and they are local
    const baseHead = await this.branchHead(this.ref.base);
    const out: BotPull[] = [];
    for (const p of this.state.pulls) {
      if (!p.branch.startsWith(BRANCH_PREFIX)) continue;
      if (baseHead && (await this.refresh(p, baseHead))) await this.save(p);
      const marker = parseMarker(p.body);
      if (marker) out.push({ number: p.number, branch: p.branch, state: p.state, merged: p.merged, closedAt: p.closedAt, mergedAt: p.mergedAt, marker, commented: [] });
    }
    return out;
  }

  async commentMarkers(issue: number): Promise<string[]> {
    return this.pull(issue).comments.flatMap((c) => c.match(/<!-- portcullis-[a-z]+ [0-9a-f]{8} -->/g) ?? []);
  }

  async openPull(head: string, title: string, body: string): Promise<{ number: number; url: string; created: boolean }> {
    const existing = this.state.pulls.find((p) => p.branch === head && p.state === 'open');
    if (existing) return { number: existing.number, url: this.pullFile(existing.number), created: false };
    const branchHead = await this.branchHead(head);
    if (!branchHead) throw Object.assign(new Error(`branch ${head} not found`), { status: 422 });
    const openedOn = (await this.branchHead(this.ref.base))!;
    const p: LocalPull = { number: this.state.next++, branch: head, openedAt: this.now().toISOString(), openedOn, title, body, labels: [], reviewers: [], comments: [], state: 'open', merged: false, closedAt: null, mergedAt: null, head: branchHead };
    this.state.pulls.push(p);
    await this.save(p);
    return { number: p.number, url: this.pullFile(p.number), created: true };
  }

  async pullBody(number: number): Promise<{ body: string; url: string; headSha: string; merged: boolean }> {
    const p = this.pull(number);
    return { body: p.body, url: this.pullFile(number), headSha: (await this.branchHead(p.branch)) ?? p.head, merged: p.merged };
  }

  async openPullsOn(branch: string): Promise<{ number: number; url: string }[]> {
    return this.state.pulls.filter((p) => p.branch === branch && p.state === 'open').map((p) => ({ number: p.number, url: this.pullFile(p.number) }));
  }

  /** Kept on the open proposal whose head is `sha` and shown in its pulls/<n>.md. */
  async setStatus(sha: string, status: { state: CommitState; context: string; description: string; targetUrl?: string }): Promise<void> {
    const p = this.state.pulls.find((x) => x.state === 'open' && x.head === sha);
    if (!p) return;
    p.statuses = { ...p.statuses, [status.context]: `${status.state}: ${status.description}` };
    await this.save(p);
  }

  /** Whoever runs the bot on their own checkout owns it. */
  async permissionOf(login: string): Promise<string> {
    void login;
    return 'admin';
  }

  async dispatchWorkflow(workflow: string, ref: string): Promise<void> {
    throw new Error(`cannot dispatch ${workflow} on ${ref}: workflows run on GitHub, not in local mode`);
  }

  async updatePull(number: number, fields: { body?: string; title?: string; state?: 'closed' }): Promise<void> {
    const p = this.pull(number);
    if (fields.body !== undefined) p.body = fields.body;
    if (fields.title !== undefined) p.title = fields.title;
    if (fields.state === 'closed' && p.state === 'open') {
      // Closing a local proposal deletes its branch (that is also how a person closes one).
      const head = await this.refHead(p.branch);
      if (head) await git(this.dir, ['update-ref', '-d', `refs/heads/${p.branch}`, head]);
      this.pending.delete(p.branch);
      Object.assign(p, { state: 'closed', closedAt: this.now().toISOString() });
    }
    await this.save(p);
  }

  async comment(issue: number, body: string): Promise<void> {
    const p = this.pull(issue);
    p.comments.push(body);
    await this.save(p);
  }

  async addLabels(issue: number, labels: readonly string[]): Promise<void> {
    const p = this.pull(issue);
    p.labels = [...new Set([...p.labels, ...labels])];
    await this.save(p);
  }

  async requestReviewers(pull: number, reviewers: readonly string[]): Promise<void> {
    const p = this.pull(pull);
    p.reviewers = [...new Set([...p.reviewers, ...reviewers])];
    await this.save(p);
  }
}
