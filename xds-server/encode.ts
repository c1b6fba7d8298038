/**
 * Encoder between the translator's output (proto3 canonical JSON, compiler/envoy/resources.ts) and
 * the bytes the ADS streams send: JSON → protobuf wire format, checked field by field against the
 * Envoy 1.40 descriptors, and the reverse (bytes → JSON) for status pages, debugging and tests.
 *
 * protobufjs' own `fromObject` silently drops unknown fields and knows only a few well-known types,
 * so the JSON is walked against the descriptors and every mistake (unknown field, wrong kind of
 * value, unknown enum name, two members of one oneof, unknown Any type) is reported with its JSON
 * path. The parts, in protobuf/: descriptor-index (cached reflection), scalars, well-known (the one
 * table of special JSON forms), json-to-wire, wire-to-json. @bufbuild/protobuf checks this encoder
 * in the tests (test/support/proto-oracle.ts); as a product encoder it measured 6–13× slower
 * (bench/xds/encode-bench.ts, docs/benchmarks-xds.md).
 */
import * as protobuf from 'protobufjs';
import type { JsonValue } from '../compiler/envoy/resources';
import { DescriptorIndex } from './protobuf/descriptor-index';
import { describe, isObject, type EncodeError } from './protobuf/json';
import { JsonToWire } from './protobuf/json-to-wire';
import { WireToJson } from './protobuf/wire-to-json';

export type { EncodeError } from './protobuf/json';

export type EncodeResult =
  | { readonly ok: true; readonly value: Uint8Array }
  | { readonly ok: false; readonly errors: readonly EncodeError[] };

/** Converts between proto3 JSON and protobuf bytes for the messages of one descriptor Root. */
export interface Encoder {
  /** Encodes `json` as the message `typeName` (fully qualified, no leading dot). */
  encodeMessage(typeName: string, json: JsonValue): EncodeResult;
  /** Encodes a google.protobuf.Any {type_url, value} whose value is `json` as the type named in `typeUrl`. */
  encodeAny(typeUrl: string, json: JsonValue): EncodeResult;
  /**
   * The encoding of `json` (the value of an Any of `typeUrl`) in steps of one element of a repeated
   * or map field each, bottom-up, kept by object identity: the encodeAny of the same object that
   * follows reuses them, so a large resource can be encoded across several turns of the event loop
   * (ads-server's publication). Reports nothing: encodeAny does.
   */
  warmAny(typeUrl: string, json: JsonValue): Iterable<void>;
  /** Decodes bytes of `typeName` back to proto3 JSON (snake_case names, Any with "@type"). */
  decodeMessage(typeName: string, bytes: Uint8Array): JsonValue;
  /** The protobufjs Root the encoder reads. */
  readonly root: protobuf.Root;
}

export function createEncoder(root: protobuf.Root): Encoder {
  const index = new DescriptorIndex(root);
  const writer = new JsonToWire(index);
  const reader = new WireToJson(index);
  const any = index.lookupType('google.protobuf.Any');

  const encode = (type: protobuf.Type, json: JsonValue): EncodeResult => {
    const errors: EncodeError[] = [];
    const w = protobuf.Writer.create();
    writer.writeMessage(w, type, json, '', errors);
    return errors.length > 0 ? { ok: false, errors } : { ok: true, value: w.finish() };
  };

  return {
    root,
    encodeMessage(typeName, json) {
      const type = index.lookupType(typeName);
      if (!type) return { ok: false, errors: [{ path: '', message: `unknown message type ${typeName}` }] };
      return encode(type, json);
    },
    encodeAny(typeUrl, json) {
      if (!isObject(json)) return { ok: false, errors: [{ path: '', message: `expected an object, got ${describe(json)}` }] };
      if ('@type' in json) return { ok: false, errors: [{ path: '@type', message: 'a resource value is given without its outer "@type"' }] };
      if (!any) throw new Error('google.protobuf.Any is missing from the descriptors');
      return encode(any, { '@type': typeUrl, ...json });
    },
    warmAny(typeUrl, json) {
      const type = index.lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
      return type ? writer.warm(type, json) : [];
    },
    decodeMessage(typeName, bytes) {
      const type = index.lookupType(typeName);
      if (!type) throw new Error(`unknown message type ${typeName}`);
      return reader.toJson(type, type.decode(bytes) as unknown as Record<string, unknown>);
    },
  };
}
