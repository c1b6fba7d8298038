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
const SPECIAL_JSON = new Set([
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.FieldMask',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
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

  function lookupType(name: string): protobuf.Type | undefined {
    try {
      const t = root.lookup(name);
      return t instanceof protobuf.Type ? t : undefined;
    } catch {
      return undefined;
    }
  }

  function fullName(type: protobuf.Type): string {
    return type.fullName.startsWith('.') ? type.fullName.slice(1) : type.fullName;
  }

  // ---- JSON → plain object for Type.encode ------------------------------------------------------

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
        errors.push({ path, message: `unknown ${e.fullName.slice(1)} value "${v}" (one of: ${known})` });
        return undefined;
      }
      return n;
    }
    if (typeof v === 'number' && Number.isInteger(v)) return v; // proto3 enums are open
    if (v === null && e.fullName === '.google.protobuf.NullValue') return 0;
    errors.push({ path, message: `expected an enum name of ${e.fullName.slice(1)}, got ${describe(v)}` });
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

  function structValue(v: JsonValue, path: string, errors: EncodeError[]): unknown {
    if (v === null) return { null_value: 0 };
    if (typeof v === 'number') return { number_value: v };
    if (typeof v === 'string') return { string_value: v };
    if (typeof v === 'boolean') return { bool_value: v };
    if (Array.isArray(v)) return { list_value: { values: v.map((x, i) => structValue(x, join(path, i), errors)) } };
    return { struct_value: struct(v as JsonObject, path, errors) };
  }

  function struct(v: JsonObject, path: string, errors: EncodeError[]): unknown {
    // Struct.fields is a map, which Root.fromDescriptor keeps as repeated {key, value} entries.
    return { fields: Object.keys(v).sort().map((k) => ({ key: k, value: structValue(v[k]!, join(path, k), errors) })) };
  }

  function anyMessage(v: JsonValue, path: string, errors: EncodeError[]): unknown {
    if (!isObject(v) || typeof v['@type'] !== 'string') {
      errors.push({ path, message: `expected an Any object with "@type", got ${describe(v)}` });
      return undefined;
    }
    const typeUrl = v['@type'];
    const inner = anyInner(typeUrl, v, path, errors);
    if (inner === undefined) return undefined;
    return { type_url: typeUrl, value: inner };
  }

  /** Encodes the payload of an Any object (fields beside "@type", or "value" for special WKTs). */
  function anyInner(typeUrl: string, v: JsonObject, path: string, errors: EncodeError[]): Uint8Array | undefined {
    const slash = typeUrl.lastIndexOf('/');
    const name = typeUrl.slice(slash + 1);
    const type = slash >= 0 && name ? lookupType(name) : undefined;
    if (!type) {
      errors.push({ path: join(path, '@type'), message: `unknown type "${typeUrl}" (not in the Envoy 1.40 API descriptors)` });
      return undefined;
    }
    let payload: JsonValue;
    if (SPECIAL_JSON.has(fullName(type))) {
      const extra = Object.keys(v).filter((k) => k !== '@type' && k !== 'value');
      for (const k of extra) errors.push({ path: join(path, k), message: `unknown field "${k}" in an Any of ${fullName(type)}` });
      if (!('value' in v)) {
        errors.push({ path, message: `an Any of ${fullName(type)} needs "value"` });
        return undefined;
      }
      payload = v['value']!;
    } else {
      const rest: Record<string, JsonValue> = {};
      for (const k of Object.keys(v)) if (k !== '@type') rest[k] = v[k]!;
      payload = rest;
    }
    const before = errors.length;
    const obj = message(type, payload, path, errors);
    if (errors.length > before || obj === undefined) return undefined;
    return type.encode(obj as protobuf.Message).finish();
  }

  /** A message value in JSON → the object shape Type.encode reads (protobufjs field names). */
  function message(type: protobuf.Type, v: JsonValue, path: string, errors: EncodeError[]): unknown {
    const name = fullName(type);
    switch (name) {
      case 'google.protobuf.Any':
        return anyMessage(v, path, errors);
      case 'google.protobuf.Duration':
        return durationParts(v, path, errors);
      case 'google.protobuf.Timestamp':
        return timestampParts(v, path, errors);
      case 'google.protobuf.Struct':
        if (!isObject(v)) {
          errors.push({ path, message: `expected an object (google.protobuf.Struct), got ${describe(v)}` });
          return undefined;
        }
        return struct(v, path, errors);
      case 'google.protobuf.Value':
        return structValue(v, path, errors);
      case 'google.protobuf.ListValue':
        if (!Array.isArray(v)) {
          errors.push({ path, message: `expected an array (google.protobuf.ListValue), got ${describe(v)}` });
          return undefined;
        }
        return { values: v.map((x, i) => structValue(x, join(path, i), errors)) };
      case 'google.protobuf.FieldMask':
        if (typeof v !== 'string') {
          errors.push({ path, message: `expected a comma-separated field mask, got ${describe(v)}` });
          return undefined;
        }
        return { paths: v === '' ? [] : v.split(',').map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) };
      default:
        break;
    }
    if (WRAPPERS.has(name)) {
      const valueField = type.fields['value']!;
      const value = scalar(valueField.type, v, path, errors);
      return value === undefined ? undefined : { value };
    }
    if (!isObject(v)) {
      errors.push({ path, message: `expected an object (${name}), got ${describe(v)}` });
      return undefined;
    }
    const index = fieldsOf(type);
    const out: Record<string, unknown> = {};
    const seen = new Map<string, string>();
    for (const key of Object.keys(v)) {
      const fieldPath = join(path, key);
      const field = index.get(key);
      if (!field) {
        errors.push({ path: fieldPath, message: `unknown field "${key}" in ${name}` });
        continue;
      }
      const earlier = seen.get(field.name);
      if (earlier !== undefined) {
        errors.push({ path: fieldPath, message: `field "${field.name}" given twice (also as "${earlier}")` });
        continue;
      }
      seen.set(field.name, key);
      const value = v[key]!;
      // proto3 JSON: null means "default", except a google.protobuf.Value holds null itself.
      if (value === null && !(field.resolvedType && fullName(field.resolvedType as protobuf.Type) === 'google.protobuf.Value')) {
        continue;
      }
      const converted = fieldValue(field, value, fieldPath, errors);
      if (converted !== undefined) out[field.name] = converted;
    }
    for (const oneof of type.oneofsArray) {
      const set = oneof.oneof.filter((f) => f in out);
      if (set.length > 1) {
        errors.push({ path, message: `only one of ${set.join(', ')} may be set (oneof ${oneof.name} in ${name})` });
      }
    }
    return out;
  }

  function single(field: protobuf.Field, v: JsonValue, path: string, errors: EncodeError[]): unknown {
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Enum) return enumValue(rt, v, path, errors);
    if (rt instanceof protobuf.Type) return message(rt, v, path, errors);
    return scalar(field.type, v, path, errors);
  }

  function fieldValue(field: protobuf.Field, v: JsonValue, path: string, errors: EncodeError[]): unknown {
    const entry = mapEntryOf(field);
    if (entry) {
      if (!isObject(v)) {
        errors.push({ path, message: `expected an object (map), got ${describe(v)}` });
        return undefined;
      }
      const keyField = entry.fields['key']!;
      const valueField = entry.fields['value']!;
      const out: { key: unknown; value: unknown }[] = [];
      // Sorted keys: equal JSON gives equal bytes whatever order the keys came in.
      for (const k of Object.keys(v).sort()) {
        const key = keyField.type === 'string' ? k : scalar(keyField.type, keyField.type === 'bool' ? k === 'true' : k, join(path, k), errors);
        const value = v[k] === null ? undefined : single(valueField, v[k]!, join(path, k), errors);
        if (key !== undefined && value !== undefined) out.push({ key, value });
      }
      return out;
    }
    if (field.repeated) {
      if (!Array.isArray(v)) {
        errors.push({ path, message: `expected an array, got ${describe(v)}` });
        return undefined;
      }
      const out: unknown[] = [];
      v.forEach((item, i) => {
        const value = single(field, item, join(path, i), errors);
        if (value !== undefined) out.push(value);
      });
      return out;
    }
    return single(field, v, path, errors);
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
    const obj = message(type, json, '', errors);
    if (errors.length > 0 || obj === undefined) return { ok: false, errors };
    return { ok: true, value: type.encode(obj as protobuf.Message).finish() };
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
      const value = anyInner(typeUrl, { '@type': typeUrl, ...json }, '', errors);
      if (errors.length > 0 || value === undefined) return { ok: false, errors };
      const anyType = lookupType('google.protobuf.Any')!;
      return { ok: true, value: anyType.encode({ type_url: typeUrl, value } as unknown as protobuf.Message).finish() };
    },
    decodeMessage(typeName: string, bytes: Uint8Array): JsonValue {
      const type = lookupType(typeName);
      if (!type) throw new Error(`unknown message type ${typeName}`);
      return toJson(type, type.decode(bytes) as unknown as Record<string, unknown>);
    },
  };
}

