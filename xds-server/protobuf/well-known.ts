/**
 * The one table of well-known types whose proto3 JSON is not an object of fields (Any, Duration,
 * Timestamp, Struct, Value, ListValue, FieldMask, the wrappers): how each is written to the wire
 * from JSON and read back. Everything else is a plain message (json-to-wire.ts, wire-to-json.ts).
 */
import type * as protobuf from 'protobufjs';
import type { JsonObject, JsonValue } from '../../compiler/envoy/resources';
import type { DescriptorIndex } from './descriptor-index';
import { describe, has, isObject, join, jsonNameOf, type EncodeError } from './json';
import { isDefaultScalar, scalar, scalarToJson, writeScalar } from './scalars';

/** What writing a well-known type needs from the encoder: plain messages (inside an Any). */
export interface WriteCodec {
  readonly index: DescriptorIndex;
  writeMessage(w: protobuf.Writer, type: protobuf.Type, v: JsonValue, path: string, errors: EncodeError[], inAny?: boolean): void;
}

/** What reading one needs from the decoder. */
export interface ReadCodec {
  readonly index: DescriptorIndex;
  toJson(type: protobuf.Type, obj: Record<string, unknown>): JsonValue;
}

interface WellKnownType {
  /** Writes the fields of the type (no tag, no length) for JSON `v`; mistakes go to `errors`. */
  write(codec: WriteCodec, w: protobuf.Writer, type: protobuf.Type, v: JsonValue, path: string, errors: EncodeError[]): void;
  /** The JSON form of a decoded value. */
  read(codec: ReadCodec, type: protobuf.Type, obj: Record<string, unknown>): JsonValue;
}

const WRAPPER_NAMES = ['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map((w) => `google.protobuf.${w}Value`);

const wrapper: WellKnownType = {
  write(_codec, w, type, v, path, errors) {
    const valueField = type.fields['value']!;
    // The wrapper itself is a message, present even when it holds the default (an empty body);
    // its `value` field has no presence, so a default is left out as in any proto3 message.
    const value = scalar(valueField.type, v, path, errors);
    if (value !== undefined && !isDefaultScalar(valueField.type, value)) writeScalar(w, 1, valueField.type, value);
  },
  read: (_codec, type, obj) => scalarToJson(type.fields['value']!, obj['value']),
};

const duration: WellKnownType = {
  write: (_codec, w, _type, v, path, errors) => writeSecondsNanos(w, durationParts(v, path, errors)),
  read(_codec, _type, obj) {
    const seconds = BigInt(String(obj['seconds'] ?? 0));
    const nanos = Number(obj['nanos'] ?? 0);
    const neg = seconds < 0n || nanos < 0;
    const abs = (seconds < 0n ? -seconds : seconds).toString();
    return `${neg ? '-' : ''}${abs}${fraction(Math.abs(nanos))}s`;
  },
};

const timestamp: WellKnownType = {
  write: (_codec, w, _type, v, path, errors) => writeSecondsNanos(w, timestampParts(v, path, errors)),
  read(_codec, _type, obj) {
    const ms = Number(String(obj['seconds'] ?? 0)) * 1000;
    const iso = new Date(ms).toISOString().replace('.000Z', '');
    return `${iso.replace(/Z$/, '')}${fraction(Number(obj['nanos'] ?? 0))}Z`;
  },
};

const struct: WellKnownType = {
  write(_codec, w, _type, v, path, errors) {
    if (!isObject(v)) errors.push({ path, message: `expected an object (google.protobuf.Struct), got ${describe(v)}` });
    else writeStruct(w, v, path, errors);
  },
  read: (_codec, _type, obj) => structToJson(obj),
};

const value: WellKnownType = {
  write: (_codec, w, _type, v, path, errors) => writeValue(w, v, path, errors),
  read: (_codec, _type, obj) => valueToJson(obj),
};

const listValue: WellKnownType = {
  write(_codec, w, _type, v, path, errors) {
    if (!Array.isArray(v)) errors.push({ path, message: `expected an array (google.protobuf.ListValue), got ${describe(v)}` });
    else writeList(w, v, path, errors);
  },
  read: (_codec, _type, obj) => ((obj['values'] ?? []) as Record<string, unknown>[]).map(valueToJson),
};

const fieldMask: WellKnownType = {
  write(_codec, w, _type, v, path, errors) {
    if (typeof v !== 'string') {
      errors.push({ path, message: `expected a comma-separated field mask, got ${describe(v)}` });
      return;
    }
    for (const p of v === '' ? [] : v.split(',')) w.uint32(10).string(p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  },
  read: (_codec, _type, obj) => ((obj['paths'] ?? []) as string[]).map(jsonNameOf).join(','),
};

/** google.protobuf.Any: type_url=1, value=2 (the message named by "@type", written in place). */
const any: WellKnownType = {
  write(codec, w, _type, v, path, errors) {
    if (!isObject(v) || typeof v['@type'] !== 'string') {
      errors.push({ path, message: `expected an Any object with "@type", got ${describe(v)}` });
      return;
    }
    const typeUrl = v['@type'];
    const slash = typeUrl.lastIndexOf('/');
    const name = typeUrl.slice(slash + 1);
    const inner = slash >= 0 && name ? codec.index.lookupType(name) : undefined;
    if (!inner) {
      errors.push({ path: join(path, '@type'), message: `unknown type "${typeUrl}" (not in the Envoy 1.40 API descriptors)` });
      return;
    }
    w.uint32(10).string(typeUrl).fork();
    const innerName = codec.index.fullName(inner);
    if (SPECIAL_JSON.has(innerName)) {
      for (const k of Object.keys(v)) {
        if (k !== '@type' && k !== 'value') errors.push({ path: join(path, k), message: `unknown field "${k}" in an Any of ${innerName}` });
      }
      if (!('value' in v)) errors.push({ path, message: `an Any of ${innerName} needs "value"` });
      else codec.writeMessage(w, inner, v['value']!, path, errors);
    } else {
      codec.writeMessage(w, inner, v, path, errors, true);
    }
    // value=2 is bytes without presence: an Any of an empty message (a Router) has none.
    ldelimUnlessEmpty(w, 18);
  },
  read(codec, _type, obj): JsonValue {
    const typeUrl = String(obj['type_url'] ?? '');
    const inner = codec.index.lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
    const bytes = has(obj, 'value') ? (obj['value'] as Uint8Array) : new Uint8Array();
    if (!inner) return { '@type': typeUrl, value: Buffer.from(bytes).toString('base64') };
    const decoded = codec.toJson(inner, inner.decode(bytes) as unknown as Record<string, unknown>);
    if (SPECIAL_JSON.has(codec.index.fullName(inner))) return { '@type': typeUrl, value: decoded };
    return { '@type': typeUrl, ...(decoded as JsonObject) };
  },
};

/** By full name (no leading dot). */
export const WELL_KNOWN: ReadonlyMap<string, WellKnownType> = new Map<string, WellKnownType>([
  ['google.protobuf.Any', any],
  ['google.protobuf.Duration', duration],
  ['google.protobuf.Timestamp', timestamp],
  ['google.protobuf.Struct', struct],
  ['google.protobuf.Value', value],
  ['google.protobuf.ListValue', listValue],
  ['google.protobuf.FieldMask', fieldMask],
  ...WRAPPER_NAMES.map((n) => [n, wrapper] as const),
]);

/** Well-known types whose JSON form is not an object of fields; inside an Any they sit under "value". */
export const SPECIAL_JSON: ReadonlySet<string> = new Set([...WELL_KNOWN.keys()].filter((n) => n !== 'google.protobuf.Any'));

/** protobufjs's Writer state that ldelim() works on (public in its typings, as `object`). */
interface WriterOps {
  head: { next: unknown };
  tail: { next: unknown };
  len: number;
}

/**
 * Ends the last fork() as Writer.ldelim() does (length, then the forked bytes), with `tag` before
 * the length, or writes nothing at all when the fork wrote nothing: a length-delimited field
 * without presence whose bytes turned out empty is left off the wire.
 */
function ldelimUnlessEmpty(w: protobuf.Writer, tag: number): void {
  const forked = w as unknown as WriterOps;
  const { head, tail, len } = forked;
  w.reset();
  if (len === 0) return;
  w.uint32(tag).uint32(len);
  const outer = w as unknown as WriterOps;
  outer.tail.next = head.next; // the fork's first op is a no-op, as in ldelim
  outer.tail = tail;
  outer.len += len;
}

// ---- Duration, Timestamp ------------------------------------------------------------------------

interface SecondsNanos {
  readonly seconds: string;
  readonly nanos: number;
}

function durationParts(v: JsonValue, path: string, errors: EncodeError[]): SecondsNanos | undefined {
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

function timestampParts(v: JsonValue, path: string, errors: EncodeError[]): SecondsNanos | undefined {
  const m = typeof v === 'string' ? /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(v) : null;
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(ms)) {
    errors.push({ path, message: `expected an RFC 3339 timestamp, got ${describe(v)}` });
    return undefined;
  }
  return { seconds: String(Math.floor(ms / 1000)), nanos: Number((m[2] ?? '').padEnd(9, '0')) };
}

/** Seconds and nanos of a Duration or Timestamp: seconds=1, nanos=2, zeros left out. */
function writeSecondsNanos(w: protobuf.Writer, parts: SecondsNanos | undefined): void {
  if (!parts) return;
  if (parts.seconds !== '0') w.uint32(8).int64(parts.seconds);
  if (parts.nanos !== 0) w.uint32(16).int32(parts.nanos);
}

/** Fractional seconds as proto3 JSON prints them: 0, 3, 6 or 9 digits. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const digits = String(nanos).padStart(9, '0');
  if (digits.endsWith('000000')) return `.${digits.slice(0, 3)}`;
  if (digits.endsWith('000')) return `.${digits.slice(0, 6)}`;
  return `.${digits}`;
}

// ---- Struct, Value, ListValue -------------------------------------------------------------------

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

function valueToJson(v: Record<string, unknown>): JsonValue {
  if (has(v, 'null_value')) return null;
  if (has(v, 'number_value')) return v['number_value'] as number;
  if (has(v, 'string_value')) return v['string_value'] as string;
  if (has(v, 'bool_value')) return v['bool_value'] as boolean;
  if (has(v, 'list_value')) return (((v['list_value'] as Record<string, unknown>)['values'] as Record<string, unknown>[]) ?? []).map(valueToJson);
  if (has(v, 'struct_value')) return structToJson(v['struct_value'] as Record<string, unknown>);
  return null;
}

function structToJson(s: Record<string, unknown>): JsonValue {
  const out: Record<string, JsonValue> = {};
  for (const e of (s['fields'] ?? []) as Record<string, unknown>[]) out[String(e['key'])] = valueToJson(e['value'] as Record<string, unknown>);
  return out;
}
