/**
 * The product's source files, room by room (docs/architecture.md): what the architecture tests
 * (import rules, function length) read. Tests and their support code are not part of it.
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');

/** Every top-level folder that holds product code, in pipeline order. */
export const ROOMS = ['compiler', 'sources', 'grpc', 'xds-server', 'monitor', 'bot', 'audit', 'stacks', 'demo', 'cli', 'bench', 'bin'];

/** The .ts/.js files under `dir` (relative to the repository root), declaration files excluded. */
export function sourceFiles(dir: string, pattern: RegExp = /\.(ts|js)$/): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(rel, pattern));
    else if (pattern.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** The source files of every room that exists (a room may not exist yet, e.g. bot/ before it lands). */
export function productFiles(pattern?: RegExp): string[] {
  return ROOMS.flatMap((r) => {
    try {
      return sourceFiles(r, pattern);
    } catch {
      return [];
    }
  });
}
