/**
 * Bot: puts one lockdown file change up for review on GitHub — branch from the base, one commit,
 * the pull request, labels — each step tolerant of a previous run's leftovers. Used by the
 * break-glass CLI (`portcullis lockdown open|lift`); the alert handler follows the same steps.
 */
import type { BotRepo } from './repo';

export interface Proposal {
  readonly branch: string;
  readonly file: string;
  /** New text of the file, or null to delete it. */
  readonly text: string | null;
  readonly message: string;
  readonly title: string;
  readonly body: string;
  readonly labels: readonly string[];
  readonly reviewers?: readonly string[];
}

export async function proposeOnGitHub(repo: BotRepo, baseSha: string, p: Proposal): Promise<{ number: number; url: string; created: boolean }> {
  await repo.ensureBranch(p.branch, baseSha, false);
  const current = await repo.fileOn(p.branch, p.file);
  if ((current?.text ?? null) !== p.text) await repo.writeFile(p.branch, p.file, p.text, p.message, current?.sha);
  const pr = await repo.openPull(p.branch, p.title, p.body);
  if (p.labels.length) await repo.addLabels(pr.number, p.labels);
  if (p.reviewers?.length) await repo.requestReviewers(pr.number, p.reviewers).catch(() => undefined);
  return pr;
}
