/**
 * Bot: the Triggers at the base branch, from the compiled IR (every environment's `triggers`, one
 * TriggerIR per name), and a lockdown spec from one of them through the compiler's pure
 * `instantiateLockdown`. A base that does not compile has no triggers the bot may act on.
 */
import { compileSources, instantiateLockdown, type LockdownSpecData, type SourceFile, type TriggerIR } from '../compiler';
import type { Result } from '../compiler/result';

export type TriggerMap = ReadonlyMap<string, TriggerIR>;

/** Every Trigger of the base, by name; the compile errors when the base does not compile. */
export function triggersAt(files: readonly SourceFile[], now: Date): Result<TriggerMap> {
  const ir = compileSources(files, now);
  if (!ir.ok) return ir;
  const out = new Map<string, TriggerIR>();
  for (const env of ir.value.environments) for (const t of env.triggers) out.set(t.name, t);
  return { ok: true, value: out };
}

/** The trigger's Lockdown filled for one firing key, or the reason it cannot be (a malformed key). */
export function lockdownFor(trigger: TriggerIR, firing: { environment: string; key: string; route: string }, now: Date): LockdownSpecData | string {
  try {
    return instantiateLockdown(trigger, { environment: firing.environment, key: firing.key || undefined, route: firing.route || undefined }, now);
  } catch (e) {
    if (e instanceof RangeError) return e.message;
    throw e;
  }
}
