/** CODEOWNERS as GitHub reads it: the last matching line wins. */
import { codeOwnersFor } from '../../bot/codeowners';

const FILE = `# policy owners
*                       @acme/platform
/policies/              @acme/security @bob
policies/lockdowns/*.yaml @acme/oncall
docs/**                 @acme/docs
/policies/lockdowns/keep.yaml
`;

test.each([
  ['policies/lockdowns/x.yaml', ['@acme/oncall']],
  ['policies/routes/a.yaml', ['@acme/security', '@bob']],
  ['README.md', ['@acme/platform']],
  ['docs/a/b/c.md', ['@acme/docs']],
  ['policies/lockdowns/keep.yaml', []],
  ['policies/lockdowns/sub/x.yaml', ['@acme/security', '@bob']],
])('%s → %j', (path, owners) => {
  expect(codeOwnersFor(FILE, path)).toEqual(owners);
});

test('no matching line: no owners', () => {
  expect(codeOwnersFor('/src/ @dev\n', 'policies/lockdowns/x.yaml')).toEqual([]);
});
