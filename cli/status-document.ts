/**
 * The JSON document `GET /status` serves and `portcullis status` prints: which commit is in force,
 * which one was refused and why, and what every connected Envoy acknowledged or rejected.
 */
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
}
