/**
 * Reads the policy files of one git revision without touching the work tree, through the same
 * object reader and tree rule the control server's git follower uses (git-tree.ts), so
 * `portcullis plan` can compile two revisions side by side.
 */
import { GitObjects } from './git';
import { readTreeAt } from './git-tree';
import type { PolicyTree } from './policy-tree';
import { positionless, type Result } from '../compiler/result';

const failure = (repo: string, message: string): Result<never> => ({
  ok: false,
  errors: [positionless(message, { file: repo })],
});

export interface RevisionTree extends PolicyTree {
  readonly commit: string;
  /** The folder read ('' = the repository root). */
  readonly root: string;
  /** False when the revision has no `folder` (then `files` is empty unless `fallbackToRoot`). */
  readonly folderFound: boolean;
}

/** A folder git can name at a commit: relative, no `..` (git refuses those with an error, not a miss). */
export function isFolderInsideRepository(folder: string): boolean {
  return !folder.startsWith('/') && !folder.split('/').includes('..');
}

/**
 * The policy folder of a revision. When the revision has no such folder: the repository root with
 * `fallbackToRoot` (the default), else no files at all (`folderFound: false`).
 */
export async function readPolicyFilesAt(repo: string, revision: string, folder: string, options: { fallbackToRoot?: boolean } = {}): Promise<Result<RevisionTree>> {
  const objects = await GitObjects.at(repo).catch(() => null);
  if (!objects) return failure(repo, 'not a git repository');
  const commit = await objects.resolve(revision).catch(() => null);
  if (!commit) return failure(repo, `unknown git revision "${revision}"`);
  if (!isFolderInsideRepository(folder)) return failure(repo, `policy folder ${JSON.stringify(folder)} is not inside the repository`);
  const clean = folder.replace(/^\.\/+|\/+$/g, '');
  const folderFound = clean === '' || (await objects.hasFolder(commit, clean));
  if (!folderFound && options.fallbackToRoot === false) return { ok: true, value: { commit, root: clean, folderFound, files: [], problems: [], notes: [] } };
  const root = folderFound ? clean : '';
  return { ok: true, value: { commit, root, folderFound, ...(await readTreeAt(objects, commit, root)) } };
}
