/**
 * The audit record kinds, their required fields, and which of them are incident events (fsynced
 * before `record()` resolves). One table, used by the writer, `audit record` and the docs.
 * Required is kept to what links a record into its timeline: a record refused is a record lost.
 */

/** Fields that link records of one incident together; present when known. */
export const CORRELATION_FIELDS = ['incident', 'fingerprint', 'pr', 'commit', 'version', 'environment', 'node', 'type', 'actor'] as const;

/** Set by the writer; a caller may not supply them. */
export const RESERVED_FIELDS = ['v', 'seq', 'time', 'kind', 'stream', 'prev', 'hash'] as const;

export interface KindSpec {
  readonly required: readonly string[];
  /** Incident events are fsynced (with the default `fsync: 'incident'`). */
  readonly incident: boolean;
  readonly summary: string;
}

export const KINDS: Readonly<Record<string, KindSpec>> = {
  'alert.received': { required: ['incident', 'fingerprint'], incident: true, summary: 'an Alertmanager alert reached the bot' },
  'incident.opened': { required: ['incident'], incident: true, summary: 'the bot opened an incident for a new key' },
  'pr.opened': { required: ['pr'], incident: true, summary: 'a lockdown (or policy) pull request was opened' },
  'pr.updated': { required: ['pr'], incident: true, summary: 'the pull request got a new commit or description' },
  'review.requested': { required: ['pr'], incident: true, summary: 'reviews were requested' },
  'review.submitted': { required: ['pr', 'actor', 'state'], incident: true, summary: 'a review was submitted (approver, state, reviewed commit)' },
  'pr.merged': { required: ['pr', 'commit'], incident: true, summary: 'the pull request was merged (merge commit, merged by)' },
  'policy.seen': { required: ['commit'], incident: false, summary: 'the control server saw a new policy commit' },
  'policy.refused': { required: ['errors'], incident: true, summary: 'a policy commit (or a lockdown the bot generated) did not compile; the last good one stays in force' },
  'policy.compiled': { required: ['commit', 'version'], incident: false, summary: 'a policy commit compiled and was handed to the xDS server (commit → versions)' },
  'xds.pushed': { required: ['node', 'type', 'version'], incident: false, summary: 'a response was sent to one Envoy for one type' },
  'xds.ack': { required: ['node', 'type', 'version'], incident: false, summary: 'an Envoy accepted a version of one type' },
  'xds.nack': { required: ['node', 'type', 'version', 'error'], incident: true, summary: 'an Envoy rejected a version of one type (with its error detail)' },
  'lockdown.started': { required: ['lockdown', 'environment'], incident: true, summary: 'a lockdown came into force (by the clock or a commit)' },
  'lockdown.expired': { required: ['lockdown', 'environment'], incident: true, summary: 'a lockdown left force (expired or removed)' },
  'shadow.started': { required: ['overlay', 'environment'], incident: true, summary: 'a lockdown started in shadow mode on an environment\'s fleets (control-server API; nothing enforced)' },
  'shadow.ended': { required: ['overlay', 'environment', 'reason'], incident: true, summary: 'a shadow overlay ended (deleted, expired, or no longer compiling with the policy)' },
  'cloud.deploy': { required: ['stack', 'result'], incident: true, summary: 'a Pulumi update of a cloud stack (from `pulumi up`)' },
  'breakglass.opened': { required: ['actor'], incident: true, summary: 'a break-glass lockdown was opened from the CLI' },
  'audit.recovered': { required: ['segment', 'offset', 'bytes', 'sha256'], incident: true, summary: 'the writer found a torn last line after a crash and set it aside' },
};

export const KIND_NAMES: readonly string[] = Object.keys(KINDS);

/** Everything wrong with a record a caller wants written, as messages; empty when it is fine. */
export function checkRecord(kind: string, fields: Readonly<Record<string, unknown>>): string[] {
  const spec = KINDS[kind];
  if (!spec) return [`unknown audit record kind "${kind}" (known: ${KIND_NAMES.join(', ')})`];
  const errors: string[] = [];
  for (const name of RESERVED_FIELDS) if (name in fields) errors.push(`${kind}: field "${name}" is set by the audit writer`);
  for (const name of spec.required) {
    const v = fields[name];
    if (v === undefined || v === null || v === '') errors.push(`${kind}: required field "${name}" is missing (required: ${spec.required.join(', ')})`);
  }
  if ('pr' in fields && fields.pr !== undefined && !(Number.isInteger(fields.pr) && (fields.pr as number) > 0)) {
    errors.push(`${kind}: field "pr" must be a positive integer (got ${JSON.stringify(fields.pr)})`);
  }
  return errors;
}
