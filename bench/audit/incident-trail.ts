/** One incident's records as the bot, the control server and the deploy workflow write them (tests and the audit benchmark). */
import { AuditWriter } from '../../audit';

export const INCIDENT = 'login-stuffing/prod/203.0.113.0/24';
export const MERGE = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

type Rec = [offsetMs: number, stream: 'bot' | 'serve' | 'cli', kind: string, fields: Record<string, unknown>];

export interface IncidentShape {
  readonly incident?: string;
  readonly pr?: number;
  readonly merge?: string;
  /** xDS types each node is sent and ACKs for the merge commit; default only routes. */
  readonly types?: readonly string[];
  readonly lockdown?: string;
  /** Leave out the unrelated records (the benchmark adds its own). */
  readonly noNoise?: boolean;
}

export function incidentRecords(nodes: readonly string[], shape: IncidentShape = {}): Rec[] {
  const INCIDENT_ = shape.incident ?? INCIDENT;
  const MERGE_ = shape.merge ?? MERGE;
  const PR = shape.pr ?? 41;
  const LOCKDOWN = shape.lockdown ?? 'login-stuffing-203-0-113-0-24';
  const recs: Rec[] = [
    [0, 'bot', 'alert.received', { incident: INCIDENT_, fingerprint: 'f00d', trigger: 'login-stuffing', environment: 'prod', status: 'firing' }],
    [10, 'bot', 'incident.opened', { incident: INCIDENT_, environment: 'prod' }],
    [1000, 'bot', 'pr.opened', { incident: INCIDENT_, pr: PR, lockdown: LOCKDOWN, title: 'Lockdown: block 203.0.113.0/24' }],
    [1100, 'bot', 'review.requested', { incident: INCIDENT_, pr: PR, reviewers: ['alice'] }],
    [217000, 'bot', 'review.submitted', { incident: INCIDENT_, pr: PR, actor: 'alice', state: 'approved', commit: 'feedbeef00' }],
    [229000, 'bot', 'pr.merged', { incident: INCIDENT_, pr: PR, actor: 'alice', commit: MERGE_ }],
    [229400, 'serve', 'policy.seen', { commit: MERGE_ }],
    [229500, 'serve', 'policy.compiled', { commit: MERGE_, version: 'v-merge', fleetVersions: { prod: 'f1' } }],
    [229500, 'serve', 'lockdown.started', { lockdown: LOCKDOWN, environment: 'prod', commit: MERGE_, expiresAt: '2026-12-01T14:05:52.000Z' }],
  ];
  nodes.forEach((node, i) => {
    for (const type of shape.types ?? ['route']) {
      recs.push([229510, 'serve', 'xds.pushed', { node, fleet: 'prod-edge', type, version: `${type}-r2`, commit: MERGE_, environment: 'prod', nonce: `${i}`, resources: 1 }]);
      recs.push([229600 + i * 100, 'serve', 'xds.ack', { node, fleet: 'prod-edge', type, version: `${type}-r2`, commit: MERGE_, environment: 'prod', nonce: `${i}`, latencyMs: 80 + i }]);
    }
  });
  recs.push([487000, 'cli', 'cloud.deploy', { stack: 'prod', result: 'succeeded', commit: MERGE_, environment: 'prod', changes: { update: 1, same: 7 } }]);
  recs.push([14640000, 'serve', 'lockdown.expired', { lockdown: LOCKDOWN, environment: 'prod', commit: 'later00commit' }]);
  if (shape.noNoise) return recs.sort((a, b) => a[0] - b[0]);
  // Noise: another commit's rollout and an unrelated incident.
  recs.push([300000, 'serve', 'xds.ack', { node: nodes[0], type: 'route', version: 'r3', commit: 'other0commit', environment: 'prod' }]);
  recs.push([300000, 'bot', 'alert.received', { incident: 'scraper/prod/-', fingerprint: 'beef' }]);
  return recs.sort((a, b) => a[0] - b[0]);
}

/** Writes the records into `dir`, one writer per stream, times relative to `start`. */
export async function writeIncident(dir: string, start: Date, nodes: readonly string[], shape: IncidentShape = {}): Promise<void> {
  let now = start;
  const writers = new Map<string, AuditWriter>();
  for (const [offset, stream, kind, fields] of incidentRecords(nodes, shape)) {
    now = new Date(start.getTime() + offset);
    let w = writers.get(stream);
    if (!w) writers.set(stream, (w = await AuditWriter.open({ dir, stream, fsync: 'never', clock: () => now })));
    await w.record(kind, fields);
  }
  for (const w of writers.values()) await w.close();
}
