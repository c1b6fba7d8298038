/**
 * The policy sources, the only readers of disk and git: a folder (directory.ts), a git revision
 * (git-revision.ts, git-tree.ts) and a followed branch (follower.ts). They hand file texts to the
 * pure compiler; what they read is decided by one rule (policy-tree.ts).
 */
import { compileSources } from '../compiler';
import type { PolicyIR } from '../compiler/ir/ir';
import type { Result } from '../compiler/result';
import { readPolicyTree, type ReadOptions } from './directory';
import { withTreeProblems } from './policy-tree';

export { readPolicyFiles, readPolicyTree, type ReadOptions } from './directory';
export { readPolicyFilesAt } from './git-revision';
export type { PolicyTree } from './policy-tree';

/**
 * Reads every *.yaml / *.yml under `root` (see `readPolicyTree`) and compiles them for `now`; the
 * reader's problems and the compiler's errors come back together. `notes` say what was not read.
 */
export async function compileDirectory(root: string, now: Date, options: ReadOptions = {}): Promise<Result<PolicyIR> & { readonly notes?: readonly string[] }> {
  const tree = await readPolicyTree(root, options);
  if (!tree.ok) return { ...tree, notes: [] };
  return { ...withTreeProblems(tree.value, compileSources(tree.value.files, now)), notes: tree.value.notes };
}
