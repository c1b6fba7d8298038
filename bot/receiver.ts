/**
 * Bot: `POST /hooks/alertmanager` (Alertmanager webhook, version 4) over node:http. Basic or bearer
 * credentials (401 and nothing else without them), a bounded body, 2xx only once the delivery is in
 * the journal and handled; 503 while GitHub fails (Alertmanager retries 5xx only). Also GET /metrics,
 * and POST /hooks/github when a webhook secret is configured.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { parseAlertmanagerPayload, type AlertBatch } from './alerts';
import type { Journal } from './journal';
import type { BotMetrics } from './metrics';

export type ReceiverAuth = { readonly kind: 'basic'; readonly username: string; readonly password: string } | { readonly kind: 'bearer'; readonly token: string };

export interface ReceiverOptions {
  readonly auth: ReceiverAuth;
  readonly maxBodyBytes?: number;
  readonly journal: Journal;
  readonly now: () => Date;
  readonly metrics: BotMetrics;
  readonly registry: Registry;
  /** Handles a recorded batch; throws when GitHub fails (→ 503, the entry stays pending). */
  readonly handle: (batch: AlertBatch) => Promise<unknown>;
  readonly log: { warn(fields: Record<string, unknown>, msg: string): void };
  /** POST /hooks/github (github-hooks.ts); 404 when the bot has no webhook secret. */
  readonly github?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** True when the Authorization header carries the configured credentials (constant-time compare). */
export function authorized(header: string | undefined, auth: ReceiverAuth): boolean {
  if (!header) return false;
  if (auth.kind === 'bearer') return header.startsWith('Bearer ') && same(header.slice(7), auth.token);
  if (!header.startsWith('Basic ')) return false;
  return same(Buffer.from(header.slice(6), 'base64').toString('utf8'), `${auth.username}:${auth.password}`);
}

/** A JSON answer (the Alertmanager and GitHub receivers alike). */
export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** Reads at most `max` bytes; null when the body is larger (the rest is not read). */
export async function readBounded(req: IncomingMessage, max: number): Promise<Buffer | null> {
  if (Number(req.headers['content-length'] ?? 0) > max) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) return null;
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export function createReceiver(o: ReceiverOptions): Server {
  const max = o.maxBodyBytes ?? 1024 * 1024;
  return createServer((req, res) => {
    void route(req, res).catch((e: unknown) => {
      o.log.warn({ error: e instanceof Error ? e.message : String(e) }, 'receiver error');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://bot');
    if (req.method === 'GET' && url.pathname === '/metrics') {
      res.writeHead(200, { 'content-type': o.registry.contentType }).end(await o.registry.metrics());
      return;
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true, pending: o.journal.pending().length });
    if (url.pathname === '/hooks/github' && o.github) return o.github(req, res);
    if (url.pathname !== '/hooks/alertmanager') return send(res, 404, { error: 'not found' });
    if (req.method !== 'POST') return send(res, 405, { error: 'POST only' }, { allow: 'POST' });
    if (!authorized(req.headers.authorization, o.auth)) {
      o.metrics.deliveries.inc({ result: 'unauthorized' });
      req.resume();
      return send(res, 401, { error: 'unauthorized' }, { 'www-authenticate': o.auth.kind === 'basic' ? 'Basic realm="portcullis-bot"' : 'Bearer' });
    }
    const body = await readBounded(req, max);
    if (body === null) {
      o.metrics.deliveries.inc({ result: 'too-large' });
      res.setHeader('connection', 'close');
      return send(res, 413, { error: `body larger than ${max} bytes` });
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      o.metrics.deliveries.inc({ result: 'invalid' });
      return send(res, 400, { error: 'body is not JSON' });
    }
    const batch = parseAlertmanagerPayload(payload);
    if (!batch.ok) {
      o.metrics.deliveries.inc({ result: 'invalid' });
      return send(res, 400, { error: batch.errors.join('; ') });
    }
    const entry = await o.journal.record(payload, o.now());
    try {
      const outcomes = await o.handle(batch.value);
      await o.journal.done(entry.id);
      o.metrics.deliveries.inc({ result: 'ok' });
      send(res, 200, { ok: true, id: entry.id, outcomes });
    } catch (e) {
      o.metrics.deliveries.inc({ result: 'github-error' });
      o.log.warn({ id: entry.id, error: e instanceof Error ? e.message : String(e) }, 'alert recorded, not handled yet (GitHub failing): 503');
      send(res, 503, { error: 'recorded; GitHub unavailable, retry later', id: entry.id });
    }
  }
}
