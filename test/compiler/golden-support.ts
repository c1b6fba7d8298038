/** Shared by the front-end's golden tests: how the IR is written, and where a case's `now` comes from. */
import { stringify } from 'yaml';

export const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === '1';

/** The IR as golden YAML: shared objects written out in full (no anchors), no line folding. */
export function irToYaml(value: unknown): string {
  return stringify(value, { aliasDuplicateObjects: false, lineWidth: 0 });
}

/** A case's instant, from its first line: `# now: 2026-11-20T12:00:00Z`. */
export function nowOf(text: string, file: string): Date {
  const m = /^# now: (\S+)/.exec(text);
  const now = m?.[1] ? new Date(m[1]) : null;
  if (!now || Number.isNaN(now.getTime())) throw new Error(`${file}: the first line must be "# now: <ISO-8601 instant>"`);
  return now;
}
