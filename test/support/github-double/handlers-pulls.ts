/**
 * GitHub double: pull requests, reviews, issue comments, labels and App
 * installation tokens, with GitHub's refusals (422 "A pull request already exists", 405 for a
 * closed or conflicting merge, 409 for a stale head sha, 422 for approving one's own PR).
 */
import { randomBytes } from 'node:crypto';
import { errorBody, issueComment, label, pullRequest, review, user, type Pull } from './objects';
import type { Call, Reply } from './server';

type Handler = (c: Call) => Reply;

const notFound = (): Reply => ({ status: 404, body: errorBody(404, 'Not Found') });
const failed = (errors: Record<string, unknown>[]): Reply => ({ status: 422, body: errorBody(422, 'Validation Failed', errors) });

function pullOf(c: Call): Pull | undefined {
  return c.gh.pulls.get(Number(c.op.params.pull_number ?? c.op.params.issue_number));
}

const full = (c: Call, p: Pull) => pullRequest(c.gh.site, p, c.gh.repository(), true);

/** `owner:branch` or `branch` → branch (only this repository's owner: no forks in the double). */
function headBranch(c: Call, head: string): string | null {
  const [owner, branch] = head.includes(':') ? head.split(':', 2) : [c.gh.site.owner, head];
  return owner?.toLowerCase() === c.gh.site.owner.toLowerCase() ? (branch ?? null) : null;
}

const createPull: Handler = (c) => {
  const { title, head, base, body, draft } = c.body as { title?: string; head: string; base: string; body?: string; draft?: boolean };
  const branch = headBranch(c, head);
  const headSha = branch ? c.gh.git.resolve(`heads/${branch}`) : null;
  if (!branch || !headSha) return failed([{ resource: 'PullRequest', field: 'head', code: 'invalid' }]);
  const baseSha = c.gh.git.resolve(`heads/${base}`);
  if (!baseSha) return failed([{ resource: 'PullRequest', field: 'base', code: 'invalid' }]);
  if (!title) return failed([{ resource: 'PullRequest', field: 'title', code: 'missing_field' }]);
  if ([...c.gh.pulls.values()].some((p) => p.state === 'open' && p.head === branch && p.base === base)) {
    return failed([{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${c.gh.site.owner}:${branch}.` }]);
  }
  if (c.gh.git.isAncestor(headSha, baseSha)) return failed([{ resource: 'PullRequest', code: 'custom', message: `No commits between ${base} and ${branch}` }]);
  const now = c.gh.now();
  const number = c.gh.issueNumber();
  const pull: Pull = {
    number, id: 9000 + number, title, body: body ?? null, state: 'open', head: branch, headSha, base, baseSha, user: c.login,
    labels: [], reviewers: [], teams: [], merged: false, mergedBy: null, mergeCommit: null,
    createdAt: now, updatedAt: now, closedAt: null, mergedAt: null, draft: draft ?? false,
  };
  c.gh.pulls.set(number, pull);
  c.gh.emit('pull_request', { action: 'opened', number }, pull, c.login);
  return { status: 201, body: full(c, pull) };
};

const listPulls: Handler = (c) => {
  const state = (c.query.state as string | undefined) ?? 'open';
  const head = c.query.head as string | undefined;
  const branch = head ? headBranch(c, head) : undefined;
  const perPage = Number(c.query.per_page ?? 30);
  const page = Number(c.query.page ?? 1);
  const asc = c.query.direction === 'asc';
  const pulls = [...c.gh.pulls.values()]
    .filter((p) => state === 'all' || p.state === state)
    .filter((p) => head === undefined || p.head === branch)
    .filter((p) => c.query.base === undefined || p.base === c.query.base)
    .sort((a, b) => (asc ? a.number - b.number : b.number - a.number));
  const slice = pulls.slice((page - 1) * perPage, page * perPage);
  return { status: 200, body: slice.map((p) => pullRequest(c.gh.site, p, c.gh.repository(), false)) };
};

const updatePull: Handler = (c) => {
  const p = pullOf(c);
  if (!p) return notFound();
  const { title, body, state } = c.body as { title?: string; body?: string; state?: 'open' | 'closed' };
  if (state === 'open' && p.state === 'closed') {
    if (p.merged) return failed([{ resource: 'PullRequest', code: 'custom', message: 'state cannot be changed. The pull request has been merged.' }]);
    if (!c.gh.git.resolve(`heads/${p.head}`)) return failed([{ resource: 'PullRequest', code: 'custom', message: 'state cannot be changed. The head branch was deleted.' }]);
  }
  if (title !== undefined) p.title = title;
  if (body !== undefined) p.body = body;
  const now = c.gh.now();
  p.updatedAt = now;
  if (state && state !== p.state) {
    p.state = state;
    p.closedAt = state === 'closed' ? now : null;
    c.gh.emit('pull_request', { action: state === 'closed' ? 'closed' : 'reopened', number: p.number }, p, c.login);
  } else if (title !== undefined || body !== undefined) {
    c.gh.emit('pull_request', { action: 'edited', number: p.number, changes: {} }, p, c.login);
  }
  return { status: 200, body: full(c, p) };
};

const mergePull: Handler = (c) => {
  const p = pullOf(c);
  if (!p) return notFound();
  const { sha, commit_title, merge_method = 'merge' } = (c.body ?? {}) as { sha?: string; commit_title?: string; merge_method?: string };
  if (p.state !== 'open') return { status: 405, body: errorBody(405, 'Pull Request is not mergeable') };
  if (sha && sha !== p.headSha) return { status: 409, body: errorBody(409, 'Head branch was modified. Review and try the merge again.') };
  const base = c.gh.git.resolve(`heads/${p.base}`)!;
  const message = commit_title ?? `Merge pull request #${p.number} from ${c.gh.site.owner}/${p.head}`;
  const merged = c.gh.git.merge(base, p.headSha, `${message}\n\n${p.title}\n`, c.gh.person(c.login));
  if (!merged) return { status: 405, body: errorBody(405, 'Merge conflict') };
  const commit = merge_method === 'squash' ? c.gh.git.commitTree(c.gh.git.commit(merged).tree, [base], `${p.title} (#${p.number})`, c.gh.person(c.login)) : merged;
  if (!c.gh.git.casRef(`heads/${p.base}`, commit, base)) return { status: 409, body: errorBody(409, 'Base branch was modified. Review and try the merge again.') };
  const now = c.gh.now();
  Object.assign(p, { state: 'closed', merged: true, mergedBy: c.login, mergeCommit: commit, mergedAt: now, closedAt: now, updatedAt: now });
  c.gh.announcePush(p.base, base, commit, c.login);
  c.gh.emit('pull_request', { action: 'closed', number: p.number }, p, c.login);
  return { status: 200, body: { sha: commit, merged: true, message: 'Pull Request successfully merged' } };
};

const requestReviewers: Handler = (c) => {
  const p = pullOf(c);
  if (!p) return notFound();
  const { reviewers = [], team_reviewers = [] } = c.body as { reviewers?: string[]; team_reviewers?: string[] };
  if (reviewers.includes(p.user)) return failed([{ resource: 'PullRequest', code: 'custom', message: 'Review cannot be requested from pull request author.' }]);
  p.reviewers = [...new Set([...p.reviewers, ...reviewers])];
  p.teams = [...new Set([...p.teams, ...team_reviewers])];
  return { status: 201, body: pullRequest(c.gh.site, p, c.gh.repository(), false) };
};

const EVENTS = { APPROVE: 'APPROVED', REQUEST_CHANGES: 'CHANGES_REQUESTED', COMMENT: 'COMMENTED' } as const;

const createReview: Handler = (c) => {
  const p = pullOf(c);
  if (!p) return notFound();
  const { event, body = '' } = c.body as { event?: keyof typeof EVENTS; body?: string };
  if (!event) return failed([{ resource: 'PullRequestReview', field: 'event', code: 'missing_field' }]);
  if (event === 'APPROVE' && c.login === p.user) return { status: 422, body: errorBody(422, 'Unprocessable Entity', ['Can not approve your own pull request'] as never) };
  const r = { id: c.gh.id(), pull: p.number, user: c.login, state: EVENTS[event], body, commit: p.headSha, submittedAt: c.gh.now() };
  c.gh.reviews.push(r);
  c.gh.emit('pull_request_review', { action: 'submitted', review: review(c.gh.site, r) }, p, c.login);
  return { status: 200, body: review(c.gh.site, r) };
};

const addLabels: Handler = (c) => {
  const p = pullOf(c);
  if (!p) return notFound();
  const given = c.body as string[] | { labels?: (string | { name: string })[] };
  const names = (Array.isArray(given) ? given : (given.labels ?? [])).map((l) => (typeof l === 'string' ? l : l.name));
  p.labels = [...new Set([...p.labels, ...names])];
  return { status: 200, body: p.labels.map((l) => label(c.gh.site, l)) };
};

const createComment: Handler = (c) => {
  const p = pullOf(c);
  if (!p) return notFound();
  const now = c.gh.now();
  const comment = { id: c.gh.id(), issue: p.number, body: (c.body as { body: string }).body, user: c.login, createdAt: now, updatedAt: now };
  c.gh.comments.set(comment.id, comment);
  const issue = { number: p.number, title: p.title, state: p.state, pull_request: { url: `${c.gh.url}/repos/${c.gh.site.owner}/${c.gh.site.repo}/pulls/${p.number}` }, user: user(c.gh.site, p.user) };
  c.gh.send('issue_comment', { action: 'created', issue, comment: issueComment(c.gh.site, comment), repository: c.gh.repository(), sender: user(c.gh.site, c.login) });
  return { status: 201, body: issueComment(c.gh.site, comment) };
};

const listComments: Handler = (c) => {
  const p = pullOf(c);
  if (!p) return notFound();
  const perPage = Number(c.query.per_page ?? 30);
  const page = Number(c.query.page ?? 1);
  const all = [...c.gh.comments.values()].filter((x) => x.issue === p.number);
  return { status: 200, body: all.slice((page - 1) * perPage, page * perPage).map((x) => issueComment(c.gh.site, x)) };
};

const updateComment: Handler = (c) => {
  const comment = c.gh.comments.get(Number(c.op.params.comment_id));
  if (!comment) return notFound();
  comment.body = (c.body as { body: string }).body;
  comment.updatedAt = c.gh.now();
  return { status: 200, body: issueComment(c.gh.site, comment) };
};

const installation: Handler = (c) => {
  const app = c.gh.options.app;
  if (!app) return notFound();
  const owner = user(c.gh.site, c.gh.site.owner);
  return {
    status: 200,
    body: {
      id: app.installationId, app_id: app.id, app_slug: app.slug, target_id: owner.id, target_type: 'Organization', account: owner,
      single_file_name: null, repository_selection: 'selected', access_tokens_url: `${c.gh.url}/app/installations/${app.installationId}/access_tokens`,
      html_url: `https://github.com/organizations/${c.gh.site.owner}/settings/installations/${app.installationId}`,
      repositories_url: `${c.gh.url}/installation/repositories`, events: ['pull_request', 'issue_comment'],
      permissions: { contents: 'write', pull_requests: 'write', statuses: 'write' }, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z',
      suspended_by: null, suspended_at: null,
    },
  };
};

const accessToken: Handler = (c) => {
  const app = c.gh.options.app;
  if (!app || Number(c.op.params.installation_id) !== app.installationId) return notFound();
  const token = `ghs_${randomBytes(18).toString('hex')}`;
  c.gh.tokens.set(token, `${app.slug}[bot]`);
  return { status: 201, body: { token, expires_at: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'), permissions: { contents: 'write', pull_requests: 'write' }, repository_selection: 'selected' } };
};

export const PULL_HANDLERS: Record<string, Handler> = {
  'pulls/create': createPull,
  'pulls/list': listPulls,
  'pulls/get': (c) => {
    const p = pullOf(c);
    return p ? { status: 200, body: full(c, p) } : notFound();
  },
  'pulls/update': updatePull,
  'pulls/merge': mergePull,
  'pulls/request-reviewers': requestReviewers,
  'pulls/create-review': createReview,
  'pulls/list-reviews': (c) => ({ status: 200, body: c.gh.reviews.filter((r) => r.pull === Number(c.op.params.pull_number)).map((r) => review(c.gh.site, r)) }),
  'issues/add-labels': addLabels,
  'issues/create-comment': createComment,
  'issues/list-comments': listComments,
  'issues/update-comment': updateComment,
  'apps/get-repo-installation': installation,
  'apps/create-installation-access-token': accessToken,
};
