/**
 * GitHub double: `workflow_dispatch` (POST .../actions/workflows/{id}/dispatches: 204, 404 for a
 * workflow file that is not on the ref, 422 for a ref that does not exist) and a collaborator's
 * permission level (GET .../collaborators/{username}/permission). Dispatches are recorded per
 * double; permissions default to `write` for every login with a token, 404 for anyone else.
 */
import { errorBody, user } from './objects';
import type { Call, GitHubDouble, Reply } from './server';

type Handler = (c: Call) => Reply;

export interface Dispatch {
  readonly workflow: string;
  readonly ref: string;
  readonly inputs: Readonly<Record<string, string>>;
  readonly login: string;
  readonly at: string;
}

const dispatched = new WeakMap<GitHubDouble, Dispatch[]>();
const permissions = new WeakMap<GitHubDouble, Map<string, string>>();

/** Every workflow_dispatch the double accepted, in order. */
export function dispatchesOf(gh: GitHubDouble): Dispatch[] {
  let list = dispatched.get(gh);
  if (!list) dispatched.set(gh, (list = []));
  return list;
}

/** Permission overrides by login (admin, maintain, write, triage, read; 'none' for not a collaborator). */
export function collaboratorPermissions(gh: GitHubDouble): Map<string, string> {
  let map = permissions.get(gh);
  if (!map) permissions.set(gh, (map = new Map()));
  return map;
}

const notFound = (): Reply => ({ status: 404, body: errorBody(404, 'Not Found') });

const dispatch: Handler = (c) => {
  const { ref, inputs = {} } = c.body as { ref: string; inputs?: Record<string, string> };
  const sha = c.gh.git.resolve(`heads/${ref.replace(/^refs\/heads\//, '')}`) ?? c.gh.git.resolve(`tags/${ref.replace(/^refs\/tags\//, '')}`);
  if (!sha) return { status: 422, body: errorBody(422, `No ref found for: ${ref}`) };
  const id = String(c.op.params.workflow_id ?? '');
  if (!c.gh.git.fileAt(sha, `.github/workflows/${id}`)) return notFound();
  dispatchesOf(c.gh).push({ workflow: id, ref, inputs, login: c.login, at: c.gh.now() });
  return { status: 204 };
};

const ROLE: Record<string, string> = { admin: 'admin', maintain: 'write', write: 'write', triage: 'read', read: 'read' };

const permission: Handler = (c) => {
  const login = String(c.op.params.username ?? '');
  const known = [...c.gh.tokens.values()].includes(login);
  const level = collaboratorPermissions(c.gh).get(login) ?? (known ? 'write' : 'none');
  if (level === 'none') return notFound();
  return { status: 200, body: { permission: ROLE[level] ?? 'read', role_name: level, user: { ...user(c.gh.site, login), role_name: level } } };
};

export const ACTION_HANDLERS: Record<string, Handler> = {
  'actions/create-workflow-dispatch': dispatch,
  'repos/get-collaborator-permission-level': permission,
};
