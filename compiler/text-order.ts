/**
 * The one string order of the compiler's stages: code-unit order, locale-independent, so every
 * output (IR, Envoy resources, diagnostics) is the same on every machine.
 */

/** Code-unit order of two strings (`localeCompare` would depend on the machine's locale). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The distinct values, in code-unit order. */
export function sortedUnique<T extends string>(values: readonly T[]): T[] {
  return [...new Set(values)].sort(compareText);
}
