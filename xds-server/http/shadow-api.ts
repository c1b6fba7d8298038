/**
 * The shadow-overlay API on the control server's HTTP edge (registry: ../shadow-overlays.ts):
 *   PUT    /shadow/overlays/{name}  body JSON {"environment", "lockdown": YAML text or the document, "ttl": "30m"}
 *   DELETE /shadow/overlays/{name}
 *   GET    /shadow/overlays
 * Every call needs `Authorization: Bearer <token>` (the token file given to `serve`; compared in
 * constant time); without it 401 and nothing else happens. Bodies are bounded (64 KiB).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stringify } from 'yaml';
import { parseDuration } from '../../compiler/duration';
import { shadowPolicyName } from '../../compiler/envoy/shadow';
import { positionless, type Diagnostic } from '../../compiler/result';
import type { ShadowRegistry } from '../shadow-overlays';
import { BodyTooLarge, readBody, sendJson } from './server';

export const MAX_SHADOW_BODY = 64 * 1024;
const PREFIX = '/shadow/overlays';
/** An overlay name is a Lockdown name: a DNS label-like token. */
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** How an action Envoy cannot shadow is reported (the API's answer, the bot's PR body). */
export const notShadowedLine = (action: string): string => `not shadowed: ${action}; see the history figures (/monitor/blast-radius)`;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** True when `header` is `Bearer <token>` (compared as digests, so in constant time whatever the lengths). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false;
  return timingSafeEqual(digest(header.slice(7)), digest(token));
}

/** The route handler; `token` null refuses every call (no token file configured). */
export function shadowRoutes(registry: ShadowRegistry, token: string | null) {
  return (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`)) return false;
    if (token === null || !bearerMatches(req.headers.authorization, token)) {
      sendJson(res, 401, { error: token === null ? 'the shadow API is off: serve has no --shadow-token-file' : 'a valid bearer token is required' }, { 'www-authenticate': 'Bearer' });
      req.resume();
      return true;
    }
    void handle(registry, req, res, url).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    });
    return true;
  };
}

async function handle(registry: ShadowRegistry, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (url.pathname === PREFIX) {
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'use GET' }, { allow: 'GET' });
    return sendJson(res, 200, { overlays: registry.list().map(({ lockdown: _text, ...rest }) => ({ ...rest, policy: shadowPolicyName(rest.name) })) });
  }
  const name = url.pathname.slice(PREFIX.length + 1);
  if (!NAME.test(name)) return sendJson(res, 400, { errors: [positionless('the overlay name must be a lower-case DNS label (a Lockdown name)', { path: 'name' })] });
  if (req.method === 'DELETE') {
    const gone = await registry.delete(name);
    return sendJson(res, gone ? 200 : 404, gone ? { deleted: name } : { error: `no shadow overlay "${name}"` });
  }
  if (req.method !== 'PUT') return sendJson(res, 405, { error: 'use PUT or DELETE' }, { allow: 'PUT, DELETE' });
  let raw: Buffer;
  try {
    raw = await readBody(req, MAX_SHADOW_BODY);
  } catch (e) {
    if (e instanceof BodyTooLarge) return sendJson(res, 413, { error: `body larger than ${MAX_SHADOW_BODY} bytes` }, { connection: 'close' });
    throw e;
  }
  const body = parseBody(raw);
  if ('errors' in body) return sendJson(res, 400, { errors: body.errors });
  const outcome = await registry.put(name, body.environment, body.lockdown, body.ttlMs);
  if (outcome.kind === 'refused') return sendJson(res, outcome.status, { errors: outcome.errors });
  const { overlay, ir } = outcome;
  return sendJson(res, outcome.replaced ? 200 : 201, {
    name: overlay.name,
    environment: overlay.environment,
    policy: shadowPolicyName(overlay.name),
    startedAt: overlay.startedAt,
    expiresAt: overlay.expiresAt,
    ttlCapped: outcome.ttlCapped,
    shadowed: ir.routes,
    notShadowed: ir.notShadowed.map(notShadowedLine),
  });
}

interface PutBody {
  readonly environment: string;
  readonly lockdown: string;
  readonly ttlMs: number | null;
}

function parseBody(raw: Buffer): PutBody | { errors: Diagnostic[] } {
  let data: unknown;
  try {
    data = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    return { errors: [positionless(`body is not JSON: ${e instanceof Error ? e.message : String(e)}`)] };
  }
  const errors: Diagnostic[] = [];
  const o = (data ?? {}) as Record<string, unknown>;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { errors: [positionless('body must be a JSON object {environment, lockdown, ttl}')] };
  if (typeof o['environment'] !== 'string' || o['environment'] === '') errors.push(positionless('required: the environment to shadow in', { path: 'environment' }));
  const lockdown = typeof o['lockdown'] === 'string' ? o['lockdown'] : typeof o['lockdown'] === 'object' && o['lockdown'] !== null ? stringify(o['lockdown']) : null;
  if (lockdown === null) errors.push(positionless('required: the Lockdown, as YAML text or as the document', { path: 'lockdown' }));
  let ttlMs: number | null = null;
  if (o['ttl'] !== undefined) {
    ttlMs = typeof o['ttl'] === 'string' ? parseDuration(o['ttl']) : null;
    if (ttlMs === null || ttlMs < 1000) errors.push(positionless('ttl must be a duration such as 30m or 2h', { path: 'ttl' }));
  }
  return errors.length > 0 ? { errors } : { environment: o['environment'] as string, lockdown: lockdown as string, ttlMs };
}
