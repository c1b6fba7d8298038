/**
 * The CLI as a process: output into a pipe whose reader has gone (`portcullis … | head`), and
 * policy folders that are missing or are files (usage errors, exit 2, not policy errors).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from '../support/cli';

const REPO_ROOT = join(__dirname, '..', '..');
const NOW = new Date('2026-11-27T12:00:00Z');

/** `portcullis <args> | true` through the process entry bin/portcullis.js uses (runProcess), from the sources. */
function intoClosedPipe(args: readonly string[]): Promise<{ status: string; stderr: string }> {
  const entry = "require('./cli/main').runProcess(['node', 'portcullis', ...process.argv.slice(1)])";
  // `true` exits at once: every write of the CLI meets a pipe without a reader (EPIPE).
  const script = `node -r ts-node/register/transpile-only -e "$ENTRY" "$@" | true; echo "\${PIPESTATUS[0]}" >&3`;
  return new Promise((resolve, reject) => {
    const child = execFile(
      'bash',
      ['-c', `exec 3>&1; ${script}`, 'bash', ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ENTRY: entry, TS_NODE_PROJECT: join(REPO_ROOT, 'tsconfig.json') }, timeout: 60_000 },
      (error, stdout, stderr) => (error ? reject(error) : resolve({ status: stdout.trim(), stderr })),
    );
    child.stdin?.end();
  });
}

describe('output into a closed pipe', () => {
  it.each([
    [['validate'], '0'],
    [['schema'], '0'],
  ])('portcullis %j | true: no EPIPE stack trace, the command keeps its exit code', async (args, code) => {
    const r = await intoClosedPipe(args);
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(r.status).toBe(code);
  }, 60_000);
});

describe('a policy folder that cannot be one is a usage error (exit 2)', () => {
  it.each([
    [['validate', '/nonexistent-portcullis'], '"/nonexistent-portcullis": no such folder'],
    [['validate', '/etc/passwd'], '"/etc/passwd": not a folder'],
    [['render', '--env', 'dev', '--root', '/nonexistent-portcullis'], '--root "/nonexistent-portcullis": no such folder'],
    [['render', '--env', 'dev', '--root', '/etc/passwd'], '--root "/etc/passwd": not a folder'],
    [['validate', 'a\nerror forged.yaml:1:1 x'], '"a\\nerror forged.yaml:1:1 x": no such folder'],
  ])('portcullis %j', async (args, message) => {
    const r = await runCli(args, { cwd: REPO_ROOT, now: NOW });
    expect(r.err).toContain(message);
    expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.code).toBe(2);
  });
});
