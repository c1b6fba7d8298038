/**
 * Bot: names derived from an incident, so every rerun and duplicate delivery lands on the same
 * branch, file and pull request. An incident key is `<trigger>/<environment>/<key or "-">` (the
 * alert's `incident` label); a pull request groups the keys of one trigger in one environment.
 */
import { createHash } from 'node:crypto';

export const BRANCH_PREFIX = 'portcullis/lockdown/';
export const LOCKDOWN_FOLDER = 'policies/lockdowns';

/** A lower-case DNS-label-safe slug of at most `max` characters. */
export function slugify(text: string, max = 40): string {
  const slug = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return slug.slice(0, max).replace(/-+$/, '') || 'incident';
}

const hash8 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 8);

/** `<slug>-<hash8>` of an incident key: a Lockdown name (DNS label, ≤ 63) and the branch/file stem. */
export function incidentName(incidentKey: string): string {
  return `${slugify(incidentKey, 54)}-${hash8(incidentKey)}`;
}

export const branchFor = (incidentKey: string) => `${BRANCH_PREFIX}${incidentName(incidentKey)}`;
export const fileFor = (incidentKey: string) => `${LOCKDOWN_FOLDER}/${incidentName(incidentKey)}.yaml`;

export const incidentKeyOf = (trigger: string, environment: string, key: string) => `${trigger}/${environment}/${key || '-'}`;

/** What the bot remembers about a PR, in a hidden marker in its body (GitHub keeps no other state for us). */
export interface PrMarker {
  /** The incident key the PR was opened for (its branch is derived from it). */
  readonly incident: string;
  readonly trigger: string;
  readonly environment: string;
  /** Every offending key the PR's lockdown covers, first one first. */
  readonly keys: readonly string[];
  /** The Alertmanager fingerprint of the first alert (audit correlation). */
  readonly fingerprint?: string;
}

const MARKER = /<!-- portcullis-incident (\{.*?\}) -->/;

export function renderMarker(m: PrMarker): string {
  // JSON inside an HTML comment: "--" cannot appear in it since keys are CIDRs, IPs or token ids.
  return `<!-- portcullis-incident ${JSON.stringify(m).replace(/--/g, '-\\u002d')} -->`;
}

export function parseMarker(body: string | null | undefined): PrMarker | null {
  const m = MARKER.exec(body ?? '');
  if (!m) return null;
  try {
    const v = JSON.parse(m[1]!) as PrMarker;
    return typeof v.incident === 'string' && Array.isArray(v.keys) ? v : null;
  } catch {
    return null;
  }
}

/** Marks a comment the bot wrote about `incident` (so it is written once). */
export const commentMarker = (kind: string, incident: string) => `<!-- portcullis-${kind} ${hash8(incident)} -->`;
