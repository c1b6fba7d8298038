/**
 * GitHub double: the JSON objects GitHub returns (users, repositories, pull requests, comments,
 * reviews, statuses, refs), built from the double's state in the shapes of GitHub's OpenAPI
 * description; the server checks every one against it before sending.
 */
import type { CommitInfo } from './git-store';

type Json = Record<string, unknown>;

export interface Site {
  /** API base, e.g. http://127.0.0.1:PORT */
  readonly api: string;
  readonly owner: string;
  readonly repo: string;
  readonly repoId: number;
}

export interface Pull {
  readonly number: number;
  readonly id: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  readonly head: string;
  headSha: string;
  readonly base: string;
  baseSha: string;
  readonly user: string;
  labels: string[];
  reviewers: string[];
  teams: string[];
  merged: boolean;
  mergedBy: string | null;
  mergeCommit: string | null;
  readonly createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  mergedAt: string | null;
  draft: boolean;
}

export interface Comment {
  readonly id: number;
  readonly issue: number;
  body: string;
  readonly user: string;
  readonly createdAt: string;
  updatedAt: string;
}

export interface Review {
  readonly id: number;
  readonly pull: number;
  readonly user: string;
  readonly state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED';
  readonly body: string;
  readonly commit: string;
  readonly submittedAt: string;
}

export interface Status {
  readonly id: number;
  readonly sha: string;
  readonly state: 'error' | 'failure' | 'pending' | 'success';
  readonly context: string;
  readonly description: string | null;
  readonly targetUrl: string | null;
  readonly creator: string;
  readonly createdAt: string;
}

const html = (s: Site) => `https://github.com/${s.owner}/${s.repo}`;
const repoApi = (s: Site) => `${s.api}/repos/${s.owner}/${s.repo}`;

/** A stable numeric id for a login (bots included). */
export function userId(login: string): number {
  let h = 7;
  for (const c of login) h = (h * 31 + c.charCodeAt(0)) % 1_000_000;
  return 1000 + h;
}

export function user(s: Site, login: string): Json {
  const url = `${s.api}/users/${encodeURIComponent(login)}`;
  return {
    login,
    id: userId(login),
    node_id: `U_${userId(login)}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${userId(login)}`,
    gravatar_id: '',
    url,
    html_url: `https://github.com/${encodeURIComponent(login)}`,
    followers_url: `${url}/followers`,
    following_url: `${url}/following{/other_user}`,
    gists_url: `${url}/gists{/gist_id}`,
    starred_url: `${url}/starred{/owner}{/repo}`,
    subscriptions_url: `${url}/subscriptions`,
    organizations_url: `${url}/orgs`,
    repos_url: `${url}/repos`,
    events_url: `${url}/events{/privacy}`,
    received_events_url: `${url}/received_events`,
    type: login.endsWith('[bot]') ? 'Bot' : 'User',
    site_admin: false,
  };
}

const URL_FIELDS = [
  'archive', 'assignees', 'blobs', 'branches', 'collaborators', 'comments', 'commits', 'compare', 'contents', 'contributors',
  'deployments', 'downloads', 'events', 'forks', 'git_commits', 'git_refs', 'git_tags', 'hooks', 'issue_comment', 'issue_events',
  'issues', 'keys', 'labels', 'languages', 'merges', 'milestones', 'notifications', 'pulls', 'releases', 'stargazers', 'statuses',
  'subscribers', 'subscription', 'tags', 'teams', 'trees',
];

/** The `full-repository` shape (a superset of `repository`), as repos/get and webhooks carry it. */
export function repository(s: Site, defaultBranch: string, pushedAt: string): Json {
  const api = repoApi(s);
  return {
    id: s.repoId,
    node_id: `R_${s.repoId}`,
    name: s.repo,
    full_name: `${s.owner}/${s.repo}`,
    owner: user(s, s.owner),
    private: true,
    html_url: html(s),
    description: 'policy repository (GitHub double)',
    fork: false,
    url: api,
    ...Object.fromEntries(URL_FIELDS.map((f) => [`${f}_url`, `${api}/${f.replace('_', '/')}`])),
    git_url: `git://github.com/${s.owner}/${s.repo}.git`,
    ssh_url: `git@github.com:${s.owner}/${s.repo}.git`,
    clone_url: `${html(s)}.git`,
    svn_url: html(s),
    mirror_url: null,
    homepage: null,
    language: 'TypeScript',
    forks: 0,
    forks_count: 0,
    stargazers_count: 0,
    watchers: 0,
    watchers_count: 0,
    size: 1,
    default_branch: defaultBranch,
    open_issues: 0,
    open_issues_count: 0,
    has_issues: true,
    has_projects: false,
    has_wiki: false,
    has_pages: false,
    has_downloads: false,
    has_discussions: false,
    archived: false,
    disabled: false,
    license: null,
    pushed_at: pushedAt,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: pushedAt,
    network_count: 0,
    subscribers_count: 0,
    allow_merge_commit: true,
    allow_squash_merge: true,
    allow_rebase_merge: true,
    visibility: 'private',
  };
}

export function label(s: Site, name: string): Json {
  return { id: userId(`label:${name}`), node_id: `LA_${userId(name)}`, url: `${repoApi(s)}/labels/${encodeURIComponent(name)}`, name, description: '', color: 'b60205', default: false };
}

function branchEnd(s: Site, ref: string, sha: string, repo: Json): Json {
  return { label: `${s.owner}:${ref}`, ref, sha, user: user(s, s.owner), repo };
}

/** `pull-request` (full: true, pulls/get, create, update) or `pull-request-simple` (pulls/list). */
export function pullRequest(s: Site, p: Pull, repo: Json, full: boolean): Json {
  const api = `${repoApi(s)}/pulls/${p.number}`;
  const issue = `${repoApi(s)}/issues/${p.number}`;
  const link = (href: string) => ({ href });
  const simple: Json = {
    url: api,
    id: p.id,
    node_id: `PR_${p.id}`,
    html_url: `${html(s)}/pull/${p.number}`,
    diff_url: `${html(s)}/pull/${p.number}.diff`,
    patch_url: `${html(s)}/pull/${p.number}.patch`,
    issue_url: issue,
    commits_url: `${api}/commits`,
    review_comments_url: `${api}/comments`,
    review_comment_url: `${repoApi(s)}/pulls/comments{/number}`,
    comments_url: `${issue}/comments`,
    statuses_url: `${repoApi(s)}/statuses/${p.headSha}`,
    number: p.number,
    state: p.state,
    locked: false,
    title: p.title,
    user: user(s, p.user),
    body: p.body,
    labels: p.labels.map((l) => label(s, l)),
    milestone: null,
    active_lock_reason: null,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
    closed_at: p.closedAt,
    merged_at: p.mergedAt,
    merge_commit_sha: p.mergeCommit,
    assignee: null,
    assignees: [],
    requested_reviewers: p.reviewers.map((r) => user(s, r)),
    requested_teams: [],
    head: branchEnd(s, p.head, p.headSha, repo),
    base: branchEnd(s, p.base, p.baseSha, repo),
    _links: {
      self: link(api),
      html: link(`${html(s)}/pull/${p.number}`),
      issue: link(issue),
      comments: link(`${issue}/comments`),
      review_comments: link(`${api}/comments`),
      review_comment: link(`${repoApi(s)}/pulls/comments{/number}`),
      commits: link(`${api}/commits`),
      statuses: link(`${repoApi(s)}/statuses/${p.headSha}`),
    },
    author_association: 'NONE',
    auto_merge: null,
    draft: p.draft,
  };
  if (!full) return simple;
  return {
    ...simple,
    merged: p.merged,
    mergeable: p.state === 'open' ? true : null,
    rebaseable: null,
    mergeable_state: p.state === 'open' ? 'clean' : 'unknown',
    merged_by: p.mergedBy ? user(s, p.mergedBy) : null,
    comments: 0,
    review_comments: 0,
    maintainer_can_modify: false,
    commits: 1,
    additions: 0,
    deletions: 0,
    changed_files: 1,
  };
}

export function issueComment(s: Site, c: Comment): Json {
  return {
    id: c.id,
    node_id: `IC_${c.id}`,
    url: `${repoApi(s)}/issues/comments/${c.id}`,
    html_url: `${html(s)}/pull/${c.issue}#issuecomment-${c.id}`,
    body: c.body,
    user: user(s, c.user),
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    issue_url: `${repoApi(s)}/issues/${c.issue}`,
    author_association: 'NONE',
  };
}

export function review(s: Site, r: Review): Json {
  const pr = `${repoApi(s)}/pulls/${r.pull}`;
  return {
    id: r.id,
    node_id: `PRR_${r.id}`,
    user: user(s, r.user),
    body: r.body,
    state: r.state,
    html_url: `${html(s)}/pull/${r.pull}#pullrequestreview-${r.id}`,
    pull_request_url: pr,
    _links: { html: { href: `${html(s)}/pull/${r.pull}#pullrequestreview-${r.id}` }, pull_request: { href: pr } },
    submitted_at: r.submittedAt,
    commit_id: r.commit,
    author_association: 'COLLABORATOR',
  };
}

export function status(s: Site, st: Status): Json {
  return {
    url: `${repoApi(s)}/statuses/${st.sha}`,
    avatar_url: null,
    id: st.id,
    node_id: `SC_${st.id}`,
    state: st.state,
    description: st.description,
    target_url: st.targetUrl,
    context: st.context,
    created_at: st.createdAt,
    updated_at: st.createdAt,
    creator: user(s, st.creator),
  };
}

export function gitRef(s: Site, ref: string, sha: string): Json {
  return { ref, node_id: `REF_${sha.slice(0, 8)}`, url: `${repoApi(s)}/git/${ref}`, object: { type: 'commit', sha, url: `${repoApi(s)}/git/commits/${sha}` } };
}

export function gitCommit(s: Site, c: CommitInfo): Json {
  return {
    sha: c.sha,
    node_id: `C_${c.sha.slice(0, 8)}`,
    url: `${repoApi(s)}/git/commits/${c.sha}`,
    html_url: `${html(s)}/commit/${c.sha}`,
    author: c.author,
    committer: c.committer,
    tree: { sha: c.tree, url: `${repoApi(s)}/git/trees/${c.tree}` },
    message: c.message.replace(/\n$/, ''),
    parents: c.parents.map((p) => ({ sha: p, url: `${repoApi(s)}/git/commits/${p}`, html_url: `${html(s)}/commit/${p}` })),
    verification: { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null },
  };
}

export function contentFile(s: Site, file: string, sha: string, content: Buffer | null, ref: string): Json {
  const url = `${repoApi(s)}/contents/${file}?ref=${ref}`;
  const name = file.split('/').pop() ?? file;
  return {
    type: 'file',
    name,
    path: file,
    sha,
    size: content?.length ?? 0,
    url,
    html_url: `${html(s)}/blob/${ref}/${file}`,
    git_url: `${repoApi(s)}/git/blobs/${sha}`,
    download_url: `https://raw.githubusercontent.com/${s.owner}/${s.repo}/${ref}/${file}`,
    ...(content ? { content: content.toString('base64'), encoding: 'base64' } : {}),
    _links: { self: url, git: `${repoApi(s)}/git/blobs/${sha}`, html: `${html(s)}/blob/${ref}/${file}` },
  };
}

/** The error shape every failing call answers with (`basic-error` / `validation-error`). */
export function errorBody(status: number, message: string, errors?: readonly Json[], doc = 'https://docs.github.com/rest'): Json {
  return { message, documentation_url: doc, ...(errors ? { errors } : {}), status: String(status) };
}
