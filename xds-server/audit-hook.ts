/**
 * The xDS server's audit hook: xds.pushed / xds.ack / xds.nack per node and type, through any sink
 * shaped like audit/'s AuditSink (declared here structurally; cli/ passes the real writer in).
 * A failing sink is logged, never allowed to disturb a stream.
 */
import type { Logger } from 'pino';

export interface AuditRecorder {
  record(kind: string, fields: Record<string, unknown>): Promise<void>;
}

/** Fire and forget: the stream does not wait for the trail, and a write error only logs. */
export function auditEvent(sink: AuditRecorder | undefined, log: Logger, kind: string, fields: Record<string, unknown>): void {
  if (!sink) return;
  sink.record(kind, fields).catch((e: unknown) => log.error({ err: e, kind }, 'audit record failed'));
}
