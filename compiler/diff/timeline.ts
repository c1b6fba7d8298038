/**
 * The instants a plan is computed for: now, then every later instant at which either revision's
 * compiled policy changes by itself (a lockdown starts or expires: the IR's `nextChangeAt`), so a
 * lockdown dated in the future, or one that will expire, is planned when it matters. Pure: the
 * caller compiles; this only walks the instants.
 */

/** At most this many instants after now are planned; later ones are named as not planned. */
export const MAX_LATER_INSTANTS = 8;

export interface Instants {
  /** Now first, then ascending. */
  readonly instants: readonly Date[];
  /** The first instant past MAX_LATER_INSTANTS, when there is one (not planned). */
  readonly notPlannedFrom: Date | null;
}

/**
 * `nextChanges(t)`: the `nextChangeAt` of each revision compiled at `t` (null = nothing later).
 * Instants are strictly increasing, so the walk ends.
 */
export function planInstants(now: Date, nextChanges: (at: Date) => readonly (string | null)[], max = MAX_LATER_INSTANTS): Instants {
  const instants = [now];
  let at = now;
  for (;;) {
    const next = nextChanges(at)
      .filter((s): s is string => s !== null)
      .map((s) => new Date(s))
      .filter((d) => d.getTime() > at.getTime())
      .sort((a, b) => a.getTime() - b.getTime())[0];
    if (!next) return { instants, notPlannedFrom: null };
    if (instants.length > max) return { instants, notPlannedFrom: next };
    instants.push(next);
    at = next;
  }
}
