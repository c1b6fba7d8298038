/**
 * The ADS service on the wire: envoy.service.discovery.v3.AggregatedDiscoveryService, with
 * requests decoded through the Envoy descriptors and responses written by hand around the
 * pre-encoded resource bytes of a snapshot, so a resource is never encoded per stream, and a
 * response is framed once for every stream it is due on (ResponseFrame; the server writes its
 * bytes as they are, grpc/server.ts). `adsMethod` gives the benchmark's grpc-js client its method
 * definitions.
 */
import type { MethodDefinition } from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';

const SERVICE = '/envoy.service.discovery.v3.AggregatedDiscoveryService';
export const SOTW_METHOD = `${SERVICE}/StreamAggregatedResources`;
export const DELTA_METHOD = `${SERVICE}/DeltaAggregatedResources`;

type Codecs = Pick<MethodDefinition<unknown, unknown>, 'requestSerialize' | 'requestDeserialize' | 'responseSerialize' | 'responseDeserialize'>;

/** One ADS method (both are bidirectional streams) with the given codecs, for a grpc-js client (the bench's). */
export function adsMethod(path: typeof SOTW_METHOD | typeof DELTA_METHOD, codecs: Codecs): MethodDefinition<unknown, unknown> {
  return { path, requestStream: true, responseStream: true, ...codecs };
}

/** The parts of envoy.config.core.v3.Node the server uses. */
export interface NodeInfo {
  readonly id: string;
  /** `node.cluster`: the fleet (or, when unset, the node metadata's FLEET_METADATA_KEY). */
  readonly cluster: string;
  readonly userAgentName: string;
  readonly userAgentVersion: string;
}

/** google.rpc.Status as Envoy sends it with a NACK. */
export interface ErrorDetail {
  readonly code: number;
  readonly message: string;
}

export interface DiscoveryRequest {
  readonly versionInfo: string;
  readonly node: NodeInfo | null;
  readonly resourceNames: readonly string[];
  readonly typeUrl: string;
  readonly responseNonce: string;
  readonly errorDetail: ErrorDetail | null;
}

export interface DeltaDiscoveryRequest {
  readonly node: NodeInfo | null;
  readonly typeUrl: string;
  readonly resourceNamesSubscribe: readonly string[];
  readonly resourceNamesUnsubscribe: readonly string[];
  readonly initialResourceVersions: ReadonlyMap<string, string>;
  readonly responseNonce: string;
  readonly errorDetail: ErrorDetail | null;
}

/**
 * One response as gRPC writes it (the 5-byte length prefix and a DiscoveryResponse or
 * DeltaDiscoveryResponse), built once and written as it is to every stream it is due on: the
 * nonce is part of it, so streams sharing a response share its nonce (one response per type is in
 * flight on a stream, and a stream never gets the same frame twice: see AdsStream.deliver).
 */
export class ResponseFrame {
  constructor(
    readonly nonce: string,
    readonly bytes: Buffer,
  ) {}

  /** The protobuf message without the gRPC prefix (a view, not a copy). */
  get message(): Buffer {
    return this.bytes.subarray(5);
  }
}

/** `w`'s message behind a gRPC length prefix (uncompressed). */
function framed(nonce: string, w: protobuf.Writer): ResponseFrame {
  const message = w.finish();
  const bytes = Buffer.allocUnsafe(message.length + 5);
  bytes.writeUInt8(0, 0);
  bytes.writeUInt32BE(message.length, 1);
  bytes.set(message, 5);
  return new ResponseFrame(nonce, bytes);
}

function writeControlPlane(w: protobuf.Writer, field: number, id: string | undefined): void {
  if (!id) return;
  w.uint32((field << 3) | 2).fork().uint32(10).string(id).ldelim();
}

/** What both response kinds carry besides their resources. */
export interface FrameHeader {
  readonly typeUrl: string;
  readonly nonce: string;
  readonly controlPlane?: string;
}

/**
 * DiscoveryResponse{version_info=1, resources=2, type_url=4, nonce=5, control_plane=6} around
 * pre-encoded Any bytes.
 */
export function sotwFrame(versionInfo: string, resources: readonly Uint8Array[], h: FrameHeader): ResponseFrame {
  const w = protobuf.Writer.create();
  if (versionInfo) w.uint32(10).string(versionInfo);
  for (const any of resources) w.uint32(18).bytes(any);
  w.uint32(34).string(h.typeUrl);
  w.uint32(42).string(h.nonce);
  writeControlPlane(w, 6, h.controlPlane);
  return framed(h.nonce, w);
}

/**
 * DeltaDiscoveryResponse{system_version_info=1, resources=2, type_url=4, nonce=5,
 * removed_resources=6, control_plane=7} around pre-encoded Resource messages.
 */
export function deltaFrame(systemVersionInfo: string, resources: readonly Uint8Array[], removed: readonly string[], h: FrameHeader): ResponseFrame {
  const w = protobuf.Writer.create();
  if (systemVersionInfo) w.uint32(10).string(systemVersionInfo);
  for (const res of resources) w.uint32(18).bytes(res);
  w.uint32(34).string(h.typeUrl);
  w.uint32(42).string(h.nonce);
  for (const name of removed) w.uint32(50).string(name);
  writeControlPlane(w, 7, h.controlPlane);
  return framed(h.nonce, w);
}

type Decoded = Record<string, unknown>;

function str(o: Decoded, k: string): string {
  const v = o[k];
  return typeof v === 'string' ? v : '';
}

function own(o: Decoded, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined;
}

function nodeOf(o: Decoded): NodeInfo | null {
  const n = own(o, 'node') as Decoded | undefined;
  if (!n) return null;
  const build = own(n, 'user_agent_build_version') as Decoded | undefined;
  const semver = build ? (own(build, 'version') as Decoded | undefined) : undefined;
  const buildVersion = semver
    ? `${Number(semver['major_number'] ?? 0)}.${Number(semver['minor_number'] ?? 0)}.${Number(semver['patch'] ?? 0)}`
    : '';
  return {
    id: str(n, 'id'),
    cluster: str(n, 'cluster') || metadataFleet(n),
    userAgentName: str(n, 'user_agent_name'),
    userAgentVersion: str(n, 'user_agent_version') || buildVersion,
  };
}

/**
 * Node metadata key naming the fleet of a node that cannot set `node.cluster`: the rate-limit
 * service (envoyproxy/ratelimit sets only the node id and metadata,
 * `CONFIG_GRPC_XDS_NODE_METADATA=portcullis.fleet=<fleet>`).
 */
export const FLEET_METADATA_KEY = 'portcullis.fleet';

function metadataFleet(n: Decoded): string {
  // Root.fromDescriptor types a map as a repeated entry message: Struct.fields is [{ key, value }].
  const fields = (own(n, 'metadata') as Decoded | undefined)?.['fields'] as Decoded[] | undefined;
  const entry = Array.isArray(fields) ? fields.find((e) => str(e, 'key') === FLEET_METADATA_KEY) : undefined;
  const value = entry ? (own(entry, 'value') as Decoded | undefined) : undefined;
  return value ? str(value, 'string_value') : '';
}

function errorOf(o: Decoded, k: string): ErrorDetail | null {
  const e = own(o, k) as Decoded | undefined;
  if (!e) return null;
  return { code: Number(e['code'] ?? 0), message: str(e, 'message') };
}

function strings(o: Decoded, k: string): string[] {
  const v = own(o, k);
  return Array.isArray(v) ? (v as string[]) : [];
}

/** Codecs for both ADS methods, built from the Envoy descriptors in `root`. */
export interface AdsCodec {
  decodeRequest(bytes: Uint8Array): DiscoveryRequest;
  decodeDeltaRequest(bytes: Uint8Array): DeltaDiscoveryRequest;
}

export function createAdsCodec(root: protobuf.Root): AdsCodec {
  // The method paths come from the service in the descriptors (a mismatch is a deployment bug).
  const ads = root.lookupService('envoy.service.discovery.v3.AggregatedDiscoveryService');
  for (const [name, path] of [['StreamAggregatedResources', SOTW_METHOD], ['DeltaAggregatedResources', DELTA_METHOD]] as const) {
    const m = ads.methods[name];
    if (!m || `/${ads.fullName.slice(1)}/${m.name}` !== path || !m.requestStream || !m.responseStream) {
      throw new Error(`the Envoy descriptors lack ${path} as a bidirectional stream`);
    }
  }
  const requestType = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const deltaRequestType = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');

  function decodeRequest(bytes: Uint8Array): DiscoveryRequest {
    const o = requestType.decode(bytes) as unknown as Decoded;
    return {
      versionInfo: str(o, 'version_info'),
      node: nodeOf(o),
      resourceNames: strings(o, 'resource_names'),
      typeUrl: str(o, 'type_url'),
      responseNonce: str(o, 'response_nonce'),
      errorDetail: errorOf(o, 'error_detail'),
    };
  }

  function decodeDeltaRequest(bytes: Uint8Array): DeltaDiscoveryRequest {
    const o = deltaRequestType.decode(bytes) as unknown as Decoded;
    const initial = new Map<string, string>();
    for (const e of (own(o, 'initial_resource_versions') as Decoded[] | undefined) ?? []) {
      initial.set(str(e, 'key'), str(e, 'value'));
    }
    return {
      node: nodeOf(o),
      typeUrl: str(o, 'type_url'),
      resourceNamesSubscribe: strings(o, 'resource_names_subscribe'),
      resourceNamesUnsubscribe: strings(o, 'resource_names_unsubscribe'),
      initialResourceVersions: initial,
      responseNonce: str(o, 'response_nonce'),
      errorDetail: errorOf(o, 'error_detail'),
    };
  }

  return {
    decodeRequest,
    decodeDeltaRequest,
  };
}

