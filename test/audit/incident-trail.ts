/** Test data: one incident's records as the bot, the control server and the deploy workflow write them. */
import { AuditWriter } from '../../audit';

export const INCIDENT = 'login-stuffing/prod/203.0.113.0/24';
export const MERGE = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

type Rec = [offsetMs: number, stream: 'bot' | 'serve' | 'cli', kind: string, fields: Record<string, unknown>];

export function incidentRecords(nodes: readonly string[]): Rec[] {
  const recs: Rec[] = [
    [0, 'bot', 'alert.received', { incident: INCIDENT, fingerprint: 'f00d', trigger: 'login-stuffing', environment: 'prod', status: 'firing' }],
    [10, 'bot', 'incident.opened', { incident: INCIDENT, environment: 'prod' }],
    [1000, 'bot', 'pr.opened', { incident: INCIDENT, pr: 41, lockdown: 'login-stuffing-203-0-113-0-24', title: 'Lockdown: block 203.0.113.0/24' }],
    [1100, 'bot', 'review.requested', { incident: INCIDENT, pr: 41, reviewers: ['alice'] }],
    [217000, 'bot', 'review.submitted', { incident: INCIDENT, pr: 41, actor: 'alice', state: 'approved', commit: 'feedbeef00' }],
    [229000, 'bot', 'pr.merged', { incident: INCIDENT, pr: 41, actor: 'alice', commit: MERGE }],
    [229400, 'serve', 'policy.seen', { commit: MERGE }],
    [229500, 'serve', 'policy.compiled', { commit: MERGE, version: 'v-merge', fleetVersions: { prod: 'f1' } }],
    [229500, 'serve', 'lockdown.started', { lockdown: 'login-stuffing-203-0-113-0-24', environment: 'prod', commit: MERGE, expiresAt: '2026-12-01T14:05:52.000Z' }],
  ];
  nodes.forEach((node, i) => {
    recs.push([229510, 'serve', 'xds.pushed', { node, type: 'route', version: 'r2', commit: MERGE, environment: 'prod' }]);
    recs.push([229600 + i * 100, 'serve', 'xds.ack', { node, type: 'route', version: 'r2', commit: MERGE, environment: 'prod' }]);
  });
  recs.push([487000, 'cli', 'cloud.deploy', { stack: 'prod', result: 'succeeded', commit: MERGE, environment: 'prod', changes: { update: 1, same: 7 } }]);
  recs.push([14640000, 'serve', 'lockdown.expired', { lockdown: 'login-stuffing-203-0-113-0-24', environment: 'prod', commit: 'later00commit' }]);
  // Noise: another commit's rollout and an unrelated incident.
  recs.push([300000, 'serve', 'xds.ack', { node: nodes[0], type: 'route', version: 'r3', commit: 'other0commit', environment: 'prod' }]);
  recs.push([300000, 'bot', 'alert.received', { incident: 'scraper/prod/-', fingerprint: 'beef' }]);
  return recs.sort((a, b) => a[0] - b[0]);
}

/** Writes the records into `dir`, one writer per stream, times relative to `start`. */
export async function writeIncident(dir: string, start: Date, nodes: readonly string[]): Promise<void> {
  let now = start;
  const writers = new Map<string, AuditWriter>();
  for (const [offset, stream, kind, fields] of incidentRecords(nodes)) {
    now = new Date(start.getTime() + offset);
    let w = writers.get(stream);
    if (!w) writers.set(stream, (w = await AuditWriter.open({ dir, stream, fsync: 'never', clock: () => now })));
    await w.record(kind, fields);
  }
  for (const w of writers.values()) await w.close();
}
