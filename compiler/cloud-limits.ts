/**
 * The AWS limits `portcullis plan` checks (compiler/cloud), for `validate`: run for every environment
 * that names cloud gateways, and each breach placed at the policy that causes it (the plan only
 * knows `Kind/name` and a field path), so a PR sees `file:line:col` before anyone runs `plan`.
 */
import { planCloud } from './cloud';
import type { PolicyIR } from './ir/ir';
import { loadFile, type SourceFile } from './model/load';
import type { DocSource, FieldPath } from './model/types';
import { createLocator } from './model/validate';
import { compareDiagnostics, type Diagnostic } from './result';

/** Every cloud-limit breach of `ir` (compiled from `files`), positioned; [] when AWS would accept the plans. */
export function cloudLimitDiagnostics(files: readonly SourceFile[], ir: PolicyIR): Diagnostic[] {
  const breaches = ir.environments.flatMap((env) => {
    if (!env.cloud) return [];
    const plan = planCloud(env);
    return plan.ok ? [] : plan.errors.map((d) => ({ d, env: `Environment/${env.name}` }));
  });
  if (breaches.length === 0) return [];
  // Positions only on this (rare) path: the documents' sources, and their YAML for the field.
  const sources = new Map<string, DocSource>();
  for (const f of files) for (const doc of loadFile(f).documents) sources.set(`${doc.kind}/${doc.name}`, doc.source);
  const locator = createLocator(new Map(files.map((f) => [f.path, f.text])));
  return breaches
    .map(({ d, env }) => {
      const subject = sources.has(d.subject) ? d.subject : env;
      const source = sources.get(subject);
      if (!source) return d;
      const path = fieldPath(d.path);
      const at = locator.locate(source, path.length > 0 ? path : ['metadata', 'name']);
      return { ...d, subject, file: source.file, line: at.line, column: at.column };
    })
    .sort(compareDiagnostics);
}

/** `spec.actions[2].status` → its segments; stops at the first part that is not a field name or index. */
function fieldPath(text: string): FieldPath {
  const out: (string | number)[] = [];
  for (const m of text.matchAll(/([A-Za-z_][\w-]*)((?:\[\d+\])*)(?:\.|$)|./g)) {
    if (!m[1]) break;
    out.push(m[1], ...[...(m[2] ?? '').matchAll(/\[(\d+)\]/g)].map((i) => Number(i[1])));
  }
  return out;
}
