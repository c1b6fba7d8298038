/**
 * The one interface every emitter (control server, bot, CLI) writes the audit trail through
 * (CONTRACTS.md). Emitters declare or import this shape; only cli/ wires the real writer in.
 */
export interface AuditSink {
  record(kind: string, fields: Record<string, unknown>): Promise<void>;
}

/** A sink that drops everything: the default when no audit directory is configured. */
export const NO_AUDIT: AuditSink = { record: async () => undefined };
