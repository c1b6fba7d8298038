/**
 * Test harness for the incident loop: a real Prometheus and a real Alertmanager (Debian packages,
 * set up by scripts/setup.sh; missing = fail) on free loopback ports with the config that
 * `portcullis monitoring-config` writes, and a webhook receiver standing in for the bot.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { spawnManaged, waitFor, type ManagedProcess } from './processes';

/** The path of a binary on PATH; throws (the test fails) when it is missing. */
export function requiredBinary(name: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${name} not found on PATH: run \`bash scripts/setup.sh\` (it installs prometheus and prometheus-alertmanager)`);
  }
}

/** Writes each config document as YAML into `dir`. */
export function writeConfigs(dir: string, files: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, doc] of Object.entries(files)) writeFileSync(path.join(dir, name), stringify(doc, { lineWidth: 0 }));
}

async function ready(url: string, proc: ManagedProcess, what: string): Promise<void> {
  await waitFor(what, async () => {
    if (!proc.running) throw new Error(`${what} exited (${proc.exitCode})`);
    const r = await fetch(url).catch(() => null);
    return r?.status === 200;
  }, 30_000, 100);
}

export async function startAlertmanager(dir: string, port: number): Promise<ManagedProcess> {
  const bin = requiredBinary('prometheus-alertmanager');
  const p = spawnManaged('alertmanager', bin, [
    `--config.file=${path.join(dir, 'alertmanager.yml')}`,
    `--storage.path=${path.join(dir, 'alertmanager-data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address=', // no gossip: one instance on loopback
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  await ready(`http://127.0.0.1:${port}/-/ready`, p, 'Alertmanager /-/ready');
  return p;
}

export async function startPrometheus(dir: string, port: number): Promise<ManagedProcess> {
  const bin = requiredBinary('prometheus');
  const p = spawnManaged('prometheus', bin, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'prometheus-data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  await ready(`http://127.0.0.1:${port}/-/ready`, p, 'Prometheus /-/ready');
  return p;
}

/** An instant query; the result's samples as [labels, value]. */
export async function promQuery(port: number, expr: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const r = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await r.json()) as { data?: { result?: { metric: Record<string, string>; value: [number, string] }[] } };
  return (body.data?.result ?? []).map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
}

/**
 * Waits until Prometheus has scraped every target after `sinceMs` and then evaluated every rule
 * group: from then on its ALERTS series reflects everything the targets exported at `sinceMs`.
 */
export async function prometheusCaughtUp(port: number, sinceMs: number): Promise<void> {
  const get = async <T>(path: string): Promise<T> => ((await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as { data: T }).data;
  await waitFor(`Prometheus to scrape and evaluate after ${new Date(sinceMs).toISOString()}`, async () => {
    const targets = (await get<{ activeTargets: { lastScrape: string }[] }>('/api/v1/targets')).activeTargets.map((t) => Date.parse(t.lastScrape));
    if (targets.length === 0 || Math.min(...targets) <= sinceMs) return false;
    const groups = (await get<{ groups: { lastEvaluation: string }[] }>('/api/v1/rules')).groups.map((g) => Date.parse(g.lastEvaluation));
    return groups.length > 0 && Math.min(...groups) > Math.max(...targets);
  }, 15_000, 100);
}

export interface WebhookDelivery {
  readonly receivedAt: number;
  readonly body: {
    status: string;
    groupKey: string;
    alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; fingerprint: string }[];
  };
}

/** Receives Alertmanager webhooks (version 4); refuses deliveries without the bearer token. */
export async function startWebhookReceiver(token: string): Promise<{ port: number; deliveries: WebhookDelivery[]; refused: number; close(): Promise<void> }> {
  const deliveries: WebhookDelivery[] = [];
  let refused = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${token}`) {
        refused++;
        res.writeHead(401).end();
        return;
      }
      deliveries.push({ receivedAt: Date.now(), body: JSON.parse(body) as WebhookDelivery['body'] });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    deliveries,
    get refused() {
      return refused;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
