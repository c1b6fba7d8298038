/**
 * Small algebra over WAF statements: AND/OR that flatten (each nesting level counts against the
 * provider's depth limit), the logical depth of a statement, and a walk over its leaves.
 */
import type { WafStatement } from './types';

/** AND of the given statements, nested ANDs flattened; one statement stands alone. */
export function and(...statements: readonly WafStatement[]): WafStatement {
  const flat = statements.flatMap((s) => ('andStatement' in s ? s.andStatement.statements : [s]));
  if (flat.length === 0) throw new Error('bug: AND of nothing');
  return flat.length === 1 ? (flat[0] as WafStatement) : { andStatement: { statements: flat } };
}

/** OR of the given statements, nested ORs flattened; one statement stands alone. */
export function or(...statements: readonly WafStatement[]): WafStatement {
  const flat = statements.flatMap((s) => ('orStatement' in s ? s.orStatement.statements : [s]));
  if (flat.length === 0) throw new Error('bug: OR of nothing');
  return flat.length === 1 ? (flat[0] as WafStatement) : { orStatement: { statements: flat } };
}

export function not(statement: WafStatement): WafStatement {
  return { notStatement: { statement } };
}

/** Direct children of a statement (the scope-down of a rate-based statement counts as one). */
export function children(s: WafStatement): readonly WafStatement[] {
  if ('andStatement' in s) return s.andStatement.statements;
  if ('orStatement' in s) return s.orStatement.statements;
  if ('notStatement' in s) return [s.notStatement.statement];
  if ('rateBasedStatement' in s) return s.rateBasedStatement.scopeDownStatement ? [s.rateBasedStatement.scopeDownStatement] : [];
  return [];
}

/** How many AND/OR/NOT levels deep a statement goes (a leaf is 0). */
export function logicalDepth(s: WafStatement): number {
  const logical = 'andStatement' in s || 'orStatement' in s || 'notStatement' in s;
  const inner = children(s).reduce((max, c) => Math.max(max, logicalDepth(c)), 0);
  return logical ? inner + 1 : inner;
}

/** Every statement in the tree, depth first (the root included). */
export function* walk(s: WafStatement): Generator<WafStatement> {
  yield s;
  for (const c of children(s)) yield* walk(c);
}
