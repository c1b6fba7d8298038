/**
 * Test oracle for protobuf encoding: @bufbuild/protobuf (an independent, conformance-tested proto3
 * implementation) reading the same Envoy 1.40 descriptors (.tools/envoy-api.binpb). It checks both
 * halves of what the ADS server does: the translator's JSON is valid proto3 JSON for the message
 * (unknown or misspelled fields, bad enum names, wrong value kinds are refused), and the bytes our
 * encoder writes decode to the very message the JSON describes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createFileRegistry, fromBinary, fromJson, toJson, type DescMessage, type JsonValue as BufJson, type Registry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import type { JsonValue } from '../../compiler/envoy/resources';

export const DESCRIPTORS = process.env['ENVOY_DESCRIPTORS'] ?? join(__dirname, '../../.tools/envoy-api.binpb');

let cached: Registry | null = null;
/** The Envoy 1.40 API as a @bufbuild/protobuf registry (loaded once). */
export function envoyRegistry(file = DESCRIPTORS): Registry {
  if (cached) return cached;
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(file));
  // The generator writes files in Go's registry order; the registry wants dependencies first.
  const byName = new Map(set.file.map((f) => [f.name, f]));
  const ordered: typeof set.file = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const f = byName.get(name);
    if (!f) return;
    f.dependency.forEach(visit);
    ordered.push(f);
  };
  set.file.forEach((f) => visit(f.name));
  set.file = ordered;
  cached = createFileRegistry(set);
  return cached;
}

function schemaOf(registry: Registry, typeName: string): DescMessage {
  const schema = registry.getMessage(typeName.replace(/^type\.googleapis\.com\//, ''));
  if (!schema) throw new Error(`no message ${typeName} in the descriptors`);
  return schema;
}

const JSON_OPTIONS = { registry: undefined as Registry | undefined, useProtoFieldName: true };

/**
 * Problems with `json` as the message `typeName` (proto3 JSON, snake_case or camelCase names): an
 * empty list when the oracle accepts it. `label` prefixes each problem.
 */
export function checkJson(typeName: string, json: JsonValue, label: string): string[] {
  const registry = envoyRegistry();
  try {
    fromJson(schemaOf(registry, typeName), json as BufJson, { registry });
    return [];
  } catch (e) {
    return [`${label}: ${e instanceof Error ? e.message : String(e)}`];
  }
}

/**
 * The message `json` describes and the message `bytes` decode to, both printed by the oracle as
 * proto3 JSON (proto field names, Any unpacked): equal when our encoder wrote what the JSON says.
 */
export function decodeBoth(typeName: string, json: JsonValue, bytes: Uint8Array): { expected: unknown; actual: unknown } {
  const registry = envoyRegistry();
  const schema = schemaOf(registry, typeName);
  const opts = { ...JSON_OPTIONS, registry };
  return {
    expected: toJson(schema, fromJson(schema, json as BufJson, { registry }), opts),
    actual: toJson(schema, fromBinary(schema, bytes), opts),
  };
}
