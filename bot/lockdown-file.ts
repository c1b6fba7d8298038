/**
 * Bot: the Lockdown overlay of an incident — the compiler's `instantiateLockdown` of the trigger for
 * each offending key, merged into one spec — as a YAML file, and the check that the base plus this
 * overlay compiles (an overlay that does not is never proposed). Pure.
 */
import { stringify } from 'yaml';
import { compileSources, type LockdownSpecData, type SourceFile } from '../compiler';
import type { PolicyIR } from '../compiler/ir/ir';
import type { Result } from '../compiler/result';

export type { LockdownSpecData } from '../compiler';

/** Several keys of one trigger in one lockdown: list actions of the same shape merge (cidrs, jtis, subjects). */
export function mergeSpecs(specs: readonly LockdownSpecData[]): LockdownSpecData {
  const [first, ...rest] = specs;
  if (!first) throw new Error('mergeSpecs: no spec');
  const actions: Record<string, unknown>[] = [];
  for (const a of specs.flatMap((s) => s.actions)) {
    const lists = ['cidrs', 'jtis', 'subjects'].filter((k) => Array.isArray(a[k]));
    const shape = (x: Record<string, unknown>) => JSON.stringify(Object.entries(x).filter(([k]) => !lists.includes(k)).sort());
    const same = lists.length ? actions.find((x) => shape(x) === shape(a)) : actions.find((x) => JSON.stringify(x) === JSON.stringify(a));
    if (!same) actions.push({ ...a });
    else for (const k of lists) same[k] = [...new Set([...(same[k] as string[]), ...(a[k] as string[])])];
  }
  const expiresAt = [first, ...rest].map((s) => s.expiresAt).sort().at(-1)!;
  return { ...first, expiresAt, actions };
}

export function lockdownYaml(name: string, spec: LockdownSpecData, header: string): string {
  const doc = { apiVersion: 'portcullis.dev/v1', kind: 'Lockdown', metadata: { name }, spec };
  return `${header.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n')}\n${stringify(doc, { lineWidth: 0 })}`;
}

/** Compiles the base files with `file` set to `text` (null: removed): the IR, or every error. */
export function compileWithOverlay(base: readonly SourceFile[], file: string, text: string | null, now: Date): Result<PolicyIR> {
  const files = base.filter((f) => f.path !== file);
  return compileSources(text === null ? files : [...files, { path: file, text }], now);
}
