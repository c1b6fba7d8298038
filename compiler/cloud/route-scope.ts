/**
 * Route → WAF match statement: which requests a route covers (host, path, methods, headers), so
 * rules and rate-based scope-downs apply to the same requests Envoy routes there.
 */
import type { HeaderMatchIR, RouteIR } from '../ir/ir';
import type { FieldToMatch, PlanNote, TextTransformation, WafStatement } from './types';

const NONE: readonly TextTransformation[] = [{ priority: 0, type: 'NONE' }];
// Envoy matches the authority case-insensitively; without LOWERCASE `API.EXAMPLE.COM` would slip past.
const LOWERCASE: readonly TextTransformation[] = [{ priority: 0, type: 'LOWERCASE' }];

/** A statement that every request matches: a rate-based rule keyed on CONSTANT needs a scope-down. */
export const ANY_REQUEST: WafStatement = byteMatch({ uriPath: {} }, 'STARTS_WITH', '/', NONE);

export interface RouteScope {
  /** Null when the route matches every request (host `*`, prefix `/`, any method, no headers). */
  readonly statement: WafStatement | null;
  /** Conditions of the route the WAF scope leaves out (the scope is then broader than the route). */
  readonly notes: readonly PlanNote[];
}

/** The conditions of one route, ANDed; a single condition stands alone. */
export function routeScope(route: RouteIR, subject: string): RouteScope {
  const parts: WafStatement[] = [];
  const notes: PlanNote[] = [];
  const host = hostCondition(route.host);
  if (host) parts.push(host);
  const path = pathCondition(route.match.path);
  if (path) parts.push(path);
  const methods = route.match.methods;
  if (methods.length === 1) parts.push(byteMatch({ method: {} }, 'EXACTLY', methods[0] ?? '', NONE));
  // One regex instead of an OR of byte matches: cheaper (3 WCU vs 2 per method) and one nesting level less.
  if (methods.length > 1) parts.push(regexMatch({ method: {} }, `^(${methods.join('|')})$`, NONE));
  for (const header of route.match.headers) {
    const cond = headerCondition(header);
    if (cond) parts.push(cond);
    else
      notes.push({
        subject,
        message: `route ${route.name}: header condition "${header.name}${header.invert ? ' absent' : ' present'}" is not part of the WAF scope; the WAF rule also covers requests ${header.invert ? 'with' : 'without'} it`,
      });
  }
  if (parts.length === 0) return { statement: null, notes };
  return { statement: parts.length === 1 ? (parts[0] as WafStatement) : { andStatement: { statements: parts } }, notes };
}

/** Several routes: any of them. Null when one of them matches every request. */
export function routesScope(routes: readonly RouteIR[], subject: string): RouteScope {
  const scopes = routes.map((r) => routeScope(r, subject));
  const notes = scopes.flatMap((s) => s.notes);
  if (scopes.some((s) => s.statement === null)) return { statement: null, notes };
  const statements = scopes.map((s) => s.statement as WafStatement);
  if (statements.length === 1) return { statement: statements[0] as WafStatement, notes };
  return { statement: { orStatement: { statements } }, notes };
}

function hostCondition(host: string): WafStatement | null {
  const h = host.toLowerCase();
  if (h === '*' || h === '') return null;
  const field: FieldToMatch = { singleHeader: { name: 'host' } };
  if (h.startsWith('*')) return byteMatch(field, 'ENDS_WITH', h.slice(1), LOWERCASE);
  if (h.endsWith('*')) return byteMatch(field, 'STARTS_WITH', h.slice(0, -1), LOWERCASE);
  return byteMatch(field, 'EXACTLY', h, LOWERCASE);
}

function pathCondition(path: RouteIR['match']['path']): WafStatement | null {
  switch (path.kind) {
    case 'exact':
      return byteMatch({ uriPath: {} }, 'EXACTLY', path.value, NONE);
    case 'prefix':
      // Every path starts with "/": no condition at all (and no capacity spent).
      return path.value === '/' ? null : byteMatch({ uriPath: {} }, 'STARTS_WITH', path.value, NONE);
    case 'regex':
      // Envoy's safe_regex must match the whole path; WAF regexes search, so anchor them.
      return regexMatch({ uriPath: {} }, `^(?:${path.value})$`, NONE);
  }
}

function headerCondition(header: HeaderMatchIR): WafStatement | null {
  const field: FieldToMatch = { singleHeader: { name: header.name.toLowerCase() } };
  let cond: WafStatement;
  switch (header.match.kind) {
    case 'exact':
      cond = byteMatch(field, 'EXACTLY', header.match.value, NONE);
      break;
    case 'prefix':
      cond = byteMatch(field, 'STARTS_WITH', header.match.value, NONE);
      break;
    case 'regex':
      cond = regexMatch(field, `^(?:${header.match.value})$`, NONE);
      break;
    case 'present':
      // WAF has no "header present" test that behaves the same for empty values: left out, noted.
      return null;
  }
  return header.invert ? { notStatement: { statement: cond } } : cond;
}

function byteMatch(
  fieldToMatch: FieldToMatch,
  positionalConstraint: 'EXACTLY' | 'STARTS_WITH' | 'ENDS_WITH',
  searchString: string,
  textTransformations: readonly TextTransformation[],
): WafStatement {
  return { byteMatchStatement: { fieldToMatch, positionalConstraint, searchString, textTransformations } };
}

function regexMatch(fieldToMatch: FieldToMatch, regexString: string, textTransformations: readonly TextTransformation[]): WafStatement {
  return { regexMatchStatement: { fieldToMatch, regexString, textTransformations } };
}
