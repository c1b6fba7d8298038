/**
 * Issue 7 item 22: a policy file with a byte that is not UTF-8 is refused with its position by both
 * readers (a folder and a git revision), never decoded to U+FFFD and compiled.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostic } from '../../compiler/result';
import { readPolicyTree } from '../../sources';
import { readPolicyFilesAt } from '../../sources/git-revision';
import { TestRepo, tempDir } from '../support/git-repo';

// Line 4, column 28: the byte 0xff inside a route's path (valid YAML around it).
const BAD = Buffer.concat([
  Buffer.from('apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: r }\nspec: { path: { exact: /caf'),
  Buffer.from([0xff]),
  Buffer.from(' }, service: s }\n'),
]);
const EXPECTED = 'policies/bad.yaml:4:28: invalid UTF-8 (byte 0xff at offset 91): policy files must be UTF-8 text';

test('the folder reader refuses the file at the bad byte', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'bad.yaml'), BAD);
  const tree = await readPolicyTree(join(dir, 'policies'), { relativeTo: dir });
  if (!tree.ok) throw new Error(JSON.stringify(tree.errors));
  expect(tree.value.files.map((f) => f.path)).toEqual([]);
  expect(tree.value.problems.map((d) => formatDiagnostic(d))).toEqual([EXPECTED]);
});

test('the git reader refuses it the same way', async () => {
  const repo = TestRepo.create();
  try {
    repo.commit({ 'policies/bad.yaml': BAD }, 'a latin-1 byte');
    const tree = await readPolicyFilesAt(repo.dir, 'HEAD', 'policies');
    if (!tree.ok) throw new Error(JSON.stringify(tree.errors));
    expect(tree.value.files.map((f) => f.path)).toEqual([]);
    expect(tree.value.problems.map((d) => formatDiagnostic(d))).toEqual([EXPECTED]);
  } finally {
    repo.remove();
  }
});
