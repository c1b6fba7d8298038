/**
 * JSON → wire bytes for plain messages, checked field by field against the descriptors. Fields are
 * written straight into a protobufjs Writer, in a fixed order whatever the JSON's key order. The
 * bytes are go-control-plane's (protobuf-go's deterministic Marshal): plain fields by number, then
 * oneof members by oneof declaration (DescriptorIndex.wireRank); a field without presence (a proto3 scalar or enum outside a oneof) that holds its default value
 * is left out, an empty repeated field writes nothing; messages (wrappers included), oneof members
 * and map entries are always written. A mistake is recorded and writing goes on, so that every
 * mistake is reported; the caller discards the bytes of a call with mistakes.
 */
import * as protobuf from 'protobufjs';
import type { JsonObject, JsonValue } from '../../compiler/envoy/resources';
import type { DescriptorIndex } from './descriptor-index';
import { describe, isObject, join, type EncodeError } from './json';
import { enumValue, isDefaultScalar, PACKABLE, scalar, writePackable, writeScalar } from './scalars';
import { SPECIAL_JSON, WELL_KNOWN, type WriteCodec } from './well-known';

export class JsonToWire implements WriteCodec {
  /**
   * Bytes of message-typed JSON objects already encoded, by object identity: the translator's
   * output is immutable, so an unchanged route or cluster object handed over again (the compiler
   * keeps unchanged parts' objects across edits) is not encoded again.
   */
  private readonly encodedObjects = new WeakMap<object, { readonly type: protobuf.Type; readonly bytes: Uint8Array }>();

  constructor(readonly index: DescriptorIndex) {}

  /** Writes the fields of message `type` given as JSON `v` (no tag, no length). */
  writeMessage(w: protobuf.Writer, type: protobuf.Type, v: JsonValue, path: string, errors: EncodeError[], inAny = false): void {
    const name = this.index.fullName(type);
    const wellKnown = WELL_KNOWN.get(name);
    if (wellKnown) {
      wellKnown.write(this, w, type, v, path, errors);
      return;
    }
    if (!isObject(v)) {
      errors.push({ path, message: `expected an object (${name}), got ${describe(v)}` });
      return;
    }
    const fields = this.index.fieldsOf(type);
    const present: { field: protobuf.Field; key: string }[] = [];
    for (const key of Object.keys(v)) {
      if (inAny && key === '@type') continue;
      const field = fields.get(key);
      if (!field) {
        errors.push({ path: join(path, key), message: `unknown field "${key}" in ${name}` });
        continue;
      }
      const value = v[key]!;
      // proto3 JSON: null means "default", except a google.protobuf.Value holds null itself.
      if (value === null && !(field.resolvedType && this.index.fullName(field.resolvedType) === 'google.protobuf.Value')) continue;
      // The same field under its proto name and its JSON name: report it on the JSON name.
      if (key !== field.name && Object.prototype.hasOwnProperty.call(v, field.name)) {
        errors.push({ path: join(path, key), message: `field "${field.name}" given twice (also as "${field.name}")` });
        continue;
      }
      present.push({ field, key });
    }
    if (present.length > 1) {
      this.checkOneofs(type, name, present, path, errors);
      present.sort((a, b) => this.index.wireRank(a.field) - this.index.wireRank(b.field));
    }
    for (const { field, key } of present) this.writeField(w, field, v[key]!, join(path, key), errors);
  }

  private checkOneofs(type: protobuf.Type, name: string, present: readonly { field: protobuf.Field }[], path: string, errors: EncodeError[]): void {
    for (const oneof of this.index.oneofsOf(type)) {
      let count = 0;
      for (const p of present) if (oneof.members.has(p.field.name)) count++;
      if (count > 1) {
        const set = present.filter((p) => oneof.members.has(p.field.name)).map((p) => p.field.name);
        errors.push({ path, message: `only one of ${set.join(', ')} may be set (oneof ${oneof.name} in ${name})` });
      }
    }
  }

  /**
   * Encodes, bottom-up, the elements of the repeated and map message fields under `v` (inside Any
   * values too) into the identity cache, one step per element: a caller can spread a large
   * resource (a RouteConfiguration of 10,000 routes) over several turns of the event loop, and the
   * writeMessage that follows copies each element's bytes instead of encoding it. Only what is
   * large is walked: a value of at most SMALL_JSON values (a route, a cluster) is one step, and
   * an element already cached is skipped with everything under it. Mistakes are not reported
   * here (an element with one is not cached): the writeMessage that follows reports them.
   */
  *warm(type: protobuf.Type, v: JsonValue): Generator<void, void, undefined> {
    if (isObject(v) && !smallJson(v)) yield* this.warmFields(type, v);
  }

  private *warmFields(type: protobuf.Type, v: JsonObject): Generator<void, void, undefined> {
    const name = this.index.fullName(type);
    if (name === 'google.protobuf.Any') {
      const typeUrl = v['@type'];
      const inner = typeof typeUrl === 'string' ? this.index.lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1)) : undefined;
      if (inner && !SPECIAL_JSON.has(this.index.fullName(inner))) yield* this.warmFields(inner, v);
      return;
    }
    if (WELL_KNOWN.has(name)) return;
    const fields = this.index.fieldsOf(type);
    for (const key of Object.keys(v)) {
      const field = fields.get(key);
      const value = v[key];
      if (!field || value === null || value === undefined) continue;
      const entry = this.index.mapEntryOf(field);
      const rt = entry ? entry.fields['value']!.resolvedType : field.resolvedType;
      if (!(rt instanceof protobuf.Type)) continue;
      if (entry) {
        if (isObject(value)) for (const k of Object.keys(value)) yield* this.warmElement(rt, value[k]!);
      } else if (field.repeated) {
        if (Array.isArray(value)) for (const item of value) yield* this.warmElement(rt, item);
      } else {
        yield* this.warm(rt, value);
      }
    }
  }

  private *warmElement(type: protobuf.Type, v: JsonValue): Generator<void, void, undefined> {
    if (!isObject(v) || this.encodedObjects.get(v)?.type === type) return;
    if (!smallJson(v)) yield* this.warmFields(type, v);
    this.encodeReused(type, v, '', []);
    yield;
  }

  /** The bytes of message `type` given as `v`, from the identity cache or encoded (and cached when free of mistakes). */
  private encodeReused(type: protobuf.Type, v: JsonObject, path: string, errors: EncodeError[]): Uint8Array {
    const hit = this.encodedObjects.get(v);
    if (hit && hit.type === type) return hit.bytes;
    const before = errors.length;
    const inner = protobuf.Writer.create();
    this.writeMessage(inner, type, v, path, errors);
    const bytes = inner.finish();
    if (errors.length === before) this.encodedObjects.set(v, { type, bytes });
    return bytes;
  }

  /** Writes a message-typed value with its tag, reusing the bytes of an identical object encoded before. */
  private writeNested(w: protobuf.Writer, id: number, type: protobuf.Type, v: JsonValue, path: string, errors: EncodeError[], reuse: boolean): void {
    if (reuse && isObject(v)) {
      w.uint32((id << 3) | 2).bytes(this.encodeReused(type, v, path, errors));
      return;
    }
    w.uint32((id << 3) | 2).fork();
    this.writeMessage(w, type, v, path, errors);
    w.ldelim();
  }

  /**
   * Writes one element (of a singular or repeated field, or a map value) with its tag; with
   * `omitDefault` (a singular field without presence) a default scalar or enum writes nothing.
   */
  private writeElement(w: protobuf.Writer, field: protobuf.Field, v: JsonValue, path: string, errors: EncodeError[], reuse: boolean, omitDefault = false): void {
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Type) {
      this.writeNested(w, field.id, rt, v, path, errors, reuse);
    } else if (rt instanceof protobuf.Enum) {
      const n = enumValue(rt, this.index.fullName(rt), v, path, errors);
      if (n !== undefined && !(omitDefault && n === 0)) w.uint32(field.id << 3).int32(n);
    } else {
      const value = scalar(field.type, v, path, errors);
      if (value !== undefined && !(omitDefault && isDefaultScalar(field.type, value))) writeScalar(w, field.id, field.type, value);
    }
  }

  private writeField(w: protobuf.Writer, field: protobuf.Field, v: JsonValue, path: string, errors: EncodeError[]): void {
    const entry = this.index.mapEntryOf(field);
    if (entry) this.writeMap(w, field, entry, v, path, errors);
    else if (field.repeated) this.writeRepeated(w, field, v, path, errors);
    // hasPresence: a oneof member (or proto3 `optional`) is written even when it holds the default.
    else this.writeElement(w, field, v, path, errors, false, !field.hasPresence);
  }

  private writeMap(w: protobuf.Writer, field: protobuf.Field, entry: protobuf.Type, v: JsonValue, path: string, errors: EncodeError[]): void {
    if (!isObject(v)) {
      errors.push({ path, message: `expected an object (map), got ${describe(v)}` });
      return;
    }
    const keyField = entry.fields['key']!;
    const valueField = entry.fields['value']!;
    // Sorted keys, as protobuf-go's deterministic Marshal orders them: equal JSON gives equal bytes
    // whatever order the keys came in.
    for (const k of sortedMapKeys(Object.keys(v), keyField.type)) {
      const value = v[k]!;
      if (value === null) continue;
      const key = keyField.type === 'string' ? k : scalar(keyField.type, keyField.type === 'bool' ? k === 'true' : k, join(path, k), errors);
      if (key === undefined) continue;
      w.uint32((field.id << 3) | 2).fork();
      writeScalar(w, 1, keyField.type, key);
      this.writeElement(w, valueField, value, join(path, k), errors, true);
      w.ldelim();
    }
  }

  private writeRepeated(w: protobuf.Writer, field: protobuf.Field, v: JsonValue, path: string, errors: EncodeError[]): void {
    if (!Array.isArray(v)) {
      errors.push({ path, message: `expected an array, got ${describe(v)}` });
      return;
    }
    const rt = field.resolvedType;
    const kind = rt instanceof protobuf.Enum ? 'enum' : rt instanceof protobuf.Type ? 'message' : field.type;
    if (!PACKABLE.has(kind)) {
      v.forEach((item, i) => this.writeElement(w, field, item, join(path, i), errors, true));
      return;
    }
    // proto3 packs repeated scalars: one length-delimited run of values (none for an empty list).
    if (v.length === 0) return;
    w.uint32((field.id << 3) | 2).fork();
    v.forEach((item, i) => {
      const value = kind === 'enum' ? enumValue(rt as protobuf.Enum, this.index.fullName(rt!), item, join(path, i), errors) : scalar(kind, item, join(path, i), errors);
      if (value !== undefined) writePackable(w, kind, value);
    });
    w.ldelim();
  }
}

/** Values in a JSON tree (every object, array and scalar counts one) up to which it is encoded in one step by `warm`: a route is ≈ 40. */
const SMALL_JSON = 256;

/** Whether `v` holds at most SMALL_JSON values; stops counting past that. */
function smallJson(v: JsonValue): boolean {
  let left = SMALL_JSON;
  const stack: JsonValue[] = [v];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (--left < 0) return false;
    if (isObject(x)) {
      for (const k in x) {
        if (stack.length >= left) return false;
        stack.push(x[k]!);
      }
    } else if (Array.isArray(x)) {
      if (stack.length + x.length > left) return false;
      for (const y of x as readonly JsonValue[]) stack.push(y);
    }
  }
  return true;
}

/** Map keys in key order: strings as strings, integers by value, false before true. */
function sortedMapKeys(keys: string[], kind: string): string[] {
  if (kind === 'string' || kind === 'bool') return keys.sort();
  const value = (k: string): bigint => (/^-?\d+$/.test(k) ? BigInt(k) : 0n);
  return keys.sort((a, b) => {
    const d = value(a) - value(b);
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  });
}
