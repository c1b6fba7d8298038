/** `portcullis status` warnings: fleet limits no rate-limit service holds, only where Envoys are connected. */
import type { PolicyIR } from '../../compiler/ir/ir';
import { rateLimitServiceWarnings, type NodeStatus } from '../../cli/status-document';

// Only the fields the warning reads.
const ir = {
  environments: [
    { name: 'prod', fleets: ['edge-prod'], routes: [{ rateLimits: [{ scope: 'fleet', name: 'orders-per-network', onServiceFailure: 'allow' }] }] },
    { name: 'dev', fleets: ['edge-dev'], routes: [{ rateLimits: [{ scope: 'local', name: 'local-only', onServiceFailure: 'allow' }] }] },
  ],
} as unknown as PolicyIR;

const node = (fleet: string, ...types: [string, string | null][]) =>
  ({ fleet, types: types.map(([type, ackedVersion]) => ({ type, ackedVersion, servedVersion: 'v1' })) }) as unknown as NodeStatus;

test.each([
  ['no node at all: nothing enforces the limits yet', [], []],
  ['only the rate-limit service is connected', [node('edge-prod', ['ratelimit', 'v1'])], []],
  ['an Envoy and no service', [node('edge-prod', ['cluster', 'v1'], ['listener', 'v1'])], ['Environment/prod']],
  ['an Envoy and a service that has not ACKed', [node('edge-prod', ['listener', 'v1']), node('edge-prod', ['ratelimit', null])], ['Environment/prod']],
  ['an Envoy and a service in sync', [node('edge-prod', ['listener', 'v1']), node('edge-prod', ['ratelimit', 'v1'])], []],
  ['an Envoy of another environment', [node('edge-dev', ['listener', 'v1'])], []],
])('%s', (_what, nodes, warned) => {
  expect(rateLimitServiceWarnings(ir, nodes).map((w) => w.slice(0, w.indexOf(':')))).toEqual(warned);
});
