/**
 * Bot: `POST /hooks/github` — GitHub webhooks (pull_request, pull_request_review, issue_comment).
 * The body must carry a valid `X-Hub-Signature-256` (HMAC-SHA256 with the shared secret; 401 and
 * nothing else otherwise); a delivery (`X-GitHub-Delivery`) is handled once: a duplicate while the
 * first is in flight waits for it, one already handled (also before a restart: `deliveryLog`) is
 * answered 200 without side effects.
 * 2xx once handled; 500 when handling failed (the delivery is not marked, so a redelivery retries).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBounded, send } from './receiver';

/** True when `header` is `sha256=<hex HMAC of body>` under `secret` (constant-time compare). */
export function validSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const want = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const got = Buffer.from(header);
  return got.length === want.length && timingSafeEqual(got, want);
}

export interface GitHubHookOptions {
  readonly secret: string;
  readonly maxBodyBytes?: number;
  /** Handles one event; resolves to a short result for the response and the log. */
  readonly handle: (event: string, payload: unknown, delivery: string) => Promise<string>;
  readonly log: { warn(fields: Record<string, unknown>, msg: string): void };
  /** How many handled delivery ids are remembered (default 10,000). */
  readonly remember?: number;
  /** Ids handled before (a restart): `deliveryLog` keeps them in the work dir. */
  readonly known?: readonly string[];
  /** Called once a delivery is handled (to persist its id). */
  readonly onHandled?: (id: string) => Promise<void>;
}

/** Delivery ids handled, one per line in `file`: the last `keep` are loaded, new ones appended. */
export async function deliveryLog(file: string, keep = 10_000): Promise<{ known: string[]; add(id: string): Promise<void> }> {
  await mkdir(dirname(file), { recursive: true });
  const text = await readFile(file, 'utf8').catch(() => '');
  const known = text.split('\n').filter((l) => /^[\w-]{1,100}$/.test(l)).slice(-keep);
  // Rewritten at start with what is kept, so the file stays bounded.
  await writeFile(file, known.length ? `${known.join('\n')}\n` : '');
  return { known, add: (id) => appendFile(file, `${id.replace(/[^\w-]/g, '').slice(0, 100)}\n`) };
}


/** The route handler for POST /hooks/github (mountable in any node:http server). */
export function githubHookHandler(o: GitHubHookOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const max = o.maxBodyBytes ?? 25 * 1024 * 1024; // GitHub caps payloads at 25 MB
  const handled = new Set<string>(o.known ?? []);
  const inFlight = new Map<string, Promise<string>>();
  const remember = (id: string) => {
    handled.add(id);
    if (handled.size > (o.remember ?? 10_000)) handled.delete(handled.values().next().value as string);
  };
  return async (req, res) => {
    if (req.method !== 'POST') return send(res, 405, { error: 'POST only' });
    const body = await readBounded(req, max);
    if (body === null) {
      res.setHeader('connection', 'close');
      return send(res, 413, { error: `body larger than ${max} bytes` });
    }
    if (!validSignature(o.secret, body, req.headers['x-hub-signature-256'] as string | undefined)) return send(res, 401, { error: 'bad or missing X-Hub-Signature-256' });
    const event = String(req.headers['x-github-event'] ?? '');
    const delivery = String(req.headers['x-github-delivery'] ?? '');
    if (!event || !delivery) return send(res, 400, { error: 'X-GitHub-Event and X-GitHub-Delivery are required' });
    if (handled.has(delivery)) return send(res, 200, { ok: true, delivery, result: 'duplicate' });
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      return send(res, 400, { error: 'body is not JSON' });
    }
    let work = inFlight.get(delivery);
    if (!work) {
      work = o.handle(event, payload, delivery).finally(() => inFlight.delete(delivery));
      inFlight.set(delivery, work);
    }
    try {
      const result = await work;
      if (!handled.has(delivery)) {
        remember(delivery);
        await o.onHandled?.(delivery);
      }
      send(res, 200, { ok: true, delivery, result });
    } catch (e) {
      o.log.warn({ event, delivery, error: e instanceof Error ? e.message : String(e) }, 'GitHub webhook not handled');
      send(res, 500, { error: 'not handled; redeliver later', delivery });
    }
  };
}
