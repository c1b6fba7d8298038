/**
 * The control server's HTTP edge (node:http, loopback by default): the git webhook that triggers a
 * fetch, Prometheus metrics, the status document behind `portcullis status`, and health checks.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { decideWebhook, verifySignature } from './webhook';

export interface HttpEdgeOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly registry: Registry;
  readonly logger: Logger;
  /** The status document (composed by the caller), served as JSON. */
  readonly status: () => unknown;
  /** True once a snapshot is served (readiness). */
  readonly ready: () => boolean;
  readonly webhook: {
    /** HMAC secret; null = no secret configured, every delivery is refused. */
    readonly secret: Buffer | null;
    readonly branch: string;
    /** Called for a verified push to the followed branch; the fetch runs asynchronously. */
    readonly onPush: (push: { readonly ref: string; readonly after: string | null; readonly delivery: string | null }) => void;
  };
  /** Largest accepted request body (webhook payloads); default 5 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * Extra routes another edge serves on this port (the monitor's /monitor/*): tried in order for
   * paths this edge does not own; a handler returns true when it answered.
   */
  readonly routes?: readonly ((req: IncomingMessage, res: ServerResponse, url: URL) => boolean)[];
}

export interface HttpEdge {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 5 * 1024 * 1024;
/** Verified delivery ids remembered: GitHub's redeliveries and replays reuse `X-GitHub-Delivery`. */
const REMEMBERED_DELIVERIES = 1024;
const WEBHOOK_RESULTS = ['sync', 'ignored', 'pong', 'duplicate', 'unauthorized', 'bad-request', 'too-large'] as const;

export class BodyTooLarge extends Error {}

export async function startHttpEdge(opts: HttpEdgeOptions): Promise<HttpEdge> {
  const log = opts.logger.child({ component: 'http' });
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const webhookRequests = new Counter({
    name: 'portcullis_webhook_requests_total',
    help: 'Deliveries to POST /hooks/git, by result (sync|ignored|pong|duplicate|unauthorized|bad-request|too-large).',
    labelNames: ['result'],
    registers: [opts.registry],
  });
  // Every result exists from the start, so `increase(...) > 0` sees the first one.
  for (const result of WEBHOOK_RESULTS) webhookRequests.inc({ result }, 0);
  const deliveries = new RecentIds(REMEMBERED_DELIVERIES);
  if (!opts.webhook.secret) log.warn('no webhook secret configured: POST /hooks/git refuses every delivery (polling still follows the branch)');
  const hook: WebhookContext = { opts, log, requests: webhookRequests, deliveries, maxBody };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = `${req.method ?? 'GET'} ${url.pathname}`;
    switch (url.pathname) {
      case '/hooks/git':
        return handleWebhook(hook, req, res);
      case '/metrics': {
        if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'use GET' }, { allow: 'GET' });
        const text = await opts.registry.metrics();
        res.writeHead(200, { 'content-type': opts.registry.contentType, 'cache-control': 'no-store' });
        return void res.end(req.method === 'HEAD' ? undefined : text);
      }
      case '/status': {
        if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, { error: 'use GET' }, { allow: 'GET' });
        return sendJson(res, 200, opts.status());
      }
      case '/healthz':
        return sendJson(res, 200, { ok: true });
      case '/readyz': {
        const ready = opts.ready();
        return sendJson(res, ready ? 200 : 503, { ready });
      }
      default:
        for (const extra of opts.routes ?? []) if (extra(req, res, url)) return;
        log.debug({ route }, 'not found');
        return sendJson(res, 404, { error: 'not found', endpoints: ['POST /hooks/git', 'GET /status', 'GET /metrics', 'GET /healthz', 'GET /readyz'] });
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  };
  const server = createServer(onRequest);
  // `Expect: 100-continue`: Node would answer "100 Continue" to any request; a body the webhook
  // would refuse is refused before the client sends it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (declaredLength(req) > maxBody) {
      webhookRequests.inc({ result: 'too-large' });
      return sendJson(res, 413, { error: `body larger than ${maxBody} bytes` }, { connection: 'close' });
    }
    res.writeContinue();
    onRequest(req, res);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await listen(server, opts.port, opts.host);
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  log.info({ host: opts.host, port }, 'HTTP edge listening (webhook, status, metrics)');
  return {
    server,
    port,
    url: `http://${hostForUrl}:${port}`,
    close: () => closeServer(server),
  };
}

/** What POST /hooks/git needs: the options, its counter, the deliveries seen and the body cap. */
interface WebhookContext {
  readonly opts: HttpEdgeOptions;
  readonly log: Logger;
  readonly requests: Counter<'result'>;
  readonly deliveries: RecentIds;
  readonly maxBody: number;
}

/** POST /hooks/git: size cap, signature, replay check, then the push decision. */
async function handleWebhook(w: WebhookContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST' }, { allow: 'POST' });
  let body: Buffer;
  try {
    body = await readBody(req, w.maxBody);
  } catch (e) {
    if (e instanceof BodyTooLarge) {
      w.requests.inc({ result: 'too-large' });
      return sendJson(res, 413, { error: `body larger than ${w.maxBody} bytes` }, { connection: 'close' });
    }
    throw e;
  }
  const delivery = header(req, 'x-github-delivery');
  const event = header(req, 'x-github-event');
  if (!w.opts.webhook.secret || !verifySignature(w.opts.webhook.secret, body, header(req, 'x-hub-signature-256'))) {
    w.requests.inc({ result: 'unauthorized' });
    w.log.warn({ delivery, event, remote: req.socket.remoteAddress }, 'webhook delivery refused: missing or bad X-Hub-Signature-256');
    return sendJson(res, 401, { error: 'missing or invalid X-Hub-Signature-256' });
  }
  if (delivery !== undefined && !w.deliveries.add(delivery)) {
    // A replay of a delivery already acted on: answering 2xx keeps GitHub happy, fetching again helps nobody.
    w.requests.inc({ result: 'duplicate' });
    w.log.info({ delivery, event, result: 'duplicate' }, 'webhook delivery already seen; ignored');
    return sendJson(res, 202, { ignored: true, reason: `delivery ${delivery} already received` });
  }
  const decision = decideWebhook(event, header(req, 'content-type'), body, w.opts.webhook.branch);
  const result = decision.action === 'sync' ? 'sync' : decision.action === 'ignore' ? 'ignored' : decision.action;
  w.requests.inc({ result });
  w.log.info({ delivery, event, result, ...(decision.action === 'sync' ? { after: decision.body.after } : {}) }, 'webhook delivery');
  if (decision.action === 'sync') w.opts.webhook.onPush({ ref: decision.body.ref, after: decision.body.after, delivery: delivery ?? null });
  return sendJson(res, decision.status, decision.body);
}

/** Stops accepting, closes idle connections, and cuts busy ones after a grace period so shutdown is bounded. */
function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), 2000).unref();
  });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Content-Length as a number; 0 when absent or malformed (the streamed size is checked anyway). */
function declaredLength(req: IncomingMessage): number {
  const declared = Number(req.headers['content-length']);
  return Number.isFinite(declared) ? declared : 0;
}

/** Ids seen recently, oldest forgotten first. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}
  /** False when `id` was already there. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value!);
    return true;
  }
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (declaredLength(req) > limit) {
    // Not drained: the answer closes the connection instead of reading megabytes nobody wants.
    return Promise.reject(new BodyTooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on('error', (e) => {
      if (!done) reject(e);
    });
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}
