/** The ending: one housekeeping PR removes expired lockdown files, and a second run adds nothing. */
import { expiredLockdownFiles } from '../../bot/housekeeping';
import { GitHubDouble } from '../support/github-double';
import { BOT_TOKEN, repositoryPolicies, startTestBot } from '../support/bot-fixtures';

jest.setTimeout(90_000);

const files = repositoryPolicies();

test('expiredLockdownFiles: only lockdown files whose every Lockdown has expired', () => {
  expect(expiredLockdownFiles(Object.entries(files).map(([path, text]) => ({ path, text })), new Date('2026-12-01T12:00:00Z'))).toEqual(['policies/lockdowns/2026-11-20-credential-stuffing.yaml']);
  expect(expiredLockdownFiles(Object.entries(files).map(([path, text]) => ({ path, text })), new Date('2026-11-20T13:00:00Z'))).toEqual([]);
});

test('the housekeeping PR removes the expired file; running again reuses it and commits nothing', async () => {
  const gh = await new GitHubDouble({ tokens: { [BOT_TOKEN]: 'portcullis-bot[bot]' } }).start();
  try {
    gh.seed(files);
    const bot = await startTestBot(gh, { now: () => new Date('2026-12-01T12:00:00Z') });
    try {
      const first = await bot.housekeep();
      expect(first.removed).toEqual(['policies/lockdowns/2026-11-20-credential-stuffing.yaml']);
      const pr = gh.pulls.get(first.pull!)!;
      expect(pr.title).toBe('Remove 1 expired lockdown');
      expect(gh.git.fileAt(pr.headSha, 'policies/lockdowns/2026-11-20-credential-stuffing.yaml')).toBeNull();
      expect(gh.git.fileAt(pr.headSha, 'policies/lockdowns/2026-11-25-export-leak.yaml')).not.toBeNull();
      const second = await bot.housekeep();
      expect([second.pull, second.removed]).toEqual([first.pull, []]);
      expect(gh.pulls.size).toBe(1);
      expect(gh.git.git(['rev-list', '--count', `main..${pr.head}`])).toBe('1');
      gh.assertClean();
    } finally {
      if (gh.violations.length) process.stderr.write(gh.violations.join('\n') + '\n');
      await bot.stop();
    }
  } finally {
    await gh.stop();
  }
});
