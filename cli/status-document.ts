/**
 * The JSON document `GET /status` serves and `portcullis status` prints: which commit is in force,
 * which one was refused and why, and what every connected Envoy acknowledged or rejected.
 */
import type { PolicyIR } from '../compiler/ir/ir';
import type { FollowerStatus } from '../sources/follower';
import type { NodeStatus, RefusedStream } from '../xds-server/ads-server';
import type { LockdownEnforcement } from './lockdown-enforcement';

export type { NodeNack, NodeStatus, NodeTypeStatus, RefusedStream } from '../xds-server/ads-server';
export type { FleetEnforcement, LockdownEnforcement } from './lockdown-enforcement';


export interface StatusDocument {
  readonly server: {
    readonly version: string;
    readonly startedAt: string;
    readonly xds: { readonly host: string; readonly port: number };
  };
  readonly policy: FollowerStatus;
  readonly nodes: readonly NodeStatus[];
  /** Every active lockdown with, per fleet, the nodes that enforce or refuse it (absent from older servers). */
  readonly lockdowns?: readonly LockdownEnforcement[];
  /** Envoys whose streams the server refuses (unknown fleet, …), newest first (absent from older servers). */
  readonly refusedStreams?: readonly RefusedStream[];
  /** What is in force but not enforced as written (e.g. fleet limits no rate-limit service counts; absent from older servers). */
  readonly warnings?: readonly string[];
}

/**
 * One warning per environment whose fleet-scope limits no connected rate-limit service holds (no
 * node of its fleets subscribed to the RateLimitConfig and ACKed the served version) while Envoys of
 * it are connected: they then fail those limits open (`allow`) or answer 503 (`deny`). An
 * environment with no Envoy connected enforces nothing yet, so there is nothing to warn about.
 */
export function rateLimitServiceWarnings(ir: PolicyIR | null, nodes: readonly NodeStatus[]): string[] {
  const out: string[] = [];
  for (const env of ir?.environments ?? []) {
    const limits = [...new Set(env.routes.flatMap((r) => r.rateLimits.filter((l) => l.scope === 'fleet').map((l) => `${l.name} (${l.onServiceFailure})`)))].sort();
    if (limits.length === 0) continue;
    const ofEnv = nodes.filter((n) => env.fleets.includes(n.fleet));
    if (!ofEnv.some((n) => n.types.some((t) => t.type !== 'ratelimit'))) continue;
    const counted = ofEnv.some((n) => n.types.some((t) => t.type === 'ratelimit' && t.ackedVersion !== null && t.ackedVersion === t.servedVersion));
    if (!counted) {
      out.push(`Environment/${env.name}: no rate-limit service holds its fleet limits ${limits.join(', ')}: Envoy admits what "allow" limits would refuse and answers 503 for "deny" limits until one connects`);
    }
  }
  return out;
}
