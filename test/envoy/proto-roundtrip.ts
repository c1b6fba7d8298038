/**
 * Test helper: proves translator output survives protobuf encoding with the Envoy 1.40 descriptors
 * (.tools/envoy-api.binpb). JSON → protobufjs object (well-known types by hand, unknown fields and
 * bad enum names reported) → encode → decode → JSON again, then every key written must come back
 * with the same value. Catches camelCase/snake_case slips, typos and wrong nesting that protobufjs'
 * fromObject would silently drop. The xDS server has its own encoder; this one is only a check.
 */
import { readFileSync } from 'node:fs';
import * as protobuf from 'protobufjs';
// Also adds Root.fromDescriptor to protobufjs (a side effect of loading the extension).
import * as descriptor from 'protobufjs/ext/descriptor';
import type { JsonObject, JsonValue } from '../../compiler/envoy/resources';

type Obj = Record<string, unknown>;

export function loadEnvoyRoot(file: string): protobuf.Root {
  const set = descriptor.FileDescriptorSet.decode(readFileSync(file));
  const root = (protobuf.Root as unknown as { fromDescriptor(d: unknown): protobuf.Root }).fromDescriptor(set);
  root.resolveAll();
  return root;
}

const WRAPPERS = new Set(
  ['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map((w) => `.google.protobuf.${w}Value`),
);

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * The entry type when `field` is a map. Not from `options.map_entry`: protobufjs 7's
 * Root.fromDescriptor also sets that option on every message that merely CONTAINS a map (VirtualHost,
 * Cluster, ...), so it is recognised by shape: a nested `<FieldName>Entry` type with key and value.
 */
function isMapEntry(field: protobuf.Field): protobuf.Type | null {
  const rt = field.resolvedType;
  if (!field.repeated || !(rt instanceof protobuf.Type)) return null;
  const entryName = field.name.replace(/(?:^|_)([a-z0-9])/g, (_m, c: string) => c.toUpperCase()) + 'Entry';
  const shaped = rt.parent === field.parent && rt.name === entryName && rt.fieldsArray.length === 2 && rt.fields['key'] && rt.fields['value'];
  return shaped ? rt : null;
}

function formatDuration(seconds: number, nanos: number): string {
  if (nanos === 0) return `${seconds}s`;
  return `${seconds}.${String(nanos).padStart(9, '0').replace(/0+$/, '')}s`;
}

export class RoundTrip {
  readonly problems: string[] = [];
  constructor(private readonly root: protobuf.Root) {}

  private type(name: string): protobuf.Type {
    return this.root.lookupType(name.replace(/^type\.googleapis\.com\//, ''));
  }

  // ---- JSON → protobufjs object -------------------------------------------------------------
  private toMessage(type: protobuf.Type, json: unknown, path: string): unknown {
    const full = type.fullName;
    if (full === '.google.protobuf.Duration') {
      const m = typeof json === 'string' ? /^(\d+)(?:\.(\d{1,9}))?s$/.exec(json) : null;
      if (!m) {
        this.problems.push(`${path}: bad Duration ${JSON.stringify(json)}`);
        return {};
      }
      return { seconds: Number(m[1]), nanos: m[2] ? Number(m[2].padEnd(9, '0')) : 0 };
    }
    if (WRAPPERS.has(full)) return { value: json };
    if (full === '.google.protobuf.Any') {
      if (!isObject(json) || typeof json['@type'] !== 'string') {
        this.problems.push(`${path}: Any without @type`);
        return {};
      }
      const { '@type': url, ...rest } = json;
      let inner: protobuf.Type;
      try {
        inner = this.type(url as string);
      } catch {
        this.problems.push(`${path}: unknown Any type ${String(url)}`);
        return {};
      }
      const obj = this.toFields(inner, rest, path);
      return { type_url: url, value: inner.encode(inner.fromObject(obj)).finish() };
    }
    if (full === '.google.protobuf.Struct' || full === '.google.protobuf.Value' || full === '.google.protobuf.ListValue') {
      this.problems.push(`${path}: ${full} not supported by this check`);
      return {};
    }
    if (!isObject(json)) {
      this.problems.push(`${path}: expected an object for ${full}, got ${JSON.stringify(json)}`);
      return {};
    }
    return this.toFields(type, json, path);
  }

  private toValue(field: protobuf.Field, json: unknown, path: string): unknown {
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Enum) {
      if (typeof json !== 'string' || rt.values[json] === undefined) {
        this.problems.push(`${path}: ${JSON.stringify(json)} is not a value of ${rt.fullName}`);
        return 0;
      }
      return rt.values[json];
    }
    if (rt instanceof protobuf.Type) return this.toMessage(rt, json, path);
    const kind = field.type;
    const ok =
      kind === 'string'
        ? typeof json === 'string'
        : kind === 'bool'
          ? typeof json === 'boolean'
          : kind === 'bytes'
            ? typeof json === 'string'
            : typeof json === 'number' || (typeof json === 'string' && /^-?\d+$/.test(json));
    if (!ok) this.problems.push(`${path}: ${JSON.stringify(json)} is not a ${kind}`);
    if (/int|fixed/.test(kind) && typeof json === 'number' && (!Number.isInteger(json) || (/^u|^fixed/.test(kind) && json < 0))) {
      this.problems.push(`${path}: ${json} is not a valid ${kind}`);
    }
    return kind === 'bytes' && typeof json === 'string' ? Buffer.from(json, 'base64') : json;
  }

  private toFields(type: protobuf.Type, json: Obj, path: string): Obj {
    const out: Obj = {};
    const oneofs = new Map<string, string>();
    for (const [key, value] of Object.entries(json)) {
      const at = path ? `${path}.${key}` : key;
      const field = type.fields[key];
      if (!field) {
        this.problems.push(`${at}: no field "${key}" in ${type.fullName.slice(1)}`);
        continue;
      }
      if (field.partOf) {
        const other = oneofs.get(field.partOf.name);
        if (other) this.problems.push(`${at}: oneof ${field.partOf.name} already set by ${other}`);
        oneofs.set(field.partOf.name, key);
      }
      const entry = isMapEntry(field);
      if (entry) {
        if (!isObject(value)) {
          this.problems.push(`${at}: map field needs an object`);
          continue;
        }
        const valueField = entry.fields['value'] as protobuf.Field;
        out[key] = Object.entries(value).map(([k, v]) => ({ key: k, value: this.toValue(valueField, v, `${at}[${k}]`) }));
      } else if (field.repeated) {
        if (!Array.isArray(value)) {
          this.problems.push(`${at}: repeated field needs an array`);
          continue;
        }
        out[key] = value.map((v, i) => this.toValue(field, v, `${at}[${i}]`));
      } else {
        out[key] = this.toValue(field, value, at);
      }
    }
    return out;
  }

  // ---- protobufjs object → JSON -------------------------------------------------------------
  private fromMessage(type: protobuf.Type, obj: unknown): unknown {
    const full = type.fullName;
    const o = obj as Obj;
    if (full === '.google.protobuf.Duration') return formatDuration(Number(o['seconds'] ?? 0), Number(o['nanos'] ?? 0));
    if (WRAPPERS.has(full)) return o['value'];
    if (full === '.google.protobuf.Any') {
      const inner = this.type(o['type_url'] as string);
      const decoded = inner.toObject(inner.decode(o['value'] as Uint8Array), TO_OBJECT);
      return { '@type': o['type_url'], ...(this.fromFields(inner, decoded) as Obj) };
    }
    return this.fromFields(type, o);
  }

  private fromFields(type: protobuf.Type, obj: Obj): Obj {
    const out: Obj = {};
    for (const [key, value] of Object.entries(obj)) {
      const field = type.fields[key];
      if (!field || value === null || value === undefined) continue;
      const rt = field.resolvedType;
      const entry = isMapEntry(field);
      if (entry) {
        const vf = entry.fields['value'] as protobuf.Field;
        const m: Obj = {};
        for (const e of value as Obj[]) {
          m[String(e['key'])] = vf.resolvedType instanceof protobuf.Type ? this.fromMessage(vf.resolvedType, e['value']) : e['value'];
        }
        out[key] = m;
      } else if (rt instanceof protobuf.Type) {
        out[key] = field.repeated ? (value as unknown[]).map((v) => this.fromMessage(rt, v)) : this.fromMessage(rt, value);
      } else {
        out[key] = value;
      }
    }
    return out;
  }

  /** Encodes `json` as `typeName`, decodes it, and records every written key that did not come back. */
  check(typeName: string, json: JsonObject, label: string): void {
    const type = this.type(typeName);
    const before = this.problems.length;
    const obj = this.toFields(type, json as Obj, label);
    if (this.problems.length > before) return;
    const verifyError = type.verify(obj);
    if (verifyError) this.problems.push(`${label}: ${verifyError}`);
    const back = this.fromFields(type, type.toObject(type.decode(type.encode(type.fromObject(obj)).finish()), TO_OBJECT));
    this.compare(json, back, label);
  }

  private compare(written: JsonValue, back: unknown, path: string): void {
    if (Array.isArray(written)) {
      if (!Array.isArray(back) || back.length !== written.length) {
        this.problems.push(`${path}: array of ${written.length} came back as ${JSON.stringify(back)}`);
        return;
      }
      written.forEach((w, i) => this.compare(w as JsonValue, back[i], `${path}[${i}]`));
    } else if (isObject(written)) {
      if (!isObject(back)) {
        this.problems.push(`${path}: object came back as ${JSON.stringify(back)}`);
        return;
      }
      for (const [k, v] of Object.entries(written)) {
        if (!(k in back)) this.problems.push(`${path}.${k}: dropped by the encoder`);
        else this.compare(v as JsonValue, back[k], `${path}.${k}`);
      }
    } else if (String(written) !== String(back)) {
      this.problems.push(`${path}: wrote ${JSON.stringify(written)}, got back ${JSON.stringify(back)}`);
    }
  }
}

/** Defaults on so scalars written with their zero value still come back; oneof members are not defaulted. */
const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: String, defaults: true, arrays: true, objects: false };
