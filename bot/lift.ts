/**
 * Bot: the lift of a lockdown — what `portcullis lockdown lift NAME` and a `/portcullis lift`
 * comment on the incident PR both propose: an active lockdown gets `expiresAt` = now (it ends when
 * the lift is merged; the file stays for the record), one not started yet is removed. Pure.
 */
import { parseAllDocuments } from 'yaml';
import type { SourceFile } from '../compiler';
import { formatDiagnostic } from '../compiler/result';
import { compareText } from '../compiler/text-order';
import { liftedSpec } from './breakglass';
import { compileWithOverlay, lockdownYaml, type LockdownSpecData } from './lockdown-file';

export interface ListedLockdown {
  readonly name: string;
  readonly file: string;
  readonly spec: LockdownSpecData;
}

/** Every Lockdown document in `files`, by name. */
export function lockdownsIn(files: readonly SourceFile[]): ListedLockdown[] {
  const out: ListedLockdown[] = [];
  for (const f of files) {
    let docs;
    try {
      docs = parseAllDocuments(f.text);
    } catch {
      continue;
    }
    for (const d of docs) {
      const doc = d.toJS() as { kind?: string; metadata?: { name?: string }; spec?: LockdownSpecData } | null;
      if (doc?.kind === 'Lockdown' && doc.metadata?.name && doc.spec) out.push({ name: doc.metadata.name, file: f.path, spec: doc.spec });
    }
  }
  return out.sort((a, b) => compareText(a.name, b.name));
}

export interface LiftChange {
  readonly branch: string;
  readonly file: string;
  /** The file's new text, or null to remove it. */
  readonly text: string | null;
  readonly title: string;
  readonly body: string;
}

export const liftBranch = (name: string) => `portcullis/lift/${name}`;

/** The lift of Lockdown `name` on the base, checked to compile; a message when there is none to lift. */
export function liftChange(files: readonly SourceFile[], name: string, now: Date, by: string, base: string): LiftChange | string {
  const found = lockdownsIn(files).find((l) => l.name === name);
  if (!found) return `no Lockdown named ${name} on ${base} (portcullis lockdown list shows them)`;
  if (Date.parse(String(found.spec.expiresAt)) <= now.getTime()) return `Lockdown ${name} already expired at ${found.spec.expiresAt}: nothing to lift`;
  const lifted = liftedSpec(found.spec, now);
  const text = lifted ? lockdownYaml(name, lifted, `Lifted by ${by} at ${lifted.expiresAt}.`) : null;
  const compiled = compileWithOverlay(files, found.file, text, now);
  if (!compiled.ok) return `the lift does not compile with the base:\n${compiled.errors.map((e) => `  ${formatDiagnostic(e)}`).join('\n')}`;
  const what = lifted ? `ends at merge (expiresAt ${lifted.expiresAt})` : 'had not started: the file is removed';
  return { branch: liftBranch(name), file: found.file, text, title: `Lift lockdown ${name}`, body: `### Lift lockdown \`${name}\`\n\nRequested by ${by}. The lockdown ${what}.\n` };
}
