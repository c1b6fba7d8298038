/**
 * Whether each active lockdown is actually enforced, per fleet: the served commit carries it, but only
 * the Envoys that ACKed that commit's config enforce it. `/status` and `portcullis status` show this
 * next to the lockdown, so a lockdown a fleet NACKed never reads as "active". Pure.
 */
import type { NodeStatus } from '../xds-server/ads-server';

/** What the served commit says is active (structurally the follower's `ServedCommit`). */
export interface ServedLockdowns {
  readonly commit: string;
  readonly environments: readonly {
    readonly name: string;
    readonly fleets: readonly string[];
    readonly activeLockdowns: readonly { readonly name: string; readonly expiresAt: string }[];
  }[];
}

export interface FleetEnforcement {
  readonly fleet: string;
  /** Connected nodes of the fleet. */
  readonly nodes: number;
  /** Nodes that ACKed the served config (so they hold the lockdown). */
  readonly enforcedBy: readonly string[];
  /** Nodes that rejected the served config, with Envoy's reason. */
  readonly rejectedBy: readonly { readonly node: string; readonly type: string; readonly error: string; readonly at: string }[];
  /** Nodes still being sent the served config. */
  readonly pending: readonly string[];
  /** `active (enforced by 3/3 nodes)`, `NOT ENFORCED: rejected by …`, `NOT ENFORCED: no Envoy connected`, `pending (1/3 nodes)`. */
  readonly summary: string;
}

export interface LockdownEnforcement {
  readonly lockdown: string;
  readonly environment: string;
  readonly expiresAt: string;
  /** True when every fleet of the environment has nodes and all of them enforce it. */
  readonly enforced: boolean;
  readonly fleets: readonly FleetEnforcement[];
}

const ERROR_SHOWN = 200;

export function lockdownEnforcement(served: ServedLockdowns | null, nodes: readonly NodeStatus[]): LockdownEnforcement[] {
  if (!served) return [];
  const out: LockdownEnforcement[] = [];
  for (const env of served.environments) {
    if (env.activeLockdowns.length === 0) continue;
    const fleets = env.fleets.map((fleet) => fleetEnforcement(fleet, served.commit, nodes.filter((n) => n.fleet === fleet)));
    const enforced = fleets.every((f) => f.nodes > 0 && f.enforcedBy.length === f.nodes);
    for (const l of env.activeLockdowns) out.push({ lockdown: l.name, environment: env.name, expiresAt: l.expiresAt, enforced, fleets });
  }
  return out;
}

function fleetEnforcement(fleet: string, commit: string, nodes: readonly NodeStatus[]): FleetEnforcement {
  const enforcedBy: string[] = [];
  const rejectedBy: { node: string; type: string; error: string; at: string }[] = [];
  const pending: string[] = [];
  for (const n of nodes) {
    if (n.inSync) enforcedBy.push(n.id);
    // A NACK of a version sent from the served commit: the node refuses exactly this config.
    else if (n.lastNack && n.lastNack.commit === commit) rejectedBy.push({ node: n.id, type: n.lastNack.type, error: n.lastNack.error.slice(0, ERROR_SHOWN), at: n.lastNack.at });
    else pending.push(n.id);
  }
  const total = nodes.length;
  let summary: string;
  if (total === 0) summary = 'NOT ENFORCED: no Envoy of this fleet is connected';
  else if (rejectedBy.length > 0) summary = `NOT ENFORCED: rejected by ${rejectedBy.map((r) => `${r.node} (${r.type}: ${r.error})`).join(', ')}; enforced by ${enforcedBy.length}/${total} nodes`;
  else if (pending.length > 0) summary = `pending (enforced by ${enforcedBy.length}/${total} nodes)`;
  else summary = `active (enforced by ${total}/${total} nodes)`;
  return { fleet, nodes: total, enforcedBy, rejectedBy, pending, summary };
}
