/**
 * Cached reflection over the Envoy API descriptors (a protobufjs Root): the codec asks these on the
 * hot path of every field, and protobufjs computes `fullName` and `lookup` by walking the tree.
 */
import * as protobuf from 'protobufjs';
import { jsonNameOf } from './json';

/** A oneof with more than one member: at most one of them may be set. */
export interface OneofIndex {
  readonly name: string;
  readonly members: ReadonlySet<string>;
}

export class DescriptorIndex {
  private readonly fieldIndex = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();
  private readonly typeByName = new Map<string, protobuf.Type | null>();
  private readonly nameOfType = new WeakMap<protobuf.ReflectionObject, string>();
  private readonly oneofsOfType = new WeakMap<protobuf.Type, readonly OneofIndex[]>();
  private readonly mapEntries = new WeakMap<protobuf.Field, protobuf.Type | null>();
  private readonly wireRanks = new WeakMap<protobuf.Field, number>();

  constructor(readonly root: protobuf.Root) {}

  /** The fields of `type` by proto name and by JSON name. */
  fieldsOf(type: protobuf.Type): Map<string, protobuf.Field> {
    let index = this.fieldIndex.get(type);
    if (!index) {
      index = new Map();
      for (const f of type.fieldsArray) {
        index.set(f.name, f);
        index.set(jsonNameOf(f.name), f);
      }
      this.fieldIndex.set(type, index);
    }
    return index;
  }

  /**
   * The entry type when `field` is a map. Root.fromDescriptor keeps a map as a repeated
   * `<FieldName>Entry` message nested in the declaring message; its map_entry option also leaks
   * onto the parent message, so the option alone is not proof: name and place are checked too.
   */
  mapEntryOf(field: protobuf.Field): protobuf.Type | undefined {
    let entry = this.mapEntries.get(field);
    if (entry === undefined) {
      entry = findMapEntry(field) ?? null;
      this.mapEntries.set(field, entry);
    }
    return entry ?? undefined;
  }

  /** A message type by fully qualified name (no leading dot). */
  lookupType(name: string): protobuf.Type | undefined {
    let t = this.typeByName.get(name);
    if (t === undefined) {
      try {
        const found = this.root.lookup(name);
        t = found instanceof protobuf.Type ? found : null;
      } catch {
        t = null;
      }
      this.typeByName.set(name, t);
    }
    return t ?? undefined;
  }

  /** Fully qualified name without the leading dot. */
  fullName(type: protobuf.ReflectionObject): string {
    let name = this.nameOfType.get(type);
    if (name === undefined) {
      name = type.fullName.startsWith('.') ? type.fullName.slice(1) : type.fullName;
      this.nameOfType.set(type, name);
    }
    return name;
  }

  /**
   * Where `field` goes in the message's bytes, as protobuf-go (so go-control-plane) orders them:
   * fields outside a oneof by number, then the oneofs in declaration order. Lower goes first.
   */
  wireRank(field: protobuf.Field): number {
    let rank = this.wireRanks.get(field);
    if (rank === undefined) {
      const oneof = field.partOf;
      // A proto3 `optional` field's synthetic oneof does not count (protobuf-go's LegacyFieldOrder).
      const real = oneof && !(field.options as Record<string, unknown> | undefined)?.['proto3_optional'];
      // Field numbers are below 2^29, so each oneof gets its own band above the plain fields.
      const type = field.parent instanceof protobuf.Type ? field.parent : null;
      rank = real && type ? (type.oneofsArray.indexOf(oneof) + 1) * 2 ** 29 + field.id : field.id;
      this.wireRanks.set(field, rank);
    }
    return rank;
  }

  oneofsOf(type: protobuf.Type): readonly OneofIndex[] {
    let list = this.oneofsOfType.get(type);
    if (!list) {
      list = type.oneofsArray.filter((o) => o.oneof.length > 1).map((o) => ({ name: o.name, members: new Set(o.oneof) }));
      this.oneofsOfType.set(type, list);
    }
    return list;
  }
}

function findMapEntry(field: protobuf.Field): protobuf.Type | undefined {
  const rt = field.resolvedType;
  if (!field.repeated || !(rt instanceof protobuf.Type) || rt.parent !== field.parent) return undefined;
  if ((rt.options as Record<string, unknown> | undefined)?.['map_entry'] !== true) return undefined;
  const expected = `${field.name.replace(/(?:^|_)([a-z0-9])/g, (_m, c: string) => c.toUpperCase())}Entry`;
  return rt.name === expected && rt.fields['key']?.id === 1 && rt.fields['value']?.id === 2 ? rt : undefined;
}
