/**
 * Bot: break-glass lockdowns from flags (`portcullis lockdown open --env prod --block CIDR --for 1h
 * --reason …`) → the same Lockdown overlay the bot proposes, and the lift of an existing one.
 * Pure: flags and `now` in, a named spec (or every flag error at once) out.
 */
import { createHash } from 'node:crypto';
import { parseCidr } from '../compiler/model/cidr';
import { parseDuration } from '../compiler/duration';
import { RATE_UNITS } from '../compiler/model/schema';
import { LOCKDOWN_FOLDER, slugify } from './incident';
import type { LockdownSpecData } from './lockdown-file';

/** The longest a break-glass lockdown may run (the Trigger contract's maximum, 7 days). */
export const MAX_LOCKDOWN_MS = 7 * 24 * 3_600_000;

export interface BreakGlassFlags {
  readonly env: readonly string[];
  readonly block: readonly string[];
  readonly route: readonly string[];
  readonly tighten: readonly string[];
  readonly revokeJti: readonly string[];
  readonly revokeSub: readonly string[];
  readonly disableRoute: readonly string[];
  readonly for?: string;
  readonly reason?: string;
  readonly owner?: string;
  readonly name?: string;
}

export interface BreakGlass {
  readonly name: string;
  readonly file: string;
  readonly spec: LockdownSpecData;
}

export type FlagResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: readonly string[] };

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const TIGHTEN = /^([a-z0-9][-a-z0-9]*)=([1-9][0-9]*)(?:\/(second|minute|hour))?$/;

function actionsFrom(f: BreakGlassFlags, errors: string[]): Record<string, unknown>[] {
  const actions: Record<string, unknown>[] = [];
  const cidrs: string[] = [];
  for (const c of f.block) {
    const p = parseCidr(c);
    if (!p.ok) errors.push(`--block ${c}: ${p.message}`);
    else cidrs.push(c);
  }
  if (cidrs.length) actions.push({ type: 'blockNetworks', cidrs, ...(f.route.length ? { routes: [...f.route] } : {}) });
  else if (f.route.length && !f.block.length) errors.push('--route scopes --block: give --block too');
  for (const t of f.tighten) {
    const m = TIGHTEN.exec(t);
    if (!m) errors.push(`--tighten ${t}: must be RATELIMIT=N or RATELIMIT=N/${RATE_UNITS.join('|')} (e.g. login-per-ip=2/minute)`);
    else actions.push({ type: 'tightenRateLimit', rateLimit: m[1], requests: Number(m[2]), ...(m[3] ? { per: m[3] } : {}) });
  }
  if (f.revokeJti.length || f.revokeSub.length) {
    actions.push({ type: 'revokeTokens', ...(f.revokeJti.length ? { jtis: [...f.revokeJti] } : {}), ...(f.revokeSub.length ? { subjects: [...f.revokeSub] } : {}) });
  }
  for (const r of f.disableRoute) actions.push({ type: 'disableRoute', route: r });
  return actions;
}

/** Flags → a Lockdown named `breakglass-<env>-<what>-<hash8>` starting now; every mistake reported at once. */
export function breakGlassLockdown(f: BreakGlassFlags, now: Date): FlagResult<BreakGlass> {
  const errors: string[] = [];
  if (!f.env.length) errors.push('--env: at least one environment is required');
  const duration = f.for === undefined ? null : parseDuration(f.for);
  if (f.for === undefined) errors.push('--for: how long the lockdown lasts is required (e.g. 1h)');
  else if (duration === null || duration <= 0) errors.push(`--for ${f.for}: must be a duration such as 30m, 1h or 4h`);
  else if (duration > MAX_LOCKDOWN_MS) errors.push(`--for ${f.for}: at most 7 days (168h); a longer block belongs in Access policies`);
  if (!f.reason?.trim()) errors.push('--reason: say why (it is the first line the approver reads)');
  else if (f.reason.length > 2000) errors.push('--reason: at most 2000 characters');
  if (f.name !== undefined && (!NAME.test(f.name) || f.name.length > 63)) errors.push(`--name ${f.name}: must be a lower-case DNS label (a-z, 0-9, "-"; at most 63)`);
  const actions = actionsFrom(f, errors);
  if (!actions.length && !errors.length) errors.push('nothing to do: give at least one of --block, --tighten, --revoke-jti, --revoke-sub, --disable-route');
  if (errors.length) return { ok: false, errors };
  const createdAt = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const hash = createHash('sha256').update(JSON.stringify([f.env, actions, createdAt])).digest('hex').slice(0, 8);
  const name = f.name ?? `breakglass-${slugify(`${f.env.join('-')}-${String(actions[0]!.type)}`, 44)}-${hash}`;
  const spec: LockdownSpecData = {
    reason: f.reason!.trim(),
    owner: f.owner ?? '@oncall',
    createdAt,
    expiresAt: new Date(now.getTime() + duration!).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    environments: [...f.env],
    actions,
  };
  return { ok: true, value: { name, file: `${LOCKDOWN_FOLDER}/${name}.yaml`, spec } };
}

/**
 * The lift of a lockdown: an active one gets `expiresAt` = now (it ends when the lift is merged and
 * the file stays for the record); one that has not started yet is removed (null).
 */
export function liftedSpec(spec: LockdownSpecData, now: Date): LockdownSpecData | null {
  if (Date.parse(spec.createdAt) >= now.getTime()) return null;
  return { ...spec, expiresAt: now.toISOString().replace(/\.\d{3}Z$/, 'Z') };
}
