/**
 * GitHub double: repository, git data (refs, blobs, trees, commits) and contents operations, each
 * carried out on the real bare repository with GitHub's answers for refused updates (422 for an
 * existing ref or a non-fast-forward, 409 for a content write against a stale blob sha).
 */
import { contentFile, errorBody, gitCommit, gitRef } from './objects';
import type { Call, Reply } from './server';

type Handler = (c: Call) => Reply;

const notFound = (): Reply => ({ status: 404, body: errorBody(404, 'Not Found') });
const unprocessable = (message: string, errors?: Record<string, unknown>[]): Reply => ({ status: 422, body: errorBody(422, message, errors) });

/** Every operation addresses /repos/{owner}/{repo}: the double holds one repository. */
export function sameRepo(c: Call): boolean {
  const { owner, repo } = c.op.params;
  return owner === undefined || (owner?.toLowerCase() === c.gh.site.owner.toLowerCase() && repo?.toLowerCase() === c.gh.site.repo.toLowerCase());
}

const refName = (ref: string) => (ref.startsWith('refs/') ? ref.slice(5) : ref);
const branchOf = (ref: string) => (ref.startsWith('heads/') ? ref.slice(6) : null);

function commitOf(c: Call, ref: string | undefined): string | null {
  if (!ref) return c.gh.git.resolve('heads/main');
  if (/^[0-9a-f]{40}$/.test(ref) && c.gh.git.exists(ref, 'commit')) return ref;
  return c.gh.git.resolve(ref.startsWith('refs/') || ref.startsWith('heads/') || ref.startsWith('tags/') ? ref : `heads/${ref}`);
}

const getRef: Handler = (c) => {
  const ref = refName(c.op.params.ref ?? '');
  const sha = c.gh.git.resolve(ref);
  return sha ? { status: 200, body: gitRef(c.gh.site, `refs/${ref}`, sha) } : notFound();
};

const createRef: Handler = (c) => {
  const { ref, sha } = c.body as { ref: string; sha: string };
  if (!ref.startsWith('refs/') || ref.split('/').length < 3) return unprocessable(`${ref} is not a valid ref name.`);
  if (!c.gh.git.exists(sha, 'commit')) return unprocessable('Object does not exist');
  if (!c.gh.git.casRef(ref, sha, null)) return unprocessable('Reference already exists');
  const branch = branchOf(refName(ref));
  if (branch) c.gh.announcePush(branch, null, sha, c.login);
  return { status: 201, body: gitRef(c.gh.site, ref, sha) };
};

const updateRef: Handler = (c) => {
  const ref = refName(c.op.params.ref ?? '');
  const { sha, force } = c.body as { sha: string; force?: boolean };
  const old = c.gh.git.resolve(ref);
  if (!old) return unprocessable('Reference does not exist');
  if (!c.gh.git.exists(sha, 'commit')) return unprocessable('Object does not exist');
  if (!force && !c.gh.git.isAncestor(old, sha)) return unprocessable('Update is not a fast forward');
  if (!c.gh.git.casRef(ref, sha, old)) return { status: 409, body: errorBody(409, 'Reference update failed') };
  const branch = branchOf(ref);
  if (branch && old !== sha) c.gh.announcePush(branch, old, sha, c.login);
  return { status: 200, body: gitRef(c.gh.site, `refs/${ref}`, sha) };
};

const deleteRef: Handler = (c) => {
  const ref = refName(c.op.params.ref ?? '');
  const old = c.gh.git.resolve(ref);
  if (!old || !c.gh.git.deleteRef(ref)) return unprocessable('Reference does not exist');
  const branch = branchOf(ref);
  if (branch) c.gh.announcePush(branch, old, null, c.login);
  return { status: 204 };
};

const getTree: Handler = (c) => {
  const sha = c.op.params.tree_sha ?? '';
  const commit = commitOf(c, sha);
  const tree = commit && !c.gh.git.exists(sha, 'tree') ? c.gh.git.commit(commit).tree : sha;
  if (!c.gh.git.exists(tree, 'tree')) return notFound();
  const recursive = c.query.recursive !== undefined && c.query.recursive !== '0' && c.query.recursive !== 'false';
  const api = `${c.gh.url}/repos/${c.gh.site.owner}/${c.gh.site.repo}/git`;
  const entries = c.gh.git.tree(tree, recursive).map((e) => ({
    path: e.path,
    mode: e.mode,
    type: e.type,
    sha: e.sha,
    ...(e.size === undefined ? {} : { size: e.size }),
    url: `${api}/${e.type === 'tree' ? 'trees' : 'blobs'}/${e.sha}`,
  }));
  return { status: 200, body: { sha: tree, url: `${api}/trees/${tree}`, tree: entries, truncated: false } };
};

const getBlob: Handler = (c) => {
  const sha = c.op.params.file_sha ?? '';
  if (!c.gh.git.exists(sha, 'blob')) return notFound();
  const content = c.gh.git.readBlob(sha);
  const url = `${c.gh.url}/repos/${c.gh.site.owner}/${c.gh.site.repo}/git/blobs/${sha}`;
  return { status: 200, body: { sha, node_id: `B_${sha.slice(0, 8)}`, url, size: content.length, content: content.toString('base64'), encoding: 'base64' } };
};

const getCommit: Handler = (c) => {
  const sha = c.op.params.commit_sha ?? '';
  return c.gh.git.exists(sha, 'commit') ? { status: 200, body: gitCommit(c.gh.site, c.gh.git.commit(sha)) } : notFound();
};

const createBlob: Handler = (c) => {
  const { content, encoding } = c.body as { content: string; encoding?: string };
  const sha = c.gh.git.writeBlob(Buffer.from(content, encoding === 'base64' ? 'base64' : 'utf8'));
  return { status: 201, body: { sha, url: `${c.gh.url}/repos/${c.gh.site.owner}/${c.gh.site.repo}/git/blobs/${sha}` } };
};

const createTree: Handler = (c) => {
  const { base_tree, tree } = c.body as { base_tree?: string; tree: Array<{ path: string; mode: string; sha?: string | null; content?: string }> };
  if (base_tree && !c.gh.git.exists(base_tree, 'tree')) return unprocessable('base_tree is not a valid tree oid');
  const entries = tree.map((e) => ({ path: e.path, mode: e.mode, sha: e.content !== undefined ? c.gh.git.writeBlob(Buffer.from(e.content)) : (e.sha ?? null) }));
  for (const e of entries) if (e.sha && !c.gh.git.exists(e.sha, 'blob')) return unprocessable(`tree.sha ${e.sha} is not a valid blob`);
  const sha = c.gh.git.buildTree(base_tree ?? null, entries);
  return { ...getTree({ ...c, op: { ...c.op, params: { ...c.op.params, tree_sha: sha } }, query: {} }), status: 201 };
};

const createCommit: Handler = (c) => {
  const { message, tree, parents } = c.body as { message: string; tree: string; parents?: string[] };
  if (!c.gh.git.exists(tree, 'tree')) return unprocessable('Tree SHA does not exist');
  for (const p of parents ?? []) if (!c.gh.git.exists(p, 'commit')) return unprocessable('Parent SHA does not exist or is not a commit object');
  const sha = c.gh.git.commitTree(tree, parents ?? [], message, c.gh.person(c.login));
  return { status: 201, body: gitCommit(c.gh.site, c.gh.git.commit(sha)) };
};

const getContent: Handler = (c) => {
  const file = (c.op.params.path ?? '').replace(/^\/+|\/+$/g, '');
  const ref = typeof c.query.ref === 'string' ? c.query.ref : 'main';
  const commit = commitOf(c, ref);
  if (!commit) return { status: 404, body: errorBody(404, `No commit found for the ref ${ref}`) };
  const blob = c.gh.git.fileAt(commit, file);
  if (blob) return { status: 200, body: contentFile(c.gh.site, file, blob.sha, blob.content, ref) };
  const dir = c.gh.git.resolveTree(commit, file);
  if (!dir) return notFound();
  const entries = c.gh.git.tree(dir, false);
  const listing = entries.map((e) => ({ ...contentFile(c.gh.site, file ? `${file}/${e.path}` : e.path, e.sha, null, ref), type: e.type === 'tree' ? 'dir' : 'file' }));
  return { status: 200, body: listing };
};

interface ContentWrite {
  message: string;
  content?: string;
  sha?: string;
  branch?: string;
}

/** PUT and DELETE contents: the blob sha the caller last saw must still be the file's (409 otherwise). */
function writeContent(c: Call, remove: boolean): Reply {
  const file = (c.op.params.path ?? '').replace(/^\/+/, '');
  const { message, content, sha, branch = 'main' } = c.body as ContentWrite;
  const head = c.gh.git.resolve(`heads/${branch}`);
  if (!head) return { status: 404, body: errorBody(404, `Branch ${branch} not found`) };
  const current = c.gh.git.fileAt(head, file);
  if (remove && !current) return { status: 404, body: errorBody(404, 'Not Found') };
  if (current && sha === undefined) return unprocessable('Invalid request.\n\n"sha" wasn\'t supplied.');
  if (current && sha !== current.sha) return { status: 409, body: errorBody(409, `${file} does not match ${sha}`) };
  if (!current && sha !== undefined && !remove) return { status: 409, body: errorBody(409, `${file} does not match ${sha}`) };
  const text = remove ? null : Buffer.from(content ?? '', 'base64').toString('utf8');
  const commit = c.gh.git.commitFiles(head, { [file]: text }, message, c.gh.person(c.login));
  if (!c.gh.git.casRef(`heads/${branch}`, commit, head)) return { status: 409, body: errorBody(409, 'Reference update failed') };
  c.gh.announcePush(branch, head, commit, c.login);
  const written = remove ? null : c.gh.git.fileAt(commit, file);
  return {
    status: remove || current ? 200 : 201,
    body: { content: written ? contentFile(c.gh.site, file, written.sha, null, branch) : null, commit: gitCommit(c.gh.site, c.gh.git.commit(commit)) },
  };
}

export const GIT_HANDLERS: Record<string, Handler> = {
  'repos/get': (c) => ({ status: 200, body: c.gh.repository() }),
  'git/get-ref': getRef,
  'git/create-ref': createRef,
  'git/update-ref': updateRef,
  'git/delete-ref': deleteRef,
  'git/get-tree': getTree,
  'git/get-blob': getBlob,
  'git/get-commit': getCommit,
  'git/create-blob': createBlob,
  'git/create-tree': createTree,
  'git/create-commit': createCommit,
  'repos/get-content': getContent,
  'repos/create-or-update-file-contents': (c) => writeContent(c, false),
  'repos/delete-file': (c) => writeContent(c, true),
};
