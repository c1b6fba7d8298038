/**
 * Issue 7 item 8, `portcullis validate --envoy` (the PR workflow's check): the rendered configuration
 * of every fleet goes through the real Envoy at $ENVOY_BIN; a configuration Envoy refuses fails the
 * check at the policy line that produced it; no binary is a usage error (exit 2), never a pass.
 */
import { cpSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { envoyBinary } from '../support/envoy';
import { runCli } from '../support/cli';
import { tempDir } from '../support/git-repo';

jest.setTimeout(60_000);

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const NOW = new Date('2026-11-27T00:00:00Z');

test('the bundled policies pass validate --envoy', async () => {
  const run = await runCli(['validate', '--envoy', envoyBinary()], { cwd: REPO_ROOT, now: NOW });
  expect(run.err).toBe('');
  expect(run.out).toMatch(/policies compile and Envoy \(.+\) accepts every fleet's configuration/);
  expect(run.code).toBe(0);
});

test('a route Envoy refuses (an RE2 program over Envoy’s limit) fails with exit 1 at its file:line', async () => {
  const dir = tempDir('portcullis-validate-envoy-');
  cpSync(path.join(REPO_ROOT, 'policies'), path.join(dir, 'policies'), { recursive: true });
  writeFileSync(
    path.join(dir, 'policies', 'routes', 'too-big.yaml'),
    'apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: too-big }\nspec:\n  path: { regex: "^/x{1000}$" }\n  service: catalog\n',
  );
  const run = await runCli(['validate', '--envoy', envoyBinary()], { cwd: dir, now: NOW });
  expect(run.code).toBe(1);
  // Envoy's words when the compiler lets it through; the compiler's when it learns RE2's limit (issue 7 item 5): the same line either way.
  expect(run.err).toMatch(/policies\/routes\/too-big\.yaml:5:\d+ Route\/too-big\b.*(RE2 program size of 1004 > max program size of 100|program)/);
});

test('--envoy without a binary is a usage error (exit 2)', async () => {
  const run = await runCli(['validate', '--envoy', '/nonexistent/envoy'], { cwd: REPO_ROOT, now: NOW });
  expect(run.code).toBe(2);
  expect(run.err).toContain('/nonexistent/envoy does not exist');
});
