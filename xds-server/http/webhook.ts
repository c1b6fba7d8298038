/**
 * GitHub webhook checks for the control server's `POST /hooks/git`: the `X-Hub-Signature-256`
 * HMAC over the raw body, and what a push event asks for. Pure functions; the HTTP edge calls them.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * True when `header` is `sha256=<hex HMAC-SHA256 of body with secret>`. Compared in constant time;
 * a missing header, a wrong prefix or a wrong length are all just "false".
 */
export function verifySignature(secret: Buffer, body: Buffer, header: string | undefined): boolean {
  if (secret.length === 0 || typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  // Buffer.from(hex) drops invalid characters, so a malformed header ends up with the wrong length.
  if (given.length !== expected.length) return false;
  return timingSafeEqual(given, expected);
}

export function signBody(secret: Buffer | string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** What the webhook endpoint decided about one verified delivery. */
export type WebhookDecision =
  | { readonly action: 'pong'; readonly status: 200; readonly body: { readonly ok: true; readonly zen: string | null } }
  | { readonly action: 'sync'; readonly status: 202; readonly body: { readonly accepted: true; readonly ref: string; readonly after: string | null } }
  | { readonly action: 'ignore'; readonly status: 202; readonly body: { readonly ignored: true; readonly reason: string } }
  | { readonly action: 'bad-request'; readonly status: 400; readonly body: { readonly error: string } };

/**
 * Decides what a verified delivery means for a follower of `branch`: `ping` → pong, a push to the
 * branch → fetch now, anything else → ignored (still 2xx, so GitHub does not mark the hook failing).
 */
export function decideWebhook(event: string | undefined, contentType: string | undefined, body: Buffer, branch: string): WebhookDecision {
  let payload: unknown;
  try {
    payload = parsePayload(contentType, body);
  } catch (e) {
    return { action: 'bad-request', status: 400, body: { error: `invalid payload: ${e instanceof Error ? e.message : String(e)}` } };
  }
  if (event === 'ping') {
    const zen = isObject(payload) && typeof payload.zen === 'string' ? payload.zen : null;
    return { action: 'pong', status: 200, body: { ok: true, zen } };
  }
  if (event !== 'push') return { action: 'ignore', status: 202, body: { ignored: true, reason: `event ${event ?? '(none)'} is not followed` } };
  if (!isObject(payload) || typeof payload.ref !== 'string') return { action: 'bad-request', status: 400, body: { error: 'push payload without "ref"' } };
  const wanted = `refs/heads/${branch}`;
  if (payload.ref !== wanted) return { action: 'ignore', status: 202, body: { ignored: true, reason: `push to ${payload.ref}; following ${wanted}` } };
  const after = typeof payload.after === 'string' ? payload.after : null;
  return { action: 'sync', status: 202, body: { accepted: true, ref: payload.ref, after } };
}

// GitHub sends JSON, or form-encoded `payload=<json>` when the hook's content type is set so.
function parsePayload(contentType: string | undefined, body: Buffer): unknown {
  const type = (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    const payload = new URLSearchParams(body.toString('utf8')).get('payload');
    if (payload === null) throw new Error('form body without "payload"');
    return JSON.parse(payload);
  }
  return JSON.parse(body.toString('utf8'));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
