/**
 * Route scopes (SRDS), `listener.routeScopes: firstPathSegment`: the route table split by a
 * request's first path segment, so a one-route change re-sends only the RouteConfiguration of the
 * segment that holds the route. Part of the Envoy translator (IR → Envoy resources): which routes go
 * into which scope (scopeTables), the ScopedRouteConfigurations, and the listener pieces that pick a
 * scope (early header mutation, scope key builder, fallback Lua filter).
 *
 * Routing stays what one table gives (first match wins, in IR order). Envoy facts this relies on
 * (1.40, checked on a static config):
 * - The early header mutation runs after path normalisation (`//api/x`, `/x/../api` are `/api...`)
 *   and before routing; `%PATH(NQ)%` is the path without its query, so the key of `/api?x=1` is `api`.
 * - A key no scope has selects no route (404): Envoy has no fallback scope. Hence a Lua filter first
 *   in the chain that rewrites the key to FALLBACK_KEY and clears the route cache; every scope's
 *   RouteConfiguration switches that filter off, so it runs only when no route matched.
 *
 * A route is *pinned* to segment S when every path it matches has first segment S; other routes are
 * repeated in every scope whose paths they could match, and all of them make the fallback scope.
 */
import type { RouteIR, RouteMatchIR } from '../ir/ir';
import { TYPE, adsConfigSource, names, typed } from './common';
import type { JsonObject } from './resources';

/** The request header carrying the scope key: the path, set by Envoy, never by the client (overwritten) nor seen by upstreams (removed). */
export const SCOPE_HEADER = 'x-portcullis-scope';

/** Key of the fallback scope: contains a space, which no request path has, so no segment selects it. */
export const FALLBACK_KEY = 'portcullis fallback';

/**
 * Which scopes a route belongs in, from its path condition alone:
 * - `pinned`: only scope `segment` (exact `/S`, `/S/...`; prefix `/S/...` or `/S?...`; regex
 *   starting `/S/`);
 * - `partial`: prefix `/P` without a slash after P matches `/P`, `/Pxyz`...: scopes starting with P;
 * - `any`: every scope (prefix `/`, most regexes);
 * - `fallback`: no scope but the fallback (exact `/`, prefix `//` or `/?`: an empty first segment,
 *   which only the path `/` has, and it selects no scope).
 * Every route but the pinned ones is also in the fallback scope.
 */
export type RouteReach =
  | { readonly kind: 'pinned'; readonly segment: string }
  | { readonly kind: 'partial'; readonly prefix: string }
  | { readonly kind: 'any' }
  | { readonly kind: 'fallback' };

/**
 * A regex pinned to a segment: a literal `/S/` first (after an optional `^`: Envoy matches the whole
 * path anyway, and policies often anchor), no quantifier on that slash (`/a/*b` matches
 * `/ab`), and no alternation anywhere (`/a/x|/b/y` is not pinned to `a`). Literal means letters,
 * digits, `_`, `-`, `~`: none is an RE2 metacharacter.
 */
const PINNED_REGEX = /^\^?\/([A-Za-z0-9_~-]+)\/(?![*?+{])[^|]*$/;

export function routeReach(path: RouteMatchIR['path']): RouteReach {
  if (path.kind === 'regex') {
    const segment = PINNED_REGEX.exec(path.value)?.[1];
    return segment === undefined ? { kind: 'any' } : { kind: 'pinned', segment };
  }
  // The first segment ends at a slash or, for a prefix (which Envoy matches against the path with
  // its query), at the query: prefix `/api?v=2` matches only paths `/api`.
  const rest = path.value.slice(1);
  const end = rest.search(/[/?]/);
  const first = end < 0 ? rest : rest.slice(0, end);
  if (first === '') return end < 0 && path.kind === 'prefix' ? { kind: 'any' } : { kind: 'fallback' };
  return end < 0 && path.kind === 'prefix' ? { kind: 'partial', prefix: first } : { kind: 'pinned', segment: first };
}

/** Reaches by route: the IR builder keeps unchanged routes' objects, so a recompile reads them back. */
const reachMemo = new WeakMap<RouteIR, RouteReach>();

function reachOf(route: RouteIR): RouteReach {
  let reach = reachMemo.get(route);
  if (reach === undefined) {
    reach = routeReach(route.match.path);
    reachMemo.set(route, reach);
  }
  return reach;
}

/** One scope's route table: its RouteConfiguration name, scope key (null: the fallback) and routes in IR order. */
export interface ScopeTable {
  readonly name: string;
  readonly segment: string | null;
  readonly routes: readonly RouteIR[];
}

/**
 * The scopes of an environment's routes, sorted by segment, then the fallback: scope S holds the
 * routes pinned to S and the unpinned routes that could match a path whose first segment is S; the
 * fallback holds every unpinned route. Each keeps the IR order. One pass over the routes.
 */
export function scopeTables(env: string, routes: readonly RouteIR[]): ScopeTable[] {
  const reaches = routes.map(reachOf);
  const segments = [...new Set(reaches.flatMap((r) => (r.kind === 'pinned' ? [r.segment] : [])))].sort();
  const buckets = new Map<string, RouteIR[]>(segments.map((s) => [s, []]));
  const fallback: RouteIR[] = [];
  routes.forEach((route, i) => {
    const reach = reaches[i] as RouteReach;
    if (reach.kind === 'pinned') {
      (buckets.get(reach.segment) as RouteIR[]).push(route);
      return;
    }
    fallback.push(route);
    if (reach.kind === 'fallback') return;
    for (const [segment, bucket] of buckets) {
      if (reach.kind === 'any' || segment.startsWith(reach.prefix)) bucket.push(route);
    }
  });
  return [
    ...segments.map((segment) => ({ name: names.scopedRouteConfig(env, segment), segment, routes: buckets.get(segment) as RouteIR[] })),
    { name: names.fallbackRouteConfig(env), segment: null, routes: fallback },
  ];
}

/** The ScopedRouteConfiguration (SRDS) selecting a scope's RouteConfiguration by its key. */
export function scopedRouteConfiguration(table: ScopeTable): JsonObject {
  return {
    name: table.name,
    route_configuration_name: table.name,
    key: { fragments: [{ string_key: table.segment ?? FALLBACK_KEY }] },
  };
}

/**
 * The HttpConnectionManager fields that replace `rds`: the early header mutation writing the path
 * into SCOPE_HEADER (overwriting whatever the client sent), and scoped routes keyed by its first
 * segment, scopes and their route configurations over ADS.
 */
export function scopedRoutesHcm(env: string): JsonObject {
  return {
    early_header_mutation_extensions: [
      {
        name: 'portcullis.scope_key',
        typed_config: typed(TYPE.headerMutation, {
          mutations: [{ append: { header: { key: SCOPE_HEADER, value: '%PATH(NQ)%' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' } }],
        }),
      },
    ],
    scoped_routes: {
      name: names.routeScopes(env),
      scope_key_builder: { fragments: [{ header_value_extractor: { name: SCOPE_HEADER, element_separator: '/', index: 1 } }] },
      rds_config_source: adsConfigSource(),
      scoped_rds: { scoped_rds_config_source: adsConfigSource() },
    },
  };
}

/** Runs only where no route matched (scopes switch it off): the key becomes the fallback scope's, then routing runs again. */
const FALLBACK_SCRIPT = `-- Portcullis (compiler/envoy/route-scopes.ts): no route in this path's scope, try the fallback scope.
function envoy_on_request(h)
  h:headers():replace("${SCOPE_HEADER}", "/${FALLBACK_KEY}")
  h:clearRouteCache()
end
`;

/** Filter config of the chain's scope-fallback slot, or null when the listener does not scope its routes. */
export function scopeFallbackConfig(routeScopes: string | undefined): JsonObject | null {
  if (routeScopes !== 'firstPathSegment') return null;
  return typed(TYPE.lua, { default_source_code: { inline_string: FALLBACK_SCRIPT } });
}

/** One object for every scope, so an unchanged scope keeps its configuration's object (route.ts). */
const SCRIPT_OFF = typed(TYPE.luaPerRoute, { disabled: true });

/** Every scope's RouteConfiguration-wide config for that slot: off, so the script runs only when no route matched. */
export function scopeFallbackOff(routeScopes: string | undefined): JsonObject | null {
  return routeScopes === 'firstPathSegment' ? SCRIPT_OFF : null;
}
