/**
 * Where the policies are: the given folder, else `policies/` when it is a folder, else the current
 * folder. A `policies` that is a symbolic link is not one: in a checkout it comes from the tree
 * (a pull request could point it at `/`), and git mode sees no folder there either, so both
 * readers fall back to the root alike (where the link is noted, not followed).
 */
import { lstatSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

export const DEFAULT_POLICY_FOLDER = 'policies';

export function resolvePolicyRoot(cwd: string, given: string | undefined): string {
  if (given !== undefined) return resolve(cwd, given);
  const folder = resolve(cwd, DEFAULT_POLICY_FOLDER);
  let isFolder = false;
  try {
    isFolder = lstatSync(folder).isDirectory();
  } catch {
    // absent
  }
  return isFolder ? folder : cwd;
}

/**
 * The policy folder a command was pointed at, or why it cannot be one. A folder that does not
 * exist, or a file, is a mistake in the command line (exit 2), not a policy error (exit 1).
 */
export function policyRootOrUsage(cwd: string, given: string | undefined, option: string): { root: string } | { usage: string } {
  const root = resolvePolicyRoot(cwd, given);
  let info;
  try {
    info = statSync(root);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { usage: `${option}${JSON.stringify(given ?? root)}: ${code === 'ENOENT' ? 'no such folder' : `cannot be read (${code ?? 'error'})`}` };
  }
  return info.isDirectory() ? { root } : { usage: `${option}${JSON.stringify(given ?? root)}: not a folder` };
}
