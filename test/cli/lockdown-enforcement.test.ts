import { lockdownEnforcement, type ServedLockdowns } from '../../cli/lockdown-enforcement';
import type { NodeStatus } from '../../xds-server/ads-server';

const served: ServedLockdowns = {
  commit: 'c2',
  environments: [
    { name: 'prod', fleets: ['edge-prod', 'edge-dr'], activeLockdowns: [{ name: 'stuffing', expiresAt: '2026-11-20T14:00:00Z' }] },
    { name: 'dev', fleets: ['edge-dev'], activeLockdowns: [] },
  ],
};

function node(id: string, fleet: string, state: 'sync' | 'nack' | 'old-nack' | 'pending'): NodeStatus {
  const nack = { type: 'route' as const, version: 'v2', commit: state === 'old-nack' ? 'c1' : 'c2', error: 'regex too large', errorBytes: 15, errorTruncated: false, code: 13, resources: ['r'], at: '2026-11-20T10:00:00Z' };
  return {
    id,
    fleet,
    environment: 'prod',
    connectedAt: '2026-11-20T09:00:00Z',
    protocol: 'delta',
    streamId: 1,
    peer: 'ipv4:127.0.0.1:5000',
    userAgent: 'envoy 1.40.0',
    servedCommit: 'c2',
    types: [],
    inSync: state === 'sync',
    lastNack: state === 'nack' || state === 'old-nack' ? nack : null,
  };
}

test.each([
  ['every node ACKed', [node('p1', 'edge-prod', 'sync'), node('p2', 'edge-prod', 'sync'), node('d1', 'edge-dr', 'sync')], true, ['active (enforced by 2/2 nodes)', 'active (enforced by 1/1 nodes)']],
  ['one node NACKed the served commit', [node('p1', 'edge-prod', 'sync'), node('p2', 'edge-prod', 'nack'), node('d1', 'edge-dr', 'sync')], false, ['NOT ENFORCED: rejected by p2 (route: regex too large); enforced by 1/2 nodes', 'active (enforced by 1/1 nodes)']],
  ['a fleet with no Envoy', [node('p1', 'edge-prod', 'sync')], false, ['active (enforced by 1/1 nodes)', 'NOT ENFORCED: no Envoy of this fleet is connected']],
  ['a node behind (an older NACK, or not ACKed yet)', [node('p1', 'edge-prod', 'old-nack'), node('d1', 'edge-dr', 'pending')], false, ['pending (enforced by 0/1 nodes)', 'pending (enforced by 0/1 nodes)']],
])('%s', (_label, nodes, enforced, summaries) => {
  const [l, ...more] = lockdownEnforcement(served, nodes);
  expect(more).toEqual([]); // dev has no active lockdown
  expect(l).toMatchObject({ lockdown: 'stuffing', environment: 'prod', expiresAt: '2026-11-20T14:00:00Z', enforced });
  expect(l!.fleets.map((f) => f.summary)).toEqual(summaries);
});

test('nothing served: no lockdowns', () => {
  expect(lockdownEnforcement(null, [])).toEqual([]);
});
