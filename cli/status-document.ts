/**
 * The JSON document `GET /status` serves and `portcullis status` prints: which commit is in force,
 * which one was refused and why, and what every connected Envoy acknowledged or rejected.
 */
import type { FollowerStatus } from '../sources/follower';
import type { NodeStatus } from '../xds-server/ads-server';

export type { NodeNack, NodeStatus, NodeTypeStatus } from '../xds-server/ads-server';


export interface StatusDocument {
  readonly server: {
    readonly version: string;
    readonly startedAt: string;
    readonly xds: { readonly host: string; readonly port: number };
  };
  readonly policy: FollowerStatus;
  readonly nodes: readonly NodeStatus[];
}
