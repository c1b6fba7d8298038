/**
 * The project's small Go programs under tools/ (the encoder's wire oracle, the xDS load generator,
 * the go-control-plane peer), built from the Go module proxy into .tools/bin/<name> on first use
 * and again when a file of their module is newer than the binary.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root, from dist/bench (compiled) or bench/ (ts) alike. */
export function repoRoot(): string {
  for (let dir = __dirname; ; dir = resolve(dir, '..')) {
    if (existsSync(join(dir, 'tools', 'envoy-descriptors', 'go.mod'))) return dir;
    if (resolve(dir, '..') === dir) return process.cwd();
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export interface GoTool {
  /** The binary's name in .tools/bin. */
  readonly name: string;
  /** The module's folder under tools/. */
  readonly module: string;
  /** The main package inside the module (default: the module's root). */
  readonly pkg?: string;
}

/** Path of .tools/bin/<name>, built when missing or older than its module's files. */
export function buildGoTool(tool: GoTool): string {
  const root = repoRoot();
  const out = join(root, '.tools', 'bin', tool.name);
  const src = join(root, 'tools', tool.module);
  if (!existsSync(out) || newestMtime(src) > statSync(out).mtimeMs) {
    // Built beside, then renamed: a concurrent user never runs a half-written binary.
    const tmp = `${out}.${process.pid}.tmp`;
    execFileSync('go', ['build', '-o', tmp, tool.pkg ?? '.'], { cwd: src, stdio: ['ignore', 'inherit', 'inherit'] });
    renameSync(tmp, out);
  }
  return out;
}
