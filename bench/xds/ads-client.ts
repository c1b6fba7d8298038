/**
 * A small ADS client on @grpc/grpc-js that behaves like Envoy on the wire (SotW or delta): the
 * protocol tests drive it step by step, the benchmark runs a thousand of them with auto-ACK.
 * Responses are scanned lightly (type, version, nonce, resource names) so many clients stay cheap.
 */
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import { TYPE_URL, type XdsKind } from '../../compiler/envoy/resources';
import { adsMethod, DELTA_METHOD, SOTW_METHOD } from '../../xds-server/wire';

export type AdsVariant = 'sotw' | 'delta';

export interface ReceivedResource {
  readonly name: string;
  /** Delta: Resource.version; SotW: empty. */
  readonly version: string;
  /** The google.protobuf.Any bytes. */
  readonly any: Uint8Array;
}

export interface AdsResponse {
  readonly kind: XdsKind | null;
  readonly typeUrl: string;
  /** SotW version_info or delta system_version_info. */
  readonly versionInfo: string;
  readonly nonce: string;
  readonly resources: readonly ReceivedResource[];
  readonly removed: readonly string[];
  readonly controlPlane: string;
  /** process.hrtime.bigint() at arrival. */
  readonly receivedAt: bigint;
}

export interface SotwRequest {
  readonly typeUrl: string;
  readonly resourceNames?: readonly string[];
  readonly versionInfo?: string;
  readonly responseNonce?: string;
  readonly errorDetail?: { code: number; message: string };
}

export interface DeltaRequest {
  readonly typeUrl: string;
  readonly subscribe?: readonly string[];
  readonly unsubscribe?: readonly string[];
  readonly initialResourceVersions?: Readonly<Record<string, string>>;
  readonly responseNonce?: string;
  readonly errorDetail?: { code: number; message: string };
}

const KIND_BY_URL = new Map<string, XdsKind>(Object.entries(TYPE_URL).map(([k, v]) => [v, k as XdsKind]));

/** Field 1 (name / cluster_name) of the message inside an Any: all four xDS types keep the name there. */
function nameInAny(any: Uint8Array): string {
  const r = protobuf.Reader.create(any);
  let value: Uint8Array | null = null;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 2 && (tag & 7) === 2) value = r.bytes();
    else r.skipType(tag & 7);
  }
  return value ? firstStringField(value) : '';
}

/** Field 1 as a string: a resource's name, or ControlPlane.identifier. */
function firstStringField(bytes: Uint8Array): string {
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === 10) return r.string();
    r.skipType(tag & 7);
  }
  return '';
}

/** DiscoveryResponse: version_info=1, resources=2, type_url=4, nonce=5, control_plane=6. */
function scanSotw(buf: Buffer): AdsResponse {
  const r = protobuf.Reader.create(buf);
  let versionInfo = '';
  let typeUrl = '';
  let nonce = '';
  let cp = '';
  const resources: ReceivedResource[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag) {
      case 10: versionInfo = r.string(); break;
      case 18: { const any = r.bytes(); resources.push({ name: nameInAny(any), version: '', any }); break; }
      case 34: typeUrl = r.string(); break;
      case 42: nonce = r.string(); break;
      case 50: cp = firstStringField(r.bytes()); break;
      default: r.skipType(tag & 7);
    }
  }
  return { kind: KIND_BY_URL.get(typeUrl) ?? null, typeUrl, versionInfo, nonce, resources, removed: [], controlPlane: cp, receivedAt: process.hrtime.bigint() };
}

/** DeltaDiscoveryResponse: system_version_info=1, resources=2, type_url=4, nonce=5, removed_resources=6, control_plane=7. */
function scanDelta(buf: Buffer): AdsResponse {
  const r = protobuf.Reader.create(buf);
  let versionInfo = '';
  let typeUrl = '';
  let nonce = '';
  let cp = '';
  const resources: ReceivedResource[] = [];
  const removed: string[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag) {
      case 10: versionInfo = r.string(); break;
      case 18: {
        const res = protobuf.Reader.create(r.bytes());
        let name = '';
        let version = '';
        let any: Uint8Array = new Uint8Array();
        while (res.pos < res.len) {
          const t = res.uint32();
          if (t === 26) name = res.string();
          else if (t === 10) version = res.string();
          else if (t === 18) any = res.bytes();
          else res.skipType(t & 7);
        }
        resources.push({ name, version, any });
        break;
      }
      case 34: typeUrl = r.string(); break;
      case 42: nonce = r.string(); break;
      case 50: removed.push(r.string()); break;
      case 58: cp = firstStringField(r.bytes()); break;
      default: r.skipType(tag & 7);
    }
  }
  return { kind: KIND_BY_URL.get(typeUrl) ?? null, typeUrl, versionInfo, nonce, resources, removed, controlPlane: cp, receivedAt: process.hrtime.bigint() };
}

function writeNode(w: protobuf.Writer, field: number, node: { id: string; cluster: string }): void {
  // Node: id=1, cluster=2, user_agent_name=6, user_agent_version=7.
  w.uint32((field << 3) | 2).fork().uint32(10).string(node.id).uint32(18).string(node.cluster).uint32(50).string('portcullis-ads-client').uint32(58).string('1').ldelim();
}

function writeStatus(w: protobuf.Writer, field: number, e: { code: number; message: string } | undefined): void {
  if (!e) return;
  w.uint32((field << 3) | 2).fork().uint32(8).int32(e.code).uint32(18).string(e.message).ldelim();
}

interface WireRequest {
  readonly node: { id: string; cluster: string } | null;
  readonly body: SotwRequest | DeltaRequest;
}

/** DiscoveryRequest: version_info=1, node=2, resource_names=3, type_url=4, response_nonce=5, error_detail=6. */
function encodeSotw({ node, body }: WireRequest): Buffer {
  const b = body as SotwRequest;
  const w = protobuf.Writer.create();
  if (b.versionInfo) w.uint32(10).string(b.versionInfo);
  if (node) writeNode(w, 2, node);
  for (const n of b.resourceNames ?? []) w.uint32(26).string(n);
  w.uint32(34).string(b.typeUrl);
  if (b.responseNonce) w.uint32(42).string(b.responseNonce);
  writeStatus(w, 6, b.errorDetail);
  return Buffer.from(w.finish());
}

/** DeltaDiscoveryRequest: node=1, type_url=2, subscribe=3, unsubscribe=4, initial_resource_versions=5, response_nonce=6, error_detail=7. */
function encodeDelta({ node, body }: WireRequest): Buffer {
  const b = body as DeltaRequest;
  const w = protobuf.Writer.create();
  if (node) writeNode(w, 1, node);
  w.uint32(18).string(b.typeUrl);
  for (const n of b.subscribe ?? []) w.uint32(26).string(n);
  for (const n of b.unsubscribe ?? []) w.uint32(34).string(n);
  for (const [k, v] of Object.entries(b.initialResourceVersions ?? {})) {
    w.uint32(42).fork().uint32(10).string(k).uint32(18).string(v).ldelim();
  }
  if (b.responseNonce) w.uint32(50).string(b.responseNonce);
  writeStatus(w, 7, b.errorDetail);
  return Buffer.from(w.finish());
}

// Requests are encoded here; responses are only scanned, never fully decoded (the harness is the load).
const SERVICE: grpc.ServiceDefinition = {
  StreamAggregatedResources: adsMethod(SOTW_METHOD, {
    requestSerialize: encodeSotw as (v: unknown) => Buffer,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (v: unknown) => v as Buffer,
    responseDeserialize: scanSotw,
  }),
  DeltaAggregatedResources: adsMethod(DELTA_METHOD, {
    requestSerialize: encodeDelta as (v: unknown) => Buffer,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (v: unknown) => v as Buffer,
    responseDeserialize: scanDelta,
  }),
};

const AdsClientCtor = grpc.makeGenericClientConstructor(SERVICE, 'AggregatedDiscoveryService');

export interface AdsClientOptions {
  readonly port: number;
  readonly host?: string;
  readonly variant: AdsVariant;
  readonly node: { readonly id: string; readonly cluster: string };
  readonly credentials?: grpc.ChannelCredentials;
  /** Extra channel options (e.g. TLS target name override). */
  readonly channelOptions?: grpc.ChannelOptions;
  /** Called on every response (the benchmark's auto-ACK hook). */
  readonly onResponse?: (r: AdsResponse, client: AdsClient) => void;
}

/** One simulated Envoy: one channel (its own connection), one ADS stream. */
export class AdsClient {
  readonly responses: AdsResponse[] = [];
  private readonly waiters: { kind: XdsKind | null; resolve: (r: AdsResponse) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private readonly unread: AdsResponse[] = [];
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<WireRequest, AdsResponse>;
  private sentNode = false;
  /** Resolves with the stream's final status. */
  readonly status: Promise<grpc.StatusObject>;

  constructor(readonly options: AdsClientOptions) {
    this.client = new AdsClientCtor(`${options.host ?? '127.0.0.1'}:${options.port}`, options.credentials ?? grpc.credentials.createInsecure(), {
      // Each simulated Envoy gets its own HTTP/2 connection, as real ones do.
      'grpc.use_local_subchannel_pool': 1,
      ...options.channelOptions,
    });
    const method = options.variant === 'sotw' ? 'StreamAggregatedResources' : 'DeltaAggregatedResources';
    this.call = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<WireRequest, AdsResponse>>)[method]!.call(this.client);
    this.status = new Promise((resolve) => {
      this.call.on('status', resolve);
    });
    this.call.on('error', (e) => {
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(e);
      }
    });
    this.call.on('data', (r: AdsResponse) => {
      this.responses.push(r);
      options.onResponse?.(r, this);
      const i = this.waiters.findIndex((w) => w.kind === null || w.kind === r.kind);
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        clearTimeout(w!.timer);
        w!.resolve(r);
      } else {
        this.unread.push(r);
      }
    });
  }

  private node(): { id: string; cluster: string } | null {
    if (this.sentNode) return null;
    this.sentNode = true;
    return this.options.node;
  }

  /** Sends a raw SotW request (node attached to the first one, as Envoy does). */
  sotw(body: SotwRequest): void {
    this.call.write({ node: this.node(), body });
  }

  delta(body: DeltaRequest): void {
    this.call.write({ node: this.node(), body });
  }

  /** ACKs a response (SotW: with its version; both: with its nonce), optionally changing the names. */
  ack(r: AdsResponse, resourceNames?: readonly string[]): void {
    if (this.options.variant === 'sotw') this.sotw({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce, resourceNames });
    else this.delta({ typeUrl: r.typeUrl, responseNonce: r.nonce });
  }

  /** NACKs a response; SotW quotes the version it still holds. */
  nack(r: AdsResponse, message: string, heldVersion = '', resourceNames?: readonly string[]): void {
    const errorDetail = { code: 3, message };
    if (this.options.variant === 'sotw') this.sotw({ typeUrl: r.typeUrl, versionInfo: heldVersion, responseNonce: r.nonce, errorDetail, resourceNames });
    else this.delta({ typeUrl: r.typeUrl, responseNonce: r.nonce, errorDetail });
  }

  /** The next response (of `kind`, if given), from what arrived unread or what arrives within timeoutMs. */
  next(kind: XdsKind | null = null, timeoutMs = 3000): Promise<AdsResponse> {
    const i = this.unread.findIndex((r) => kind === null || r.kind === kind);
    if (i >= 0) return Promise.resolve(this.unread.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const j = this.waiters.findIndex((w) => w.timer === timer);
        if (j >= 0) this.waiters.splice(j, 1);
        reject(new Error(`no ${kind ?? 'xDS'} response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({ kind, resolve, reject, timer });
    });
  }

  /** Resolves with the responses that arrived unread within `ms` (expect none: []). */
  async quiet(ms: number): Promise<AdsResponse[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.unread.splice(0);
  }

  close(): void {
    this.call.end();
    this.client.close();
  }

  /** Drops the connection without a clean end (as a crashed Envoy would). */
  cancel(): void {
    this.call.cancel();
    this.client.close();
  }
}
