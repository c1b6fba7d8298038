/**
 * Bot, interim until the Trigger kind (monitor engineer, CONTRACTS.md) is on main: Trigger
 * documents read from the base branch's policy files into the template the bot needs, and the
 * files that hold only Triggers left out of the compile (this branch's compiler does not know the
 * kind yet). After the rebase: TriggerIR from the compiled IR and compiler's instantiateLockdown.
 */
import { parseAllDocuments } from 'yaml';
import type { SourceFile } from '../compiler';
import { parseDuration } from '../compiler/duration';
import type { KeyType } from './alerts';
import type { TriggerTemplate } from './decide';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function triggerDocs(file: SourceFile): Obj[] | null {
  try {
    return parseAllDocuments(file.text).map((d) => d.toJS() as Obj).filter((d) => d && typeof d === 'object');
  } catch {
    return null;
  }
}

export function readTriggers(files: readonly SourceFile[]): Map<string, TriggerTemplate> {
  const out = new Map<string, TriggerTemplate>();
  for (const f of files) {
    for (const d of triggerDocs(f) ?? []) {
      if (d.kind !== 'Trigger' || typeof d.metadata?.name !== 'string') continue;
      const s = d.spec ?? {};
      const l = s.lockdown ?? {};
      const routes: string[] = Array.isArray(s.routes) ? s.routes : [];
      out.set(d.metadata.name, {
        name: d.metadata.name,
        key: (s.key ?? 'none') as KeyType,
        routes,
        lockdown: {
          durationMs: parseDuration(String(l.duration ?? '1h')) ?? 3_600_000,
          owner: String(l.owner ?? '@oncall'),
          reviewers: Array.isArray(l.reviewers) ? l.reviewers.map(String) : [],
          reason: String(l.reason ?? `Trigger ${d.metadata.name} fired${routes.length === 1 ? ' on {{route}}' : ''} in {{environment}}`),
          environments: Array.isArray(l.environments) ? l.environments.map(String) : null,
          actions: Array.isArray(l.actions) ? l.actions : [],
        },
      });
    }
  }
  return out;
}

/** The files the compiler on this branch accepts: those not made only of Trigger documents. */
export function compilableFiles(files: readonly SourceFile[]): SourceFile[] {
  return files.filter((f) => {
    const docs = triggerDocs(f);
    return !docs || docs.length === 0 || !docs.every((d) => d.kind === 'Trigger');
  });
}
