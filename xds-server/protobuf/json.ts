/** Small helpers shared by the protobuf JSON codec: JSON paths for error messages, value kinds. */
import type { JsonObject, JsonValue } from '../../compiler/envoy/resources';

/** One encoding mistake: where in the JSON (`filter_chains[0].filters[0].typed_config.stat_prefix`) and what. */
export interface EncodeError {
  readonly path: string;
  readonly message: string;
}

export function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** How a wrong value is named in a message: `an array`, `string "x"`. */
export function describe(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

/** `path` + `.key` or `[index]`. */
export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** Own properties only: decoded protobufjs messages carry defaults on their prototype. */
export function has(o: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}

/** snake_case → lowerCamelCase, as protoc derives json_name. */
export function jsonNameOf(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}
