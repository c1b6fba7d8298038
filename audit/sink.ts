/**
 * The one interface every emitter (control server, bot, CLI) writes the audit trail through
 * (CONTRACTS.md). Emitters declare or import this shape; only cli/ wires the real writer in.
 */
export interface AuditSink {
  record(kind: string, fields: Record<string, unknown>): Promise<void>;
}

/** A sink that drops everything: the default when no audit directory is configured. */
export const NO_AUDIT: AuditSink = { record: async () => undefined };

/** One sink that writes to several (the trail and the rollout reporter); fails if any of them fails. */
export function teeSink(...sinks: readonly AuditSink[]): AuditSink {
  return { record: async (kind, fields) => void (await Promise.all(sinks.map((s) => s.record(kind, fields)))) };
}
