/**
 * Reads the policy files of one git revision without touching the work tree, through the same
 * object reader the control server's git follower uses, so `portcullis plan` can compile two
 * revisions side by side.
 */
import { GitObjects } from './git';
import { isPolicyFileName, type SourceFile } from '../compiler';
import type { Result } from '../compiler/result';

const failure = (repo: string, message: string): Result<never> => ({
  ok: false,
  errors: [{ file: repo, line: 0, column: 0, subject: '', path: '', message }],
});

/** The policy folder of a revision: `folder` when the revision has it, else the repository root. */
export async function readPolicyFilesAt(
  repo: string,
  revision: string,
  folder: string,
): Promise<Result<{ commit: string; root: string; files: SourceFile[] }>> {
  const objects = await GitObjects.at(repo).catch(() => null);
  if (!objects) return failure(repo, 'not a git repository');
  const commit = await objects.resolve(revision).catch(() => null);
  if (!commit) return failure(repo, `unknown git revision "${revision}"`);
  const clean = folder.replace(/^\.\/+|\/+$/g, '');
  const root = clean !== '' && (await objects.hasFolder(commit, clean)) ? clean : '';
  const entries = (await objects.listFiles(commit, root)).filter((e) => isPolicyFileName(e.path));
  const texts = await objects.readBlobs(entries.map((e) => e.blob));
  return { ok: true, value: { commit, root, files: entries.map((e) => ({ path: e.path, text: texts.get(e.blob) ?? '' })) } };
}
