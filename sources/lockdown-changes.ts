/**
 * Which lockdowns came into force or left it between two served states (a merge, or a recompile
 * by the clock at a start or expiry): the follower's lockdown.started / lockdown.expired records.
 */
import type { ServedCommit } from './follower';

export interface LockdownChange {
  readonly kind: 'lockdown.started' | 'lockdown.expired';
  readonly fields: Record<string, unknown>;
}

export function lockdownChanges(before: ServedCommit | null, after: ServedCommit, now: Date): LockdownChange[] {
  const active = (s: ServedCommit | null): Map<string, { environment: string; name: string; expiresAt: string }> => {
    const m = new Map<string, { environment: string; name: string; expiresAt: string }>();
    for (const env of s?.environments ?? []) for (const l of env.activeLockdowns) m.set(`${env.name}\0${l.name}`, { environment: env.name, ...l });
    return m;
  };
  const was = active(before);
  const is = active(after);
  const out: LockdownChange[] = [];
  for (const [key, l] of is) {
    if (was.has(key)) continue;
    // On the first sync after a start the lockdown may have been in force for a while: say so.
    const fields = { lockdown: l.name, environment: l.environment, expiresAt: l.expiresAt, commit: after.commit, version: after.version, ...(before === null ? { atStartup: true } : {}) };
    out.push({ kind: 'lockdown.started', fields });
  }
  for (const [key, l] of was) {
    if (is.has(key)) continue;
    const reason = Date.parse(l.expiresAt) <= now.getTime() ? 'expired' : 'removed';
    out.push({ kind: 'lockdown.expired', fields: { lockdown: l.name, environment: l.environment, expiresAt: l.expiresAt, reason, commit: after.commit, version: after.version } });
  }
  return out;
}
