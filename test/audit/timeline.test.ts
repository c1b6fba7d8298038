/** The timeline's rollout fold: when a commit came into force on each node. */
import { buildTimeline, type StoredRecord } from '../../audit';

const C = 'c52dd24aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
let seq = 0;
const rec = (kind: string, time: string, fields: Record<string, unknown>): StoredRecord => ({ v: 1, seq: ++seq, stream: 'serve', prev: '', hash: '', kind, time, ...fields }) as unknown as StoredRecord;

test('a commit is enforced at its first ACKs, not at a later re-push of the same commit (the recompile at expiry)', () => {
  const records: StoredRecord[] = [];
  for (const [node, ms] of [['envoy-a', 100], ['envoy-b', 300]] as const) {
    records.push(rec('xds.pushed', '2026-12-02T02:16:04.000Z', { node, type: 'route', version: 'v1', commit: C, environment: 'e2e' }));
    records.push(rec('xds.ack', `2026-12-02T02:16:04.${ms}Z`, { node, type: 'route', version: 'v1', commit: C, environment: 'e2e' }));
  }
  // The lockdown expires: the same commit recompiled, pushed and ACKed again a minute later.
  for (const node of ['envoy-a', 'envoy-b']) {
    records.push(rec('xds.pushed', '2026-12-02T02:17:01.000Z', { node, type: 'route', version: 'v2', commit: C, environment: 'e2e' }));
    records.push(rec('xds.ack', '2026-12-02T02:17:01.050Z', { node, type: 'route', version: 'v2', commit: C, environment: 'e2e' }));
  }
  const { rollouts } = buildTimeline(records);
  expect(rollouts).toEqual([{ commit: C, environment: 'e2e', nodes: 2, enforcing: 2, enforcedAt: '2026-12-02T02:16:04.300Z', slowest: { node: 'envoy-b', delayMs: 300 }, rejected: [] }]);
});
