/**
 * Bot: the ending — a lockdown ends at `expiresAt` without a commit (the control server recompiles
 * then); afterwards the bot opens one housekeeping PR that removes the expired lockdown files.
 * `expiredLockdownFiles` is pure; `housekeep` carries it out, reusing its open PR when there is one;
 * `commentTimelines` appends the incident's audit timeline to its PR once the lockdown has ended.
 */
import { parseAllDocuments } from 'yaml';
import type { SourceFile } from '../compiler';
import { BRANCH_PREFIX, commentMarker, LOCKDOWN_FOLDER } from './incident';
import type { BotRepo } from './repo';

export const HOUSEKEEPING_BRANCH = 'portcullis/housekeeping';

/** Files under policies/lockdowns/ whose every Lockdown has expired at `now` (and which hold nothing else). */
export function expiredLockdownFiles(files: readonly SourceFile[], now: Date): string[] {
  const out: string[] = [];
  for (const f of files) {
    if (!f.path.startsWith(`${LOCKDOWN_FOLDER}/`)) continue;
    let docs: { kind?: unknown; spec?: { expiresAt?: unknown } }[];
    try {
      docs = parseAllDocuments(f.text).map((d) => d.toJS() as never).filter(Boolean);
    } catch {
      continue;
    }
    const expired = (d: (typeof docs)[number]) => d.kind === 'Lockdown' && Date.parse(String(d.spec?.expiresAt)) <= now.getTime();
    if (docs.length && docs.every(expired)) out.push(f.path);
  }
  return out.sort();
}

/** Opens (or completes) the housekeeping PR; nothing when no lockdown file has expired. */
export async function housekeep(repo: BotRepo, now: Date): Promise<{ pull: number | null; url?: string; removed: string[]; expired: string[] }> {
  const baseSha = await repo.branchHead(repo.ref.base);
  if (!baseSha) throw new Error(`base branch ${repo.ref.base} not found`);
  const expired = expiredLockdownFiles(await repo.policyFiles(baseSha), now);
  if (!expired.length) return { pull: null, removed: [], expired };
  const open = await repo.openPullsOn(HOUSEKEEPING_BRANCH);
  // A merged or closed earlier housekeeping PR leaves its branch: start again from the base.
  await repo.ensureBranch(HOUSEKEEPING_BRANCH, baseSha, open.length === 0);
  const removed: string[] = [];
  for (const file of expired) {
    const current = await repo.fileOn(HOUSEKEEPING_BRANCH, file);
    if (!current) continue;
    await repo.writeFile(HOUSEKEEPING_BRANCH, file, null, `Remove expired lockdown ${file.replace(/^.*\//, '')}`, current.sha);
    removed.push(file);
  }
  const body = [
    '### Remove expired lockdowns',
    '',
    'These lockdowns have expired: they already compile to nothing (the control server stopped enforcing them at `expiresAt`, without a commit). Removing the files keeps the policy folder readable; git history keeps the record.',
    '',
    ...expired.map((f) => `- \`${f}\``),
    '',
  ].join('\n');
  const pr = await repo.openPull(HOUSEKEEPING_BRANCH, `Remove ${expired.length} expired lockdown${expired.length === 1 ? '' : 's'}`, body);
  if (!pr.created) await repo.updatePull(pr.number, { body });
  await repo.addLabels(pr.number, ['portcullis', 'housekeeping']);
  return { pull: pr.number, url: pr.url, removed, expired };
}

/** The incident's audit timeline as markdown (cli/ reads the trail: the bot does not import audit/), or null. */
export type IncidentTimeline = (incident: string) => Promise<string | null>;

/**
 * When a bot lockdown has ended: its merged incident PR gets the incident's audit timeline, once
 * (a comment marker). The PR is found by the branch the file's name derives from. Returns the PRs commented.
 */
export async function commentTimelines(repo: BotRepo, expiredFiles: readonly string[], timeline: IncidentTimeline): Promise<number[]> {
  const done: number[] = [];
  for (const file of expiredFiles) {
    const branch = `${BRANCH_PREFIX}${file.slice(LOCKDOWN_FOLDER.length + 1).replace(/\.ya?ml$/, '')}`;
    const pull = (await repo.botPulls([branch])).find((p) => p.branch === branch && p.merged);
    if (!pull) continue;
    const marker = commentMarker('timeline', pull.marker.incident);
    if ((await repo.commentMarkers(pull.number)).includes(marker)) continue;
    const trail = await timeline(pull.marker.incident);
    if (!trail) continue;
    await repo.comment(pull.number, `${marker}\nThe lockdown has ended (\`${file}\` expired). What happened, from the audit trail:\n\n${trail}`);
    done.push(pull.number);
  }
  return done;
}
