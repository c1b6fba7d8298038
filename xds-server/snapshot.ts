/**
 * Snapshots: the translator's EnvoyResources for one (environment, fleet), encoded once and frozen.
 * ADS streams read them; they never encode. Versions are content hashes, so a restarted server or a
 * second replica computes the very same versions for the same compiled commit.
 */
import { createHash } from 'node:crypto';
import * as protobuf from 'protobufjs';
import type { Counter } from 'prom-client';
import type { EnvoyResource, EnvoyResources, JsonObject, XdsKind } from '../compiler/envoy/resources';
import { TYPE_URL } from '../compiler/envoy/resources';
import { positionless, type Diagnostic, type Result } from '../compiler/result';
import { compareText } from '../compiler/text-order';
import type { Encoder } from './encode';

/**
 * Push order for make-before-break: clusters, their endpoints, then listeners, then route scopes
 * (SRDS), then routes. The rate-limit service's config comes last; only that service subscribes to
 * it (never an Envoy).
 */
export const KINDS_IN_ORDER: readonly XdsKind[] = ['cluster', 'endpoint', 'listener', 'scope', 'route', 'ratelimit'];

/** A record with one entry per kind, each made by `make`. */
export function perKind<T>(make: (kind: XdsKind) => T): Record<XdsKind, T> {
  return Object.fromEntries(KINDS_IN_ORDER.map((k) => [k, make(k)])) as Record<XdsKind, T>;
}

export const KIND_OF_TYPE_URL: ReadonlyMap<string, XdsKind> = new Map(
  KINDS_IN_ORDER.map((k) => [TYPE_URL[k], k] as const),
);

/** One resource at one version, encoded once and shared by every snapshot and stream. */
export interface EncodedResource {
  readonly name: string;
  readonly version: string;
  /** google.protobuf.Any bytes (type_url + value): an element of DiscoveryResponse.resources as is. */
  readonly any: Uint8Array;
  /** envoy.service.discovery.v3.Resource bytes (name, version, Any): an element of DeltaDiscoveryResponse.resources. */
  readonly delta: Uint8Array;
}

export interface TypeSnapshot {
  readonly kind: XdsKind;
  readonly typeUrl: string;
  /** Content hash over the (name, version) pairs: equal on every replica for equal resources. */
  readonly version: string;
  /** Sorted by name. */
  readonly resources: ReadonlyMap<string, EncodedResource>;
}

export interface SnapshotMeta {
  /** Policy commit the resources were compiled from. */
  readonly commit: string;
  /** ISO 8601 time of compilation. */
  readonly compiledAt: string;
}

export interface Snapshot extends SnapshotMeta {
  readonly environment: string;
  readonly fleet: string;
  /** Hash of the four type versions. */
  readonly version: string;
  readonly types: Readonly<Record<XdsKind, TypeSnapshot>>;
  /**
   * Cluster name → the EDS service name Envoy will subscribe to for it, for EDS clusters whose
   * ClusterLoadAssignment is in this snapshot: the server waits for those subscriptions before it
   * pushes listeners and routes that may point at a new cluster.
   */
  readonly edsNameOfCluster: ReadonlyMap<string, string>;
}

/** Hash of (name, version) pairs, the version of a type or of any selection of its resources. */
export function versionOf(kind: XdsKind, entries: Iterable<{ readonly name: string; readonly version: string }>): string {
  const h = createHash('sha256').update(kind);
  const sorted = [...entries].sort((a, b) => compareText(a.name, b.name));
  for (const e of sorted) h.update('\n').update(e.name).update('\0').update(e.version);
  return h.digest('hex').slice(0, 16);
}

/**
 * Encoded resources keyed by (type, name, version): each resource version is encoded once, however
 * many fleets and streams receive it. `retain` drops what no current snapshot references.
 */
export class EncodeCache {
  private readonly entries = new Map<string, EncodedResource>();
  /** Encodes done since the cache was created (the metric counts the same, across caches). */
  encodeCount = 0;

  constructor(
    private readonly encoder: Encoder,
    private readonly encodes?: Counter<'type'>,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  encode(kind: XdsKind, resource: EnvoyResource): Result<EncodedResource> {
    const key = `${kind}\0${resource.name}\0${resource.version}`;
    const hit = this.entries.get(key);
    if (hit) return { ok: true, value: hit };
    const out = this.encoder.encodeAny(TYPE_URL[kind], resource.value);
    if (!out.ok) {
      return {
        ok: false,
        errors: out.errors.map((e) => positionless(e.message, { subject: `${kind}/${resource.name}`, path: e.path })),
      };
    }
    this.encodeCount++;
    this.encodes?.inc({ type: kind });
    const encoded: EncodedResource = {
      name: resource.name,
      version: resource.version,
      any: out.value,
      delta: deltaResourceBytes(resource.name, resource.version, out.value),
    };
    this.entries.set(key, encoded);
    return { ok: true, value: encoded };
  }

  /**
   * `encode` in steps (encoder.warmAny: one element of a repeated or map field each, then the
   * resource itself); nothing when this version is encoded already. A mistake shows in the
   * `encode` that follows, with its path.
   */
  *encodeSteps(kind: XdsKind, resource: EnvoyResource): Generator<void, void, undefined> {
    if (this.entries.has(`${kind}\0${resource.name}\0${resource.version}`)) return;
    yield* this.encoder.warmAny(TYPE_URL[kind], resource.value);
    this.encode(kind, resource);
    yield;
  }

  /** Keeps only entries some snapshot in `live` uses (called after each publication). */
  retain(live: Iterable<Snapshot>): void {
    const keep = new Set<string>();
    for (const s of live) {
      for (const kind of KINDS_IN_ORDER) {
        for (const r of s.types[kind].resources.values()) keep.add(`${kind}\0${r.name}\0${r.version}`);
      }
    }
    for (const key of this.entries.keys()) if (!keep.has(key)) this.entries.delete(key);
  }
}

/** envoy.service.discovery.v3.Resource{version=1, resource=2, name=3} around pre-encoded Any bytes. */
function deltaResourceBytes(name: string, version: string, any: Uint8Array): Uint8Array {
  return protobuf.Writer.create().uint32(10).string(version).uint32(18).bytes(any).uint32(26).string(name).finish();
}

/** The resources of one kind. */
function resourcesOf(resources: EnvoyResources, kind: XdsKind): readonly EnvoyResource[] {
  switch (kind) {
    case 'cluster': return resources.clusters;
    case 'endpoint': return resources.endpoints;
    case 'listener': return resources.listeners;
    case 'route': return resources.routes;
    case 'scope': return resources.scopes;
    case 'ratelimit': return resources.rateLimitConfigs;
  }
}

/**
 * The encoding of every resource of these fleets in small steps (EncodeCache.encodeSteps), for a
 * caller that runs them between turns of the event loop; buildSnapshot then finds them encoded.
 */
export function* encodeSteps(fleets: Iterable<EnvoyResources>, cache: EncodeCache): Generator<void, void, undefined> {
  for (const resources of fleets) {
    for (const kind of KINDS_IN_ORDER) {
      for (const r of resourcesOf(resources, kind)) if (r.name && r.version) yield* cache.encodeSteps(kind, r);
    }
  }
}

/**
 * Encodes every resource of one (environment, fleet) through the cache. All mistakes are collected;
 * on any mistake no snapshot is produced (half a config is never served).
 */
export function buildSnapshot(resources: EnvoyResources, meta: SnapshotMeta, cache: EncodeCache): Result<Snapshot> {
  const errors: Diagnostic[] = [];
  const file = `envoy resources of fleet ${resources.fleet}`;
  const types = {} as Record<XdsKind, TypeSnapshot>;
  for (const kind of KINDS_IN_ORDER) {
    const sorted = [...resourcesOf(resources, kind)].sort((a, b) => compareText(a.name, b.name));
    const map = new Map<string, EncodedResource>();
    for (const r of sorted) {
      if (!r.name || !r.version) {
        errors.push(positionless('a resource needs a name and a version', { file, subject: `${kind}/${r.name}` }));
        continue;
      }
      if (map.has(r.name)) {
        errors.push(positionless('duplicate resource name', { file, subject: `${kind}/${r.name}` }));
        continue;
      }
      const out = cache.encode(kind, r);
      if (!out.ok) {
        errors.push(...out.errors.map((e) => ({ ...e, file })));
        continue;
      }
      map.set(r.name, out.value);
    }
    types[kind] = { kind, typeUrl: TYPE_URL[kind], version: versionOf(kind, map.values()), resources: map };
  }
  if (errors.length > 0) return { ok: false, errors };
  const version = createHash('sha256')
    .update(KINDS_IN_ORDER.map((k) => types[k].version).join('/'))
    .digest('hex')
    .slice(0, 16);
  const edsNameOfCluster = new Map<string, string>();
  for (const r of resources.clusters) {
    const eds = edsServiceName(r.value);
    if (eds !== undefined && types.endpoint.resources.has(eds)) edsNameOfCluster.set(r.name, eds);
  }
  return {
    ok: true,
    value: Object.freeze({
      environment: resources.environment,
      fleet: resources.fleet,
      commit: meta.commit,
      compiledAt: meta.compiledAt,
      version,
      types: Object.freeze(types),
      edsNameOfCluster,
    }),
  };
}

/**
 * `built` with each type whose version equals the one in `previous` replaced by `previous`'s own
 * TypeSnapshot (same version: same name/version pairs, so the same encoded resources). Streams and
 * their memos (selections, frames, a delta stream's "nothing due" per type) are keyed by the
 * TypeSnapshot object: a one-route change then leaves every other type's work as it was.
 */
export function keepUnchangedTypes(built: Snapshot, previous: Snapshot | undefined): Snapshot {
  if (!previous) return built;
  const kept = KINDS_IN_ORDER.filter((k) => previous.types[k].version === built.types[k].version);
  if (kept.length === 0) return built;
  const types = { ...built.types };
  for (const k of kept) types[k] = previous.types[k];
  // The EDS names follow from clusters and endpoints alone: kept with them, so memos keyed by the map hold.
  const edsNameOfCluster = kept.includes('cluster') && kept.includes('endpoint') ? previous.edsNameOfCluster : built.edsNameOfCluster;
  return Object.freeze({ ...built, types: Object.freeze(types), edsNameOfCluster });
}

/** The EDS name Envoy subscribes to for an EDS cluster: eds_cluster_config.service_name, else its name. */
function edsServiceName(cluster: JsonObject): string | undefined {
  const type = cluster['type'];
  const edsConfig = cluster['eds_cluster_config'] ?? cluster['edsClusterConfig'];
  if (type !== 'EDS' && edsConfig === undefined) return undefined;
  if (edsConfig && typeof edsConfig === 'object' && !Array.isArray(edsConfig)) {
    const sn = (edsConfig as JsonObject)['service_name'] ?? (edsConfig as JsonObject)['serviceName'];
    if (typeof sn === 'string' && sn) return sn;
  }
  const name = cluster['name'];
  return typeof name === 'string' ? name : undefined;
}
