/**
 * What one publication does, decided without touching a stream: whether it may drop the fleets it
 * drops, what changed per fleet, and since when each fleet's version is the one in force. Pure: the
 * server (ads-server.ts) applies the plan to its streams and metrics.
 */
import type { XdsKind } from '../compiler/envoy/resources';
import { positionless, type Diagnostic } from '../compiler/result';
import { KINDS_IN_ORDER, type Snapshot } from './snapshot';

/** What one publication changed for one fleet. */
export interface FleetPublication {
  readonly fleet: string;
  readonly environment: string;
  readonly version: string;
  /** Types whose version differs from the previously published snapshot of the fleet. */
  readonly changedTypes: readonly XdsKind[];
}

export interface Publication {
  readonly fleets: readonly FleetPublication[];
  /** Fleets published before and absent now: their streams are closed with NOT_FOUND. */
  readonly removedFleets: readonly string[];
  /** Resources encoded by this publication (the rest came from the encode cache). */
  readonly encoded: number;
}

/** Fleets a publication may drop while Envoys of them are connected (`true`: any). */
export type AllowFleetRemoval = boolean | readonly string[] | undefined;

/** Since when a fleet's snapshot version is the one in force (a node not in sync is stale since then). */
export interface FleetSince {
  readonly version: string;
  readonly since: number;
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One error per fleet in force that `next` drops while Envoys of it are connected, unless `allow`
 * lets it go: every Envoy of it would lose its control server at once. `connected`: fleet → the
 * node ids of its streams.
 */
export function refusedFleetDrops(
  next: { has(fleet: string): boolean },
  connected: ReadonlyMap<string, readonly string[]>,
  commit: string,
  allow: AllowFleetRemoval,
): Diagnostic[] {
  if (allow === true) return [];
  const errors: Diagnostic[] = [];
  for (const fleet of [...connected.keys()].sort(byName)) {
    const streams = connected.get(fleet)!;
    if (next.has(fleet) || streams.length === 0 || (Array.isArray(allow) && allow.includes(fleet))) continue;
    const nodes = [...new Set(streams)].sort();
    const shown = nodes.length > 5 ? `${nodes.slice(0, 5).join(', ')}, …` : nodes.join(', ');
    errors.push(
      positionless(
        `commit ${commit.slice(0, 12)} drops fleet "${fleet}" (no Environment lists it any more) while ${nodes.length} Envoy(s) of it are connected (${shown}); ` +
        `they would get no configuration at all. Refused; to remove the fleet on purpose, add the trailer "Portcullis-Allow-Fleet-Removal: ${fleet}" to the commit message, or run serve with --allow-fleet-removal`,
        { subject: `fleet/${fleet}` },
      ),
    );
  }
  return errors;
}

export interface PublicationPlan {
  readonly publication: Publication;
  /** The new per-fleet "in force since" (unchanged versions keep their time). */
  readonly since: ReadonlyMap<string, FleetSince>;
}

/**
 * Compares the snapshots `built` (in publication order) with those in force (`previous`): per fleet
 * the types whose version changed, the fleets removed, and the new "since" times (`now` for a
 * fleet whose version changed or that is new).
 */
export function planPublication(
  previous: ReadonlyMap<string, Snapshot>,
  built: ReadonlyMap<string, Snapshot>,
  since: ReadonlyMap<string, FleetSince>,
  now: number,
  encoded: number,
): PublicationPlan {
  const fleets: FleetPublication[] = [];
  const nextSince = new Map<string, FleetSince>();
  for (const [fleet, snapshot] of built) {
    const kept = since.get(fleet);
    nextSince.set(fleet, kept?.version === snapshot.version ? kept : { version: snapshot.version, since: now });
    const old = previous.get(fleet);
    fleets.push({
      fleet,
      environment: snapshot.environment,
      version: snapshot.version,
      changedTypes: KINDS_IN_ORDER.filter((k) => !old || old.types[k].version !== snapshot.types[k].version),
    });
  }
  const removedFleets = [...previous.keys()].filter((f) => !built.has(f)).sort();
  return { publication: { fleets, removedFleets, encoded }, since: nextSince };
}
