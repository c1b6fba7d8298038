/**
 * Test harness: a commit-status client shaped like octokit's `rest.repos.createCommitStatus` that
 * records every call, for the rollout reporter's unit tests (coalescing, rate limits, retries); the
 * end-to-end tests post to the GitHub double instead (test/e2e/audit-trail.test.ts).
 */
import type { CommitStatusClient } from '../../audit';

type Call = Parameters<CommitStatusClient['rest']['repos']['createCommitStatus']>[0];

/** Records every createCommitStatus call (octokit's shape); `failNext` makes the next one throw. */
export function recordingClient(): CommitStatusClient & { calls: Call[]; failNext: number } {
  const c = {
    calls: [] as Call[],
    failNext: 0,
    rest: {
      repos: {
        createCommitStatus: async (p: Call) => {
          if (c.failNext > 0) {
            c.failNext--;
            throw new Error('HTTP 502');
          }
          c.calls.push(p);
          return { status: 201 };
        },
      },
    },
  };
  return c;
}

