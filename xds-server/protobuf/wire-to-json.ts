/** Wire bytes (decoded by protobufjs) → proto3 JSON with snake_case names and Any as "@type": for status pages, debugging and tests. */
import * as protobuf from 'protobufjs';
import type { JsonValue } from '../../compiler/envoy/resources';
import type { DescriptorIndex } from './descriptor-index';
import { has } from './json';
import { scalarToJson } from './scalars';
import { WELL_KNOWN, type ReadCodec } from './well-known';

export class WireToJson implements ReadCodec {
  constructor(readonly index: DescriptorIndex) {}

  toJson(type: protobuf.Type, obj: Record<string, unknown>): JsonValue {
    const wellKnown = WELL_KNOWN.get(this.index.fullName(type));
    if (wellKnown) return wellKnown.read(this, type, obj);
    const out: Record<string, JsonValue> = {};
    for (const field of type.fieldsArray) {
      if (!has(obj, field.name)) continue;
      const v = obj[field.name];
      const entry = this.index.mapEntryOf(field);
      if (entry) {
        const m: Record<string, JsonValue> = {};
        for (const e of v as Record<string, unknown>[]) m[String(e['key'] ?? '')] = this.singleToJson(entry.fields['value']!, e['value']);
        if ((v as unknown[]).length > 0) out[field.name] = m;
      } else if (field.repeated) {
        const arr = v as unknown[];
        if (arr.length > 0) out[field.name] = arr.map((x) => this.singleToJson(field, x));
      } else {
        out[field.name] = this.singleToJson(field, v);
      }
    }
    return out;
  }

  private singleToJson(field: protobuf.Field, v: unknown): JsonValue {
    const rt = field.resolvedType;
    if (rt instanceof protobuf.Enum) return rt.valuesById[v as number] ?? (v as number);
    if (rt instanceof protobuf.Type) return this.toJson(rt, v as Record<string, unknown>);
    return scalarToJson(field, v);
  }
}
