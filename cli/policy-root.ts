/** Where the policies are: the given folder, else `policies/` when present, else the current folder. */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

export const DEFAULT_POLICY_FOLDER = 'policies';

export function resolvePolicyRoot(cwd: string, given: string | undefined): string {
  if (given !== undefined) return resolve(cwd, given);
  const folder = resolve(cwd, DEFAULT_POLICY_FOLDER);
  return existsSync(folder) && statSync(folder).isDirectory() ? folder : cwd;
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
