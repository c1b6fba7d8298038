/** The audit edge: hash-chained JSON Lines trail, its verifier and reader, and the Loki shipper. */
export type { AuditSink } from './sink';
export { NO_AUDIT, teeSink } from './sink';
export { AuditWriter, type AuditWriterOptions, type FsyncPolicy } from './writer';
export { CORRELATION_FIELDS, KINDS, KIND_NAMES, checkRecord } from './kinds';
export { verifyAuditDir, type VerifyReport, type StreamReport, type VerifyProblem } from './verify';
export { queryTrail, type TrailQuery } from './query';
export { buildTimeline, renderMarkdown, renderText, type Step, type Rollout } from './timeline';
export { parsePulumiOutput, type PulumiDeploy } from './pulumi';
export { LokiShipper, type LokiShipperOptions } from './loki';
export { RolloutStatusReporter, type CommitStatusClient, type RolloutNode, type RolloutStatusOptions, type StatusUpdate } from './rollout-status';
export type { StoredRecord } from './segments';
