/**
 * The monitor's JSON view on the control server's HTTP edge (CONTRACTS.md "Monitor HTTP API"):
 * GET /monitor/top and GET /monitor/blast-radius, the evidence a lockdown PR quotes, and
 * GET /monitor/shadow, what a shadow overlay running on the fleet would have refused.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseDuration } from '../compiler/duration';
import { formatWindow } from '../compiler/monitor/alert-labels';
import { KEY_DIMENSIONS, type KeyDimension } from './environment-monitor';
import type { Monitor } from './monitor';
import { SHADOW_BUCKETS, SHADOW_BUCKET_MS, type ShadowCounts } from './shadow-counts';

/** Handles /monitor/* requests; returns false for any other path. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;

const BLAST_KEYS = { network: 'clientNetwork', ip: 'clientIp', sub: 'tokenSubject', jti: 'tokenId' } as const satisfies Record<string, KeyDimension>;

export function monitorRoutes(monitor: Monitor, spanMs: number, now: () => number = Date.now): RouteHandler {
  return (req, res, url) => {
    if (url.pathname !== '/monitor/top' && url.pathname !== '/monitor/blast-radius' && url.pathname !== '/monitor/shadow') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'use GET' });
    const q = url.searchParams;
    const envName = q.get('environment') ?? '';
    const env = monitor.environment(envName);
    if (!env) return send(res, 400, { error: `unknown environment "${envName.slice(0, 60)}"` });
    const windowMs = parseDuration(q.get('window') ?? '5m');
    if (windowMs === null || windowMs < 1000) return send(res, 400, { error: 'window must be a duration such as 30s or 5m' });
    if (url.pathname === '/monitor/shadow') return shadowFigures(res, env.shadows, q.get('overlay'), Math.min(windowMs, SHADOW_BUCKET_MS * SHADOW_BUCKETS), now());
    const route = q.get('route');
    if (route !== null && env.routeOf(route) === '') return send(res, 400, { error: `unknown route "${route.slice(0, 60)}" in ${envName}` });
    const window = Math.min(windowMs, spanMs);
    if (url.pathname === '/monitor/top') {
      const by = (q.get('by') ?? 'clientNetwork') as KeyDimension;
      if (!KEY_DIMENSIONS.includes(by)) return send(res, 400, { error: `by must be one of ${KEY_DIMENSIONS.join(', ')}` });
      const limit = Number(q.get('limit') ?? '10');
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) return send(res, 400, { error: 'limit must be an integer 1-100' });
      return send(res, 200, { window: formatWindow(window), ...env.top(route, by, window, limit, now()) });
    }
    const given = (Object.keys(BLAST_KEYS) as (keyof typeof BLAST_KEYS)[]).filter((k) => q.has(k));
    if (given.length !== 1) return send(res, 400, { error: 'give exactly one of network, ip, sub or jti' });
    const which = given[0] as keyof typeof BLAST_KEYS;
    const key = (q.get(which) ?? '').slice(0, 256);
    return send(res, 200, { window: formatWindow(window), ...env.blastRadius(route, BLAST_KEYS[which], key, window, now()) });
  };
}

/** One overlay's figures (404 when the environment has no such overlay, active or recently ended), or every overlay's. */
function shadowFigures(res: ServerResponse, shadows: ShadowCounts, overlay: string | null, windowMs: number, nowMs: number): true {
  const window = formatWindow(windowMs);
  if (overlay === null) return send(res, 200, { window, overlays: shadows.names().map((n) => shadows.figures(n, windowMs, nowMs)) });
  const figures = shadows.figures(overlay, windowMs, nowMs);
  if (!figures) return send(res, 404, { error: `no shadow overlay "${overlay.slice(0, 60)}" in this environment` });
  return send(res, 200, { window, ...figures });
}

function send(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
  return true;
}
