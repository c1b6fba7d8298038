/**
 * The policy sources, the only readers of disk and git: a folder (directory.ts), a git revision
 * (git-revision.ts) and a followed branch (follower.ts). They hand file texts to the pure compiler.
 */
import { compileSources } from '../compiler';
import type { PolicyIR } from '../compiler/ir/ir';
import type { Result } from '../compiler/result';
import { readPolicyFiles, type ReadOptions } from './directory';

export { readPolicyFiles, type ReadOptions } from './directory';
export { readPolicyFilesAt } from './git-revision';

/** Reads every *.yaml / *.yml under `root` (see `readPolicyFiles`) and compiles them for `now`. */
export async function compileDirectory(root: string, now: Date, options: ReadOptions = {}): Promise<Result<PolicyIR>> {
  const files = await readPolicyFiles(root, options);
  return files.ok ? compileSources(files.value, now) : files;
}
