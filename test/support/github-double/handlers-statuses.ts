/**
 * GitHub double: commit statuses — create, list for a ref (newest first), and the combined status
 * (the latest per context; failure if any failed or errored, pending if any is pending or there is
 * none, else success), as GitHub computes it.
 */
import { errorBody, repository, status, type Status } from './objects';
import type { Call, Reply } from './server';

type Handler = (c: Call) => Reply;

/** A ref of the statuses API (sha, branch or tag) → commit sha, or null. */
function commitOf(c: Call): string | null {
  const ref = c.op.params.ref ?? '';
  if (/^[0-9a-f]{40}$/.test(ref)) return c.gh.git.exists(ref, 'commit') ? ref : null;
  return c.gh.git.resolve(`heads/${ref}`) ?? c.gh.git.resolve(`tags/${ref}`);
}

const noCommit = (c: Call): Reply => ({ status: 422, body: errorBody(422, `No commit found for SHA: ${c.op.params.ref ?? ''}`) });

const createStatus: Handler = (c) => {
  const sha = c.op.params.sha ?? '';
  if (!c.gh.git.exists(sha, 'commit')) return { status: 422, body: errorBody(422, 'Validation Failed', [{ resource: 'Status', field: 'sha', code: 'invalid' }]) };
  const { state, target_url = null, description = null, context = 'default' } = c.body as { state: Status['state']; target_url?: string | null; description?: string | null; context?: string };
  const st = { id: c.gh.id(), sha, state, targetUrl: target_url, description, context, creator: c.login, createdAt: c.gh.now() };
  c.gh.statuses.push(st);
  return { status: 201, body: status(c.gh.site, st) };
};

/** Newest first, as GitHub lists them. */
const newestFirst = (c: Call, sha: string): Status[] => c.gh.statuses.filter((s) => s.sha === sha).reverse();

const listStatuses: Handler = (c) => {
  const sha = commitOf(c);
  if (!sha) return noCommit(c);
  const perPage = Number(c.query.per_page ?? 30);
  const page = Number(c.query.page ?? 1);
  return { status: 200, body: newestFirst(c, sha).slice((page - 1) * perPage, page * perPage).map((s) => status(c.gh.site, s)) };
};

const combinedStatus: Handler = (c) => {
  const sha = commitOf(c);
  if (!sha) return noCommit(c);
  const latest = new Map<string, Status>();
  for (const s of newestFirst(c, sha)) if (!latest.has(s.context)) latest.set(s.context, s);
  const states = [...latest.values()].map((s) => s.state);
  const state = states.some((s) => s === 'failure' || s === 'error') ? 'failure' : states.length === 0 || states.includes('pending') ? 'pending' : 'success';
  const api = `${c.gh.url}/repos/${c.gh.site.owner}/${c.gh.site.repo}`;
  return {
    status: 200,
    body: {
      state,
      statuses: [...latest.values()].map((s) => {
        const { creator: _creator, ...rest } = status(c.gh.site, s) as Record<string, unknown>;
        return rest;
      }),
      sha,
      total_count: latest.size,
      repository: repository(c.gh.site, 'main', c.gh.now()),
      commit_url: `${api}/commits/${sha}`,
      url: `${api}/commits/${sha}/status`,
    },
  };
};

export const STATUS_HANDLERS: Record<string, Handler> = {
  'repos/create-commit-status': createStatus,
  'repos/list-commit-statuses-for-ref': listStatuses,
  'repos/get-combined-status-for-ref': combinedStatus,
};
