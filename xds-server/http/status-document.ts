/**
 * The JSON document `GET /status` serves and `portcullis status` prints: which commit is in force,
 * which one was refused and why, and what every connected Envoy acknowledged or rejected.
 */
import type { FollowerStatus } from '../git/follower';

export type XdsTypeName = 'cluster' | 'endpoint' | 'listener' | 'route';

/** One xDS type as one node acknowledged it. */
export interface NodeTypeStatus {
  readonly type: XdsTypeName;
  /** Version the node ACKed last; null before its first ACK. */
  readonly ackedVersion: string | null;
  /** Policy commit that version came from; null when unknown (e.g. served before a restart). */
  readonly ackedCommit: string | null;
  readonly ackedAt: string | null;
  /** Version the server has for the node's fleet right now (ACKed = in sync). */
  readonly servedVersion: string | null;
}

/** The last resource set a node rejected, with Envoy's own words. */
export interface NodeNack {
  readonly type: XdsTypeName;
  readonly version: string;
  readonly commit: string | null;
  /** `error_detail.message` from Envoy's DiscoveryRequest. */
  readonly error: string;
  /** Resource names the rejected response carried, when known. */
  readonly resources: readonly string[];
  readonly at: string;
}

export interface NodeStatus {
  readonly id: string;
  /** xDS `node.cluster`. */
  readonly fleet: string;
  /** Environment the fleet belongs to in the served IR; null when no environment lists it. */
  readonly environment: string | null;
  readonly connectedAt: string | null;
  /** `delta` or `sotw`. */
  readonly protocol: string | null;
  /** Commit of the snapshot the server serves the node's fleet now. */
  readonly servedCommit?: string | null;
  readonly types: readonly NodeTypeStatus[];
  readonly lastNack: NodeNack | null;
  /** True when every type ACKed the version served for the fleet. */
  readonly inSync: boolean;
}

export interface StatusDocument {
  readonly server: {
    readonly version: string;
    readonly startedAt: string;
    readonly xds: { readonly host: string; readonly port: number };
  };
  readonly policy: FollowerStatus;
  readonly nodes: readonly NodeStatus[];
}
