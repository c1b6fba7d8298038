/**
 * `cloud.deploy` fields from what `pulumi up` printed: the `--json` engine-event stream (JSON
 * Lines; its summaryEvent), the `--output json` summary object, a `preview --json` document, or
 * `pulumi stack history --json` (its newest update: what the deploy workflow reads after `up`).
 */
export interface PulumiDeploy {
  readonly result: 'succeeded' | 'failed' | 'canceled';
  /** Resource count per operation (create, update, delete, replace, same, …). */
  readonly changes: Readonly<Record<string, number>>;
  /** URNs of resources that changed (not `same`), at most 50. */
  readonly resources: readonly string[];
  readonly durationSeconds: number | null;
}

const MAX_RESOURCES = 50;

export function parsePulumiOutput(text: string): { ok: true; value: PulumiDeploy } | { ok: false; error: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, error: 'the file is empty' };
  try {
    const doc = JSON.parse(trimmed) as Record<string, unknown>;
    if (Array.isArray(doc)) {
      const update = fromHistory(doc as Record<string, unknown>[]);
      return update ? { ok: true, value: update } : { ok: false, error: 'the stack history holds no update' };
    }
    if (doc && typeof doc === 'object') {
      const fromDoc = fromSummaryDocument(doc);
      if (fromDoc) return { ok: true, value: fromDoc };
    }
  } catch {
    // not one document: an engine-event stream
  }
  return fromEventStream(trimmed);
}

/** `up --output json` ({result, summary, resources}) or `preview --json` ({steps, changeSummary}). */
function fromSummaryDocument(doc: Record<string, unknown>): PulumiDeploy | null {
  const counts = (doc.summary ?? doc.changeSummary ?? doc.changes) as Record<string, unknown> | undefined;
  if (!counts || typeof counts !== 'object') return null;
  const steps = (Array.isArray(doc.resources) ? doc.resources : Array.isArray(doc.steps) ? doc.steps : []) as { op?: string; urn?: string }[];
  const result = doc.result === 'failed' || doc.result === 'canceled' ? doc.result : 'succeeded';
  const duration = typeof doc.duration === 'number' ? doc.duration / (doc.duration > 1e6 ? 1e9 : 1) : null;
  return { result, changes: numbers(counts), resources: changed(steps), durationSeconds: duration };
}

/** `pulumi stack history --json`: newest first; the first entry of kind update. */
function fromHistory(entries: readonly Record<string, unknown>[]): PulumiDeploy | null {
  const u = entries.find((e) => e && (e.kind === 'update' || e.kind === undefined));
  if (!u) return null;
  const result = u.result === 'failed' || u.result === 'canceled' ? u.result : u.result === 'in-progress' ? 'failed' : 'succeeded';
  const start = Date.parse(String(u.startTime ?? ''));
  const end = Date.parse(String(u.endTime ?? ''));
  const durationSeconds = Number.isFinite(start) && Number.isFinite(end) ? Math.round((end - start) / 1000) : null;
  return { result, changes: numbers((u.resourceChanges ?? {}) as Record<string, unknown>), resources: [], durationSeconds };
}

function fromEventStream(text: string): { ok: true; value: PulumiDeploy } | { ok: false; error: string } {
  let summary: Record<string, unknown> | null = null;
  let failed = false;
  let canceled = false;
  const steps: { op?: string; urn?: string }[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let ev: Record<string, any>;
    try {
      ev = JSON.parse(line) as Record<string, any>;
    } catch (e) {
      return { ok: false, error: `line ${i + 1}: not JSON (${e instanceof Error ? e.message : String(e)}); expected \`pulumi up --json\` or \`--output json\`` };
    }
    if (ev.summaryEvent) summary = ev.summaryEvent as Record<string, unknown>;
    if (ev.cancelEvent) canceled = true;
    if (ev.diagnosticEvent?.severity === 'error') failed = true;
    if (ev.resOutputsEvent?.metadata) steps.push(ev.resOutputsEvent.metadata as { op?: string; urn?: string });
    if (ev.resOpFailedEvent) failed = true;
  }
  if (!summary) return { ok: false, error: 'no summaryEvent in the engine-event stream (did `pulumi up --json` finish?)' };
  return {
    ok: true,
    value: {
      result: canceled ? 'canceled' : failed ? 'failed' : 'succeeded',
      changes: numbers((summary.resourceChanges ?? {}) as Record<string, unknown>),
      resources: changed(steps),
      durationSeconds: typeof summary.durationSeconds === 'number' ? summary.durationSeconds : null,
    },
  };
}

function numbers(o: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(o).sort()) if (typeof o[k] === 'number') out[k] = o[k] as number;
  return out;
}

function changed(steps: readonly { op?: string; urn?: string }[]): string[] {
  return [...new Set(steps.filter((s) => s.op && s.op !== 'same' && s.urn).map((s) => s.urn!))].sort().slice(0, MAX_RESOURCES);
}
