/** Durations as written in policies and on the command line: `250ms`, `5s`, `1m`, `2h` (and `0`). */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
/** An integer (no leading zeros, at most 13 digits) and a unit. */
export const DURATION_PATTERN = /^(0|[1-9][0-9]{0,12})(ms|s|m|h)$/;

/** Milliseconds, or null when `text` is not a duration. A bare `0` is zero (e.g. "poll interval 0 = off"). */
export function parseDuration(text: string): number | null {
  if (text === '0') return 0;
  const m = DURATION_PATTERN.exec(text);
  if (!m) return null;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
