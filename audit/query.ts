/**
 * Reads the records of one incident, one pull request or a time range out of every stream. An
 * incident's records are linked by key: incident → PRs → merge commits and lockdown names → the
 * compiled versions, each Envoy's ACKs of those commits, the cloud deploys, the expiry.
 * Per-node xDS records (the bulk of a trail) are parsed only when they name a linked commit.
 */
import * as path from 'node:path';
import { listSegments, listStreams, parseRecord, readLineBatches, type StoredRecord } from './segments';

export type TrailQuery = { readonly incident: string } | { readonly pr: number } | { readonly since: Date };

const XDS = '"kind":"xds.';
/** Kinds a merge commit links to the incident (lockdown.expired links by lockdown name: it may come under a later commit). */
const BY_COMMIT = new Set(['policy.seen', 'policy.refused', 'policy.compiled', 'lockdown.started', 'cloud.deploy']);

export async function queryTrail(dir: string, q: TrailQuery): Promise<StoredRecord[]> {
  if ('since' in q) {
    const since = q.since.toISOString();
    return sortRecords(await scan(dir, (text) => text, (r) => r.time >= since, since.slice(0, 10)));
  }
  // Pass 1: everything but the per-node xDS records, then the closure of the links.
  const others = await scan(dir, (text) => !text.includes(XDS), () => true);
  const links = linkClosure(others, q);
  const picked = others.filter((r) => links.has(r));
  const commits = [...links.mergeCommits];
  if (commits.length > 0) {
    // Pass 2: the rollout of the linked commits, node by node.
    const quoted = commits.map((c) => `"commit":"${c}"`);
    picked.push(...(await scan(dir, (text) => text.includes(XDS) && quoted.some((c) => text.includes(c)), (r) => links.mergeCommits.has(String(r.commit)))));
  }
  return sortRecords(picked);
}

interface Links {
  readonly mergeCommits: Set<string>;
  has(r: StoredRecord): boolean;
}

function linkClosure(records: readonly StoredRecord[], q: { incident: string } | { pr: number }): Links {
  const incidents = new Set<string>('incident' in q ? [q.incident] : []);
  const prs = new Set<number>('pr' in q ? [q.pr] : []);
  const mergeCommits = new Set<string>();
  const lockdowns = new Set<string>();
  const has = (r: StoredRecord): boolean =>
    (typeof r.incident === 'string' && incidents.has(r.incident)) ||
    (typeof r.pr === 'number' && prs.has(r.pr)) ||
    (BY_COMMIT.has(r.kind) && typeof r.commit === 'string' && mergeCommits.has(r.commit)) ||
    (r.kind.startsWith('lockdown.') && typeof r.lockdown === 'string' && lockdowns.has(r.lockdown));
  for (let grew = true; grew; ) {
    grew = false;
    const add = <T>(set: Set<T>, v: T): void => {
      if (!set.has(v)) (set.add(v), (grew = true));
    };
    for (const r of records) {
      if (!has(r)) continue;
      if (typeof r.incident === 'string') add(incidents, r.incident);
      if (typeof r.pr === 'number') add(prs, r.pr);
      if (r.kind === 'pr.merged' && typeof r.commit === 'string') add(mergeCommits, r.commit);
      if (typeof r.lockdown === 'string') add(lockdowns, r.lockdown);
    }
  }
  return { mergeCommits, has };
}

/** Every record of every stream whose line passes `pre` (cheap, before parsing) and whose record passes `keep`. */
async function scan(dir: string, pre: (text: string) => unknown, keep: (r: StoredRecord) => boolean, fromDay = ''): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (const stream of await listStreams(dir)) {
    for (const segment of await listSegments(path.join(dir, stream))) {
      if (segment.slice(0, 10) < fromDay) continue;
      for await (const batch of readLineBatches(path.join(dir, stream, segment))) {
        for (const l of batch) {
          if (!l.terminated || !pre(l.text)) continue;
          const r = parseRecord(l.text);
          if (r && keep(r)) out.push(r);
        }
      }
    }
  }
  return out;
}

export function sortRecords(records: StoredRecord[]): StoredRecord[] {
  return records.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : a.seq - b.seq));
}
