/**
 * Match order of routes: Envoy takes the first route that matches, so the compiler orders routes by
 * specificity, never by file (docs/policy-language.md, "Route").
 */
import { compareText } from '../text-order';
import type { RouteIR } from './ir';

const PATH_RANK = { exact: 0, regex: 1, prefix: 2 } as const;

/**
 * Per host (named hosts, then wildcard hosts, then `*`): exact paths, then regexes, then prefixes
 * longest first; on equal paths the route with more conditions (a method list counts one, each
 * header one) first; then by name.
 */
export function compareRoutes(a: RouteIR, b: RouteIR): number {
  return (
    hostRank(a.host) - hostRank(b.host) ||
    compareText(a.host, b.host) ||
    PATH_RANK[a.match.path.kind] - PATH_RANK[b.match.path.kind] ||
    (a.match.path.kind === 'prefix' ? b.match.path.value.length - a.match.path.value.length : 0) ||
    compareText(a.match.path.value, b.match.path.value) ||
    conditions(b) - conditions(a) ||
    compareText(a.name, b.name)
  );
}

/**
 * A string whose code-unit order is `compareRoutes` order, so sorting 10,000 routes compares one
 * string per step. Fields are separated by U+0000, which no host, path or name can contain.
 */
export function routeSortKey(r: RouteIR): string {
  const p = r.match.path;
  const length = p.kind === 'prefix' ? String(99999 - p.value.length).padStart(5, '0') : '00000';
  const conds = String(999 - conditions(r)).padStart(3, '0');
  return `${hostRank(r.host)}${r.host}\u0000${PATH_RANK[p.kind]}${length}${p.value}\u0000${conds}${r.name}`;
}

function hostRank(host: string): number {
  return host === '*' ? 2 : host.includes('*') ? 1 : 0;
}

function conditions(r: RouteIR): number {
  return (r.match.methods.length > 0 ? 1 : 0) + r.match.headers.length;
}
