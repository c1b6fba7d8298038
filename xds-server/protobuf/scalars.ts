/**
 * proto3 scalars and enums: JSON value → checked value (every mistake recorded with its path), the
 * wire writers for each scalar kind, and the reverse for decoding.
 */
import * as protobuf from 'protobufjs';
import type { JsonValue } from '../../compiler/envoy/resources';
import { describe, type EncodeError } from './json';

const INT32_RANGE: Record<string, [number, number]> = {
  int32: [-2147483648, 2147483647],
  sint32: [-2147483648, 2147483647],
  sfixed32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  fixed32: [0, 4294967295],
};
export const LONG_TYPES = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);
const UNSIGNED_LONG = new Set(['uint64', 'fixed64']);
/** Kinds written as a packed run when repeated (proto3). */
export const PACKABLE = new Set(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64', 'bool', 'enum']);

/** `v` as a value of scalar `kind` (64-bit integers as decimal strings), or undefined after recording why not. */
export function scalar(kind: string, v: JsonValue, path: string, errors: EncodeError[]): unknown {
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
  if (LONG_TYPES.has(kind)) return longValue(kind, v, bad);
  errors.push({ path, message: `unsupported scalar type ${kind}` });
  return undefined;
}

function longValue(kind: string, v: JsonValue, bad: (what: string) => undefined): string | undefined {
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

/** An enum value by name (or number: proto3 enums are open); `name` is the enum's full name. */
export function enumValue(e: protobuf.Enum, name: string, v: JsonValue, path: string, errors: EncodeError[]): number | undefined {
  if (typeof v === 'string') {
    const n = e.values[v];
    if (n === undefined) {
      const known = Object.keys(e.values).slice(0, 12).join(', ');
      errors.push({ path, message: `unknown ${name} value "${v}" (one of: ${known})` });
      return undefined;
    }
    return n;
  }
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (v === null && name === 'google.protobuf.NullValue') return 0;
  errors.push({ path, message: `expected an enum name of ${name}, got ${describe(v)}` });
  return undefined;
}

/**
 * Whether a converted scalar (or enum number) is its type's proto3 default, which a field without
 * presence leaves off the wire (as protobuf-go and every other proto3 encoder do): 0, false, "",
 * empty bytes, enum value 0. A negative zero float is not the default (its sign bit is kept).
 */
export function isDefaultScalar(kind: string, value: unknown): boolean {
  switch (kind) {
    case 'bool': return value === false;
    case 'string': return value === '';
    case 'bytes': return (value as Uint8Array).length === 0;
    case 'double':
    case 'float': return value === 0 && !Object.is(value, -0);
    default: return LONG_TYPES.has(kind) ? /^-?0$/.test(value as string) : value === 0;
  }
}

/** Writes one scalar value (already converted by `scalar`) with its tag. */
export function writeScalar(w: protobuf.Writer, id: number, kind: string, value: unknown): void {
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

/** The value alone (no tag) of a varint-encoded or fixed-size scalar, as inside a packed array. */
export function writePackable(w: protobuf.Writer, kind: string, value: unknown): void {
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

/** A decoded scalar as proto3 JSON: 64-bit integers as strings, bytes as base64, non-finite floats by name. */
export function scalarToJson(field: protobuf.Field, v: unknown): JsonValue {
  if (LONG_TYPES.has(field.type)) return String(v);
  if (field.type === 'bytes') return Buffer.from(v as Uint8Array).toString('base64');
  if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  return v as JsonValue;
}
