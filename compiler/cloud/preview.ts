/**
 * `pulumi preview --json` output → a per-stack summary for the plan comment: how many resources
 * are created, updated, replaced, deleted, and which. The input is Pulumi's documented preview
 * digest: `{ steps: [{ op, urn, … }], changeSummary: { create: n, … }, diagnostics?: [...] }`
 * (one step per resource; URNs `urn:pulumi:<stack>::<project>::<parent$type>::<name>`). Pure: text in.
 */
import { fail, ok, positionless, type Result } from '../result';

export type PreviewOp = 'create' | 'update' | 'replace' | 'delete' | 'import' | 'same' | 'other';

export interface PreviewResource {
  readonly op: PreviewOp;
  /** The op as Pulumi named it (`create-replacement`, `read`, …). */
  readonly pulumiOp: string;
  /** `aws:wafv2/ipSet:IpSet` */
  readonly type: string;
  readonly name: string;
}

export interface PreviewSummary {
  readonly stack: string;
  /** Where it was read from, for messages. */
  readonly source: string;
  readonly counts: Readonly<Record<Exclude<PreviewOp, 'other'>, number>>;
  /** Resources that change (not `same`), in the preview's order. */
  readonly changes: readonly PreviewResource[];
  /** Error diagnostics the preview reported (the preview failed). */
  readonly errors: readonly string[];
}

const OPS: Readonly<Record<string, PreviewOp>> = {
  create: 'create',
  update: 'update',
  replace: 'replace',
  delete: 'delete',
  import: 'import',
  'import-replacement': 'replace',
  same: 'same',
};

/** Replacements appear as three steps (replace, create-replacement, delete-replaced): only `replace` counts. */
const REPLACEMENT_PARTS = new Set(['create-replacement', 'delete-replaced', 'discard-replaced', 'read-replacement']);

const URN = /^urn:pulumi:([^:]+)::([^:]+)::([^:]+(?::[^:]+)*)::(.*)$/;

export function parsePreview(text: string, source: string, stackHint?: string): Result<PreviewSummary> {
  const bad = (message: string): Result<PreviewSummary> =>
    fail([positionless(`not a \`pulumi preview --json\` document: ${message}`, { file: source })]);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return bad((e as Error).message);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return bad('expected a JSON object');
  const { steps = [], diagnostics = [] } = doc as { steps?: unknown; diagnostics?: unknown };
  if (!Array.isArray(steps)) return bad('"steps" is not a list');
  if (!Array.isArray(diagnostics)) return bad('"diagnostics" is not a list');
  const counts = { create: 0, update: 0, replace: 0, delete: 0, import: 0, same: 0 };
  const changes: PreviewResource[] = [];
  let stack = stackHint ?? '';
  for (const [i, step] of steps.entries()) {
    const { op, urn } = (step ?? {}) as { op?: unknown; urn?: unknown };
    if (typeof op !== 'string' || typeof urn !== 'string') return bad(`steps[${i}] has no "op" and "urn" strings`);
    const m = URN.exec(urn);
    if (!m) return bad(`steps[${i}].urn ${JSON.stringify(urn)} is not a Pulumi URN`);
    stack ||= m[1]!;
    const type = m[3]!.split('$').pop()!;
    if (type === 'pulumi:pulumi:Stack' || type === 'pulumi:providers:aws' || REPLACEMENT_PARTS.has(op)) continue;
    const kind = OPS[op] ?? 'other';
    if (kind !== 'other') counts[kind]++;
    if (kind !== 'same') changes.push({ op: kind, pulumiOp: op, type, name: m[4]! });
  }
  for (const d of diagnostics) {
    const m = URN.exec(String((d as { urn?: unknown } | null)?.urn ?? ''));
    if (m) stack ||= m[1]!;
  }
  const errors = diagnostics
    .filter((d): d is { severity: string; message: string } => typeof d === 'object' && d !== null && (d as { severity?: unknown }).severity === 'error')
    .map((d) => String(d.message).trim());
  if (!stack) return bad('no step names its stack; pass the file as STACK=FILE');
  return ok({ stack, source, counts, changes, errors });
}

/** `2 to create, 1 to update, 1 to replace, 0 to delete, 5 unchanged`. */
export function previewCounts(p: PreviewSummary): string {
  const c = p.counts;
  const parts = [`${c.create} to create`, `${c.update} to update`, ...(c.replace ? [`${c.replace} to replace`] : []), `${c.delete} to delete`];
  if (c.import) parts.push(`${c.import} to import`);
  return `${parts.join(', ')}, ${c.same} unchanged`;
}
