/**
 * Encoder between the translator's output (proto3 canonical JSON, compiler/envoy/resources.ts) and
 * the bytes the ADS streams send: JSON → protobuf wire format, checked field by field against the
 * Envoy 1.40 descriptors. Also the reverse (bytes → JSON) for status pages, debugging and tests.
 *
 * protobufjs' own `fromObject` silently drops unknown fields and knows only a few well-known types,
 * so a reflective pre-pass turns canonical JSON into the plain object shape `Type.encode` takes and
 * reports every mistake (unknown field, wrong kind of value, unknown enum name, two members of one
 * oneof, unknown Any type) with its JSON path.
 */
import * as protobuf from 'protobufjs';
import type { JsonObject, JsonValue } from '../compiler/envoy/resources';

/** One encoding mistake: where in the JSON (`filter_chains[0].filters[0].typed_config.stat_prefix`) and what. */
export interface EncodeError {
  readonly path: string;
  readonly message: string;
}

export type EncodeResult =
  | { readonly ok: true; readonly value: Uint8Array }
  | { readonly ok: false; readonly errors: readonly EncodeError[] };

/** Well-known types whose JSON form is not an object of fields; inside Any they sit under "value". */
const WRAPPERS = new Set([
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

/** Well-known types whose JSON form is not an object of fields; inside Any they sit under "value". */
const SPECIAL_JSON = new Set([
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.FieldMask',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
  ...WRAPPERS,
]);

const INT32_RANGE: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647],
  sint32: [-2147483648, 2147483647],
  sfixed32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  fixed32: [0, 4294967295],
};
const LONG_TYPES = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);
const UNSIGNED_LONG = new Set(['uint64', 'fixed64']);

/** Converts between proto3 JSON and protobuf bytes for the messages of one descriptor Root. */
export interface Encoder {
  /** Encodes `json` as the message `typeName` (fully qualified, no leading dot). */
  encodeMessage(typeName: string, json: JsonValue): EncodeResult;
  /** Encodes a google.protobuf.Any {type_url, value} whose value is `json` as the type named in `typeUrl`. */
  encodeAny(typeUrl: string, json: JsonValue): EncodeResult;
  /** Decodes bytes of `typeName` back to proto3 JSON (snake_case names, Any with "@type"). */
  decodeMessage(typeName: string, bytes: Uint8Array): JsonValue;
  /** The protobufjs Root the encoder reads. */
  readonly root: protobuf.Root;
}

/** snake_case → lowerCamelCase, as protoc derives json_name. */
function jsonNameOf(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** Own properties only: decoded protobufjs messages carry defaults on their prototype. */
function has(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

/** Fractional seconds as proto3 JSON prints them: 0, 3, 6 or 9 digits. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const digits = String(nanos).padStart(9, '0');
  if (digits.endsWith('000000')) return `.${digits.slice(0, 3)}`;
  if (digits.endsWith('000')) return `.${digits.slice(0, 6)}`;
  return `.${digits}`;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

export function createEncoder(root: protobuf.Root): Encoder {
  const fieldIndex = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

  function fieldsOf(type: protobuf.Type): Map<string, protobuf.Field> {
    let index = fieldIndex.get(type);
    if (!index) {
      index = new Map();
      for (const f of type.fieldsArray) {
        index.set(f.name, f);
        index.set(jsonNameOf(f.name), f);
      }
      fieldIndex.set(type, index);
    }
    return index;
  }

  /**
   * Root.fromDescriptor keeps a map as a repeated `<FieldName>Entry` message nested in the declaring
   * message. Its map_entry option also leaks onto the parent message, so the option alone is not
   * proof: the entry's name and place are checked too, as protoc derives them.
   */
  function mapEntryOf(field: protobuf.Field): protobuf.Type | undefined {
    const rt = field.resolvedType;
    if (!field.repeated || !(rt instanceof protobuf.Type) || rt.parent !== field.parent) return undefined;
    if ((rt.options as Record<string, unknown> | undefined)?.['map_entry'] !== true) return undefined;
    const expected = `${field.name.replace(/(?:^|_)([a-z0-9])/g, (_m, c: string) => c.toUpperCase())}Entry`;
    return rt.name === expected && rt.fields['key']?.id === 1 && rt.fields['value']?.id === 2 ? rt : undefined;
  }

  // protobufjs computes `fullName` by walking the parents on every read, and `lookup` searches
  // the namespace tree: both are cached, they sit on the hot path of every field.
  const typeByName = new Map<string, protobuf.Type | null>();
  function lookupType(name: string): protobuf.Type | undefined {
    let t = typeByName.get(name);
    if (t === undefined) {
      try {
        const found = root.lookup(name);
        t = found instanceof protobuf.Type ? found : null;
      } catch {
        t = null;
      }
      typeByName.set(name, t);
    }
    return t ?? undefined;
  }

  const nameOfType = new WeakMap<protobuf.ReflectionObject, string>();
  function fullName(type: protobuf.ReflectionObject): string {
    let name = nameOfType.get(type);
    if (name === undefined) {
      name = type.fullName.startsWith('.') ? type.fullName.slice(1) : type.fullName;
      nameOfType.set(type, name);
    }
    return name;
  }

  // ---- JSON values → checked values ----------------------------------------------------------------

  function scalar(kind: string, v: JsonValue, path: string, errors: EncodeError[]): unknown {
    const bad = (what: string): undefined => {
      errors.push({ path, message: `expected ${what}, got ${describe(v)}` });
      return undefined;
    };
    switch (kind) {
      case 'string':
        return typeof v === 'string' ? v : bad('a string');
      case 'bool':
        return typeof v === 'boolean' ? v : bad('true or false');
      case 'double':
      case 'float':
        if (typeof v === 'number') return v;
        if (v === 'NaN') return NaN;
        if (v === 'Infinity') return Infinity;
        if (v === '-Infinity') return -Infinity;
        if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
        return bad('a number');
      case 'bytes': {
        if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) return bad('base64 bytes');
        return Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
      }
      default:
        break;
    }
    const range = INT32_RANGE[kind];
    if (range) {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < range[0] || n > range[1]) {
        return bad(`an integer in [${range[0]}, ${range[1]}] (${kind})`);
      }
      return n;
    }
    if (LONG_TYPES.has(kind)) {
      const unsigned = UNSIGNED_LONG.has(kind);
      let s: string | undefined;
      if (typeof v === 'number' && Number.isSafeInteger(v)) s = String(v);
      else if (typeof v === 'string' && /^-?\d+$/.test(v)) s = v.replace(/^(-?)0+(?=\d)/, '$1');
      if (s === undefined) return bad(`an integer or a decimal string (${kind})`);
      const big = BigInt(s);
      const min = unsigned ? 0n : -(2n ** 63n);
      const max = unsigned ? 2n ** 64n - 1n : 2n ** 63n - 1n;
      if (big < min || big > max) return bad(`a value in the ${kind} range`);
      // protobufjs writes a decimal string through Long without losing precision.
      return s;
    }
    errors.push({ path, message: `unsupported scalar type ${kind}` });
    return undefined;
  }

  function enumValue(e: protobuf.Enum, v: JsonValue, path: string, errors: EncodeError[]): number | undefined {
    if (typeof v === 'string') {
      const n = e.values[v];
      if (n === undefined) {
        const known = Object.keys(e.values).slice(0, 12).join(', ');
        errors.push({ path, message: `unknown ${fullName(e)} value "${v}" (one of: ${known})` });
        return undefined;
      }
      return n;
    }
    if (typeof v === 'number' && Number.isInteger(v)) return v; // proto3 enums are open
    if (v === null && fullName(e) === 'google.protobuf.NullValue') return 0;
    errors.push({ path, message: `expected an enum name of ${fullName(e)}, got ${describe(v)}` });
    return undefined;
  }

  function durationParts(v: JsonValue, path: string, errors: EncodeError[]): { seconds: string; nanos: number } | undefined {
    const m = typeof v === 'string' ? /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(v) : null;
    if (!m) {
      errors.push({ path, message: `expected a duration such as "1.5s", got ${describe(v)}` });
      return undefined;
    }
    const neg = m[1] === '-';
    const seconds = BigInt(m[2]!);
    const nanos = Number((m[3] ?? '').padEnd(9, '0'));
    if (seconds > 315576000000n) {
      errors.push({ path, message: `duration out of range: ${String(v)}` });
      return undefined;
    }
    return { seconds: `${neg && seconds > 0n ? '-' : ''}${seconds}`, nanos: neg ? -nanos : nanos };
  }

  function timestampParts(v: JsonValue, path: string, errors: EncodeError[]): { seconds: string; nanos: number } | undefined {
    const m =
      typeof v === 'string'
        ? /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(v)
        : null;
    const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
    if (!m || Number.isNaN(ms)) {
      errors.push({ path, message: `expected an RFC 3339 timestamp, got ${describe(v)}` });
      return undefined;
    }
    return { seconds: String(Math.floor(ms / 1000)), nanos: Number((m[2] ?? '').padEnd(9, '0')) };
  }

  // ---- JSON → wire bytes --------------------------------------------------------------------------
  // Fields are written straight into a protobufjs Writer, in field-number order (equal JSON gives
  // equal bytes whatever its key order). A mistake is recorded and writing goes on, so that every
  // mistake is reported; the bytes of a call with mistakes are discarded.

  /** Writes one scalar value (already converted by `scalar`) with its tag. */
  function writeScalar(w: protobuf.Writer, id: number, kind: string, value: unknown): void {
    switch (kind) {
      case 'double': w.uint32((id << 3) | 1).double(value as number); return;
      case 'float': w.uint32((id << 3) | 5).float(value as number); return;
      case 'fixed32': w.uint32((id << 3) | 5).fixed32(value as number); return;
      case 'sfixed32': w.uint32((id << 3) | 5).sfixed32(value as number); return;
      case 'fixed64': w.uint32((id << 3) | 1).fixed64(value as string); return;
      case 'sfixed64': w.uint32((id << 3) | 1).sfixed64(value as string); return;
      case 'string': w.uint32((id << 3) | 2).string(value as string); return;
      case 'bytes': w.uint32((id << 3) | 2).bytes(value as Uint8Array); return;
      default: break;
    }
    w.uint32(id << 3);
    writePackable(w, kind, value);
  }

  /** The value alone (no tag) of a varint-encoded scalar, as inside a packed array. */
  function writePackable(w: protobuf.Writer, kind: string, value: unknown): void {
    switch (kind) {
      case 'int32': w.int32(value as number); return;
      case 'uint32': w.uint32(value as number); return;
      case 'sint32': w.sint32(value as number); return;
      case 'int64': w.int64(value as string); return;
      case 'uint64': w.uint64(value as string); return;
      case 'sint64': w.sint64(value as string); return;
      case 'bool': w.bool(value as boolean); return;
      case 'enum': w.int32(value as number); return;
      case 'double': w.double(value as number); return;
      case 'float': w.float(value as number); return;
      case 'fixed32': w.fixed32(value as number); return;
      case 'sfixed32': w.sfixed32(value as number); return;
      case 'fixed64': w.fixed64(value as string); return;
      case 'sfixed64': w.sfixed64(value as string); return;
      default: throw new Error(`not a packable type: ${kind}`);
    }
  }

  const PACKABLE = new Set(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64', 'bool', 'enum']);

  /** google.protobuf.Value: kind oneof null_value=1, number_value=2, string_value=3, bool_value=4, struct_value=5, list_value=6. */
  function writeValue(w: protobuf.Writer, v: JsonValue, path: string, errors: EncodeError[]): void {
    if (v === null) w.uint32(8).int32(0);
    else if (typeof v === 'number') w.uint32(17).double(v);
    else if (typeof v === 'string') w.uint32(26).string(v);
    else if (typeof v === 'boolean') w.uint32(32).bool(v);
    else if (Array.isArray(v)) {
      w.uint32(50).fork();
      writeList(w, v, path, errors);
      w.ldelim();
    } else {
      w.uint32(42).fork();
      writeStruct(w, v as JsonObject, path, errors);
      w.ldelim();
    }
  }

  /** google.protobuf.ListValue: values=1. */
  function writeList(w: protobuf.Writer, v: readonly JsonValue[], path: string, errors: EncodeError[]): void {
    v.forEach((x, i) => {
      w.uint32(10).fork();
      writeValue(w, x, join(path, i), errors);
      w.ldelim();
    });
  }

  /** google.protobuf.Struct: fields=1, map<string, Value>, keys sorted. */
  function writeStruct(w: protobuf.Writer, v: JsonObject, path: string, errors: EncodeError[]): void {
    for (const k of Object.keys(v).sort()) {
      w.uint32(10).fork().uint32(10).string(k).uint32(18).fork();
      writeValue(w, v[k]!, join(path, k), errors);
      w.ldelim().ldelim();
    }
  }

  /** google.protobuf.Any: type_url=1, value=2 (the message named by "@type", written in place). */
  function writeAny(w: protobuf.Writer, v: JsonValue, path: string, errors: EncodeError[]): void {
    if (!isObject(v) || typeof v['@type'] !== 'string') {
      errors.push({ path, message: `expected an Any object with "@type", got ${describe(v)}` });
      return;
    }
    const typeUrl = v['@type'];
    const slash = typeUrl.lastIndexOf('/');
    const name = typeUrl.slice(slash + 1);
    const type = slash >= 0 && name ? lookupType(name) : undefined;
    if (!type) {
      errors.push({ path: join(path, '@type'), message: `unknown type "${typeUrl}" (not in the Envoy 1.40 API descriptors)` });
      return;
    }
    w.uint32(10).string(typeUrl).uint32(18).fork();
    if (SPECIAL_JSON.has(fullName(type))) {
      for (const k of Object.keys(v)) {
        if (k !== '@type' && k !== 'value') errors.push({ path: join(path, k), message: `unknown field "${k}" in an Any of ${fullName(type)}` });
      }
      if (!('value' in v)) errors.push({ path, message: `an Any of ${fullName(type)} needs "value"` });
      else writeMessage(w, type, v['value']!, path, errors);
    } else {
      writeMessage(w, type, v, path, errors, true);
    }
    w.ldelim();
  }

  /** Seconds and nanos of a Duration or Timestamp: seconds=1, nanos=2, zeros left out. */
  function writeSecondsNanos(w: protobuf.Writer, parts: { seconds: string; nanos: number } | undefined): void {
    if (!parts) return;
    if (parts.seconds !== '0') w.uint32(8).int64(parts.seconds);
    if (parts.nanos !== 0) w.uint32(16).int32(parts.nanos);
  }

  interface OneofIndex {
    readonly name: string;
    readonly members: ReadonlySet<string>;
  }
  const oneofsOfType = new WeakMap<protobuf.Type, readonly OneofIndex[]>();
  function oneofsOf(type: protobuf.Type): readonly OneofIndex[] {
    let list = oneofsOfType.get(type);
    if (!list) {
      list = type.oneofsArray.filter((o) => o.oneof.length > 1).map((o) => ({ name: o.name, members: new Set(o.oneof) }));
      oneofsOfType.set(type, list);
    }
    return list;
  }

  /**
   * Bytes of message-typed JSON objects already encoded, by object identity: the translator's
   * output is immutable, so an unchanged route or cluster object handed over again (the compiler
   * keeps unchanged parts' objects across edits) is not encoded again.
   */
  const encodedObjects = new WeakMap<object, { readonly type: protobuf.Type; readonly bytes: Uint8Array }>();

  /** Writes the fields of message `type` given as JSON `v` (no tag, no length). */
  function writeMessage(w: protobuf.Writer, type: protobuf.Type, v: JsonValue, path: string, errors: EncodeError[], inAny = false): void {
    const name = fullName(type);
    switch (name) {
      case 'google.protobuf.Any':
        writeAny(w, v, path, errors);
        return;
      case 'google.protobuf.Duration':
        writeSecondsNanos(w, durationParts(v, path, errors));
        return;
      case 'google.protobuf.Timestamp':
        writeSecondsNanos(w, timestampParts(v, path, errors));
        return;
      case 'google.protobuf.Struct':
        if (!isObject(v)) errors.push({ path, message: `expected an object (google.protobuf.Struct), got ${describe(v)}` });
        else writeStruct(w, v, path, errors);
        return;
      case 'google.protobuf.Value':
        writeValue(w, v, path, errors);
        return;
      case 'google.protobuf.ListValue':
        if (!Array.isArray(v)) errors.push({ path, message: `expected an array (google.protobuf.ListValue), got ${describe(v)}` });
        else writeList(w, v, path, errors);
        return;
      case 'google.protobuf.FieldMask':
        if (typeof v !== 'string') {
          errors.push({ path, message: `expected a comma-separated field mask, got ${describe(v)}` });
          return;
        }
        for (const p of v === '' ? [] : v.split(',')) w.uint32(10).string(p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
        return;
      default:
        break;
    }
    if (WRAPPERS.has(name)) {
      const valueField = type.fields['value']!;
      const value = scalar(valueField.type, v, path, errors);
      if (value !== undefined) writeScalar(w, 1, valueField.type, value);
      return;
    }
    if (!isObject(v)) {
      errors.push({ path, message: `expected an object (${name}), got ${describe(v)}` });
      return;
    }
    const index = fieldsOf(type);
    const present: { field: protobuf.Field; key: string }[] = [];
    for (const key of Object.keys(v)) {
      if (inAny && key === '@type') continue;
      const field = index.get(key);
      if (!field) {
        errors.push({ path: join(path, key), message: `unknown field "${key}" in ${name}` });
        continue;
      }
      const value = v[key]!;
      // proto3 JSON: null means "default", except a google.protobuf.Value holds null itself.
      if (value === null && !(field.resolvedType && fullName(field.resolvedType) === 'google.protobuf.Value')) continue;
      // The same field under its proto name and its JSON name: report it on the JSON name.
      if (key !== field.name && Object.prototype.hasOwnProperty.call(v, field.name)) {
        errors.push({ path: join(path, key), message: `field "${field.name}" given twice (also as "${field.name}")` });
        continue;
      }
      present.push({ field, key });
    }
    if (present.length > 1) {
      for (const oneof of oneofsOf(type)) {
        let count = 0;
        for (const p of present) if (oneof.members.has(p.field.name)) count++;
        if (count > 1) {
          const set = present.filter((p) => oneof.members.has(p.field.name)).map((p) => p.field.name);
          errors.push({ path, message: `only one of ${set.join(', ')} may be set (oneof ${oneof.name} in ${name})` });
        }
      }
      present.sort((a, b) => a.field.id - b.field.id);
    }
    for (const { field, key } of present) writeField(w, field, v[key]!, join(path, key), errors);
  }

  /** Writes a message-typed value with its tag, reusing the bytes of an identical object encoded before. */
  function writeNested(w: protobuf.Writer, id: number, type: protobuf.Type, v: JsonValue, path: string, errors: EncodeError[], reuse: boolean): void {
    if (reuse && isObject(v)) {
      const hit = encodedObjects.get(v);
      if (hit && hit.type === type) {
        w.uint32((id << 3) | 2).bytes(hit.bytes);
        return;
      }
      const before = errors.length;
      const inner = protobuf.Writer.create();
      writeMessage(inner, type, v, path, errors);
      const bytes = inner.finish();
      if (errors.length === before) encodedObjects.set(v, { type, bytes });
      w.uint32((id << 3) | 2).bytes(bytes);
      return;
    }
    w.uint32((id << 3) | 2).fork();
    writeMessage(w, type, v, path, errors);
    w.ldelim();
  }

  /** Writes one element (of a singular or repeated field) with its tag. */
  function writeElement(w: protobuf.Writer, field: protobuf.Field, v: JsonValue, path: string, errors: EncodeError[], reuse: boolean): void {
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Type) {
      writeNested(w, field.id, rt, v, path, errors, reuse);
    } else if (rt instanceof protobuf.Enum) {
      const n = enumValue(rt, v, path, errors);
      if (n !== undefined) w.uint32(field.id << 3).int32(n);
    } else {
      const value = scalar(field.type, v, path, errors);
      if (value !== undefined) writeScalar(w, field.id, field.type, value);
    }
  }

  function writeField(w: protobuf.Writer, field: protobuf.Field, v: JsonValue, path: string, errors: EncodeError[]): void {
    const entry = mapEntryOf(field);
    if (entry) {
      if (!isObject(v)) {
        errors.push({ path, message: `expected an object (map), got ${describe(v)}` });
        return;
      }
      const keyField = entry.fields['key']!;
      const valueField = entry.fields['value']!;
      // Sorted keys: equal JSON gives equal bytes whatever order the keys came in.
      for (const k of Object.keys(v).sort()) {
        const value = v[k]!;
        if (value === null) continue;
        const key = keyField.type === 'string' ? k : scalar(keyField.type, keyField.type === 'bool' ? k === 'true' : k, join(path, k), errors);
        if (key === undefined) continue;
        w.uint32((field.id << 3) | 2).fork();
        writeScalar(w, 1, keyField.type, key);
        writeElement(w, valueField, value, join(path, k), errors, true);
        w.ldelim();
      }
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(v)) {
        errors.push({ path, message: `expected an array, got ${describe(v)}` });
        return;
      }
      const rt = field.resolvedType;
      const kind = rt instanceof protobuf.Enum ? 'enum' : rt instanceof protobuf.Type ? 'message' : field.type;
      if (PACKABLE.has(kind)) {
        // proto3 packs repeated scalars: one length-delimited run of values.
        w.uint32((field.id << 3) | 2).fork();
        v.forEach((item, i) => {
          const value = kind === 'enum' ? enumValue(rt as protobuf.Enum, item, join(path, i), errors) : scalar(kind, item, join(path, i), errors);
          if (value !== undefined) writePackable(w, kind, value);
        });
        w.ldelim();
        return;
      }
      v.forEach((item, i) => writeElement(w, field, item, join(path, i), errors, true));
      return;
    }
    writeElement(w, field, v, path, errors, false);
  }

  // ---- bytes → JSON ------------------------------------------------------------------------------

  function toJson(type: protobuf.Type, obj: Record<string, unknown>): JsonValue {
    const name = fullName(type);
    switch (name) {
      case 'google.protobuf.Any': {
        const typeUrl = String(obj['type_url'] ?? '');
        const inner = lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
        const bytes = (obj['value'] as Uint8Array | undefined) ?? new Uint8Array();
        if (!inner) return { '@type': typeUrl, value: Buffer.from(bytes).toString('base64') };
        const decoded = toJson(inner, inner.decode(bytes) as unknown as Record<string, unknown>);
        if (SPECIAL_JSON.has(fullName(inner))) return { '@type': typeUrl, value: decoded };
        return { '@type': typeUrl, ...(decoded as JsonObject) };
      }
      case 'google.protobuf.Duration': {
        const seconds = BigInt(String(obj['seconds'] ?? 0));
        const nanos = Number(obj['nanos'] ?? 0);
        const neg = seconds < 0n || nanos < 0;
        const abs = (seconds < 0n ? -seconds : seconds).toString();
        return `${neg ? '-' : ''}${abs}${fraction(Math.abs(nanos))}s`;
      }
      case 'google.protobuf.Timestamp': {
        const ms = Number(String(obj['seconds'] ?? 0)) * 1000;
        const nanos = Number(obj['nanos'] ?? 0);
        const iso = new Date(ms).toISOString().replace('.000Z', '');
        return `${iso.replace(/Z$/, '')}${fraction(nanos)}Z`;
      }
      case 'google.protobuf.Struct':
        return structToJson(obj);
      case 'google.protobuf.Value':
        return valueToJson(obj);
      case 'google.protobuf.ListValue':
        return ((obj['values'] ?? []) as Record<string, unknown>[]).map(valueToJson);
      case 'google.protobuf.FieldMask':
        return ((obj['paths'] ?? []) as string[]).map(jsonNameOf).join(',');
      default:
        break;
    }
    if (WRAPPERS.has(name)) return scalarToJson(type.fields['value']!, obj['value']);
    const out: Record<string, JsonValue> = {};
    for (const field of type.fieldsArray) {
      if (!has(obj, field.name)) continue;
      const v = obj[field.name];
      const entry = mapEntryOf(field);
      if (field.repeated && (v as unknown[]).length === 0) continue;
      if (entry) {
        const m: Record<string, JsonValue> = {};
        for (const e of v as Record<string, unknown>[]) {
          m[String(e['key'] ?? '')] = singleToJson(entry.fields['value']!, e['value']);
        }
        out[field.name] = m;
      } else if (field.repeated) {
        const arr = v as unknown[];
        if (arr.length > 0) out[field.name] = arr.map((x) => singleToJson(field, x));
      } else {
        out[field.name] = singleToJson(field, v);
      }
    }
    return out;
  }

  function valueToJson(v: Record<string, unknown>): JsonValue {
    if (has(v, 'null_value')) return null;
    if (has(v, 'number_value')) return v['number_value'] as number;
    if (has(v, 'string_value')) return v['string_value'] as string;
    if (has(v, 'bool_value')) return v['bool_value'] as boolean;
    if (has(v, 'list_value')) return ((v['list_value'] as Record<string, unknown>)['values'] as Record<string, unknown>[] ?? []).map(valueToJson);
    if (has(v, 'struct_value')) return structToJson(v['struct_value'] as Record<string, unknown>);
    return null;
  }

  function structToJson(s: Record<string, unknown>): JsonValue {
    const out: Record<string, JsonValue> = {};
    for (const e of (s['fields'] ?? []) as Record<string, unknown>[]) {
      out[String(e['key'])] = valueToJson(e['value'] as Record<string, unknown>);
    }
    return out;
  }

  function singleToJson(field: protobuf.Field, v: unknown): JsonValue {
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Enum) return rt.valuesById[v as number] ?? (v as number);
    if (rt instanceof protobuf.Type) return toJson(rt, v as Record<string, unknown>);
    return scalarToJson(field, v);
  }

  function scalarToJson(field: protobuf.Field, v: unknown): JsonValue {
    if (LONG_TYPES.has(field.type)) return String(v);
    if (field.type === 'bytes') return Buffer.from(v as Uint8Array).toString('base64');
    if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
    return v as JsonValue;
  }

  function encodeMessage(typeName: string, json: JsonValue): EncodeResult {
    const type = lookupType(typeName);
    if (!type) return { ok: false, errors: [{ path: '', message: `unknown message type ${typeName}` }] };
    const errors: EncodeError[] = [];
    const w = protobuf.Writer.create();
    writeMessage(w, type, json, '', errors);
    if (errors.length > 0) return { ok: false, errors };
    return { ok: true, value: w.finish() };
  }

  return {
    root,
    encodeMessage,
    encodeAny(typeUrl: string, json: JsonValue): EncodeResult {
      if (!isObject(json)) return { ok: false, errors: [{ path: '', message: `expected an object, got ${describe(json)}` }] };
      if ('@type' in json) {
        return { ok: false, errors: [{ path: '@type', message: 'a resource value is given without its outer "@type"' }] };
      }
      const errors: EncodeError[] = [];
      const w = protobuf.Writer.create();
      writeAny(w, { '@type': typeUrl, ...json }, '', errors);
      if (errors.length > 0) return { ok: false, errors };
      return { ok: true, value: w.finish() };
    },
    decodeMessage(typeName: string, bytes: Uint8Array): JsonValue {
      const type = lookupType(typeName);
      if (!type) throw new Error(`unknown message type ${typeName}`);
      return toJson(type, type.decode(bytes) as unknown as Record<string, unknown>);
    },
  };
}

