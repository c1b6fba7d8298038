/** Where the policies are: the given folder, else `policies/` when present, else the current folder. */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

export const DEFAULT_POLICY_FOLDER = 'policies';

export function resolvePolicyRoot(cwd: string, given: string | undefined): string {
  if (given !== undefined) return resolve(cwd, given);
  const folder = resolve(cwd, DEFAULT_POLICY_FOLDER);
  return existsSync(folder) && statSync(folder).isDirectory() ? folder : cwd;
}
