/**
 * Memo tables of the Envoy translator: the JSON translated from an IR object, kept by the object's
 * identity. The incremental IR builder keeps the identity of unchanged routes and services between
 * compiles, so a recompile translates (and hashes) only what changed.
 *
 * Purity is kept by construction: an entry is found by (context, IR object), where the context is a
 * string naming every environment setting the translation reads besides the object itself. The
 * same IR content therefore gives the same JSON whether an entry was found or computed.
 */

/** Contexts kept per table: one per distinct environment setting in use (a handful), oldest dropped first. */
const MAX_CONTEXTS = 16;

export type Memo<K extends object, V> = (key: K, context: string, compute: () => V) => V;

/**
 * A memo table. Entries live as long as their IR object (WeakMap); a context nobody asks for any
 * more is dropped with all its entries once MAX_CONTEXTS newer ones were used.
 */
export function identityMemo<K extends object, V>(): Memo<K, V> {
  const byContext = new Map<string, WeakMap<K, V>>();
  let lastContext: string | null = null;
  return (key, context, compute) => {
    let table = byContext.get(context);
    if (table === undefined) {
      table = new WeakMap();
      byContext.set(context, table);
      if (byContext.size > MAX_CONTEXTS) byContext.delete(byContext.keys().next().value as string);
    } else if (context !== lastContext) {
      // Most recently used last, so eviction drops the context unused the longest.
      byContext.delete(context);
      byContext.set(context, table);
    }
    lastContext = context;
    const hit = table.get(key);
    if (hit !== undefined) return hit;
    const value = compute();
    table.set(key, value);
    return value;
  };
}
