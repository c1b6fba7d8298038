/**
 * Test harness for the lockdown bot: the repository's own policies/ plus a Trigger, Alertmanager
 * webhook payloads (version 4) with the labels and annotations of CONTRACTS.md, and a bot service
 * pointed at a GitHub double.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { planMarkdownForFiles } from '../../cli/commands/plan';
import { startBotService, type BotService, type BotServiceOptions } from '../../bot/service';
import type { GitHubDouble } from './github-double';
import { tempDir } from './git-repo';

const ROOT = path.resolve(__dirname, '../..');

/** Every policy file of the repository's policies/ folder, keyed by repository path. */
export function repositoryPolicies(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(path.join(ROOT, dir)).sort()) {
      const rel = `${dir}/${name}`;
      if (statSync(path.join(ROOT, rel)).isDirectory()) walk(rel);
      else if (/\.ya?ml$/.test(name)) out[rel] = readFileSync(path.join(ROOT, rel), 'utf8');
    }
  };
  walk('policies');
  return out;
}

export const TRIGGER_FILE = 'policies/triggers/login-stuffing.yaml';

export function triggerYaml(extra = ''): string {
  return `apiVersion: portcullis.dev/v1
kind: Trigger
metadata: { name: login-stuffing }
spec:
  environments: [prod]
  routes: [accounts-login]
  responses: { statuses: [401] }
  key: clientNetwork
  condition:
    rate: { above: 30, per: minute }
  severity: critical
  lockdown:
    duration: 1h
    owner: "@oncall"
    reviewers: [alice]
    reason: "Credential stuffing on {{route}} from {{network}}"
    actions:
      - { type: blockNetworks, cidrs: ["{{network}}"], routes: [accounts-login] }
${extra}`;
}

export interface AlertOptions {
  readonly key?: string;
  readonly status?: 'firing' | 'resolved';
  readonly value?: string;
  readonly trigger?: string;
  readonly environment?: string;
}

/** An Alertmanager webhook payload (version 4) carrying one PortcullisTrigger alert. */
export function alertPayload(o: AlertOptions = {}): Record<string, unknown> {
  const key = o.key ?? '203.0.113.0/24';
  const trigger = o.trigger ?? 'login-stuffing';
  const environment = o.environment ?? 'prod';
  const incident = `${trigger}/${environment}/${key}`;
  const labels = { alertname: 'PortcullisTrigger', trigger, environment, severity: 'critical', key_type: 'clientNetwork', key, route: 'accounts-login', incident };
  return {
    version: '4',
    groupKey: `{}:{incident="${incident}"}`,
    truncatedAlerts: 0,
    status: o.status ?? 'firing',
    receiver: 'portcullis-bot',
    groupLabels: { incident },
    commonLabels: labels,
    commonAnnotations: {},
    externalURL: 'http://alertmanager.test:9093',
    alerts: [
      {
        status: o.status ?? 'firing',
        labels,
        annotations: {
          summary: `401s on accounts-login from ${key}`,
          value: o.value ?? '45',
          threshold: '30',
          baseline: '',
          window: '1m',
          evidence: JSON.stringify({ window: '1m', total: 1234, matched: 410, top: [{ key, count: 400, share: 0.32 }], routes: [{ route: 'accounts-login', count: 410 }], warmingUp: false }),
          graph_url: 'http://prometheus.test:9090/graph?g0.expr=x',
        },
        startsAt: '2026-12-01T11:59:00Z',
        endsAt: o.status === 'resolved' ? '2026-12-01T12:20:00Z' : '0001-01-01T00:00:00Z',
        generatorURL: 'http://monitor.test/monitor/top',
        fingerprint: `fp-${key}`,
      },
    ],
  };
}

export const BOT_TOKEN = 'ghs_bot_token';
export const HOOK_AUTH = { kind: 'basic' as const, username: 'alertmanager', password: 'hunter2-long-secret' };
export const basicHeader = `Basic ${Buffer.from(`${HOOK_AUTH.username}:${HOOK_AUTH.password}`).toString('base64')}`;

/** Silent unless BOT_LOG=1 (then every line on stderr). */
const emit = (level: string) => (fields: Record<string, unknown>, msg: string) => {
  if (process.env.BOT_LOG) process.stderr.write(`${level} ${msg} ${JSON.stringify(fields)}\n`);
};
export const quietLog = { info: emit('info'), warn: emit('warn') };

/** A bot service for a double, with retries fast enough for tests. */
export function startTestBot(gh: GitHubDouble, o: Partial<BotServiceOptions> = {}): Promise<BotService> {
  return startBotService({
    workDir: o.workDir ?? tempDir('portcullis-bot-'),
    auth: HOOK_AUTH,
    github: { baseUrl: gh.url, owner: gh.site.owner, repo: gh.site.repo, auth: { kind: 'token', token: BOT_TOKEN }, retries: 2, retryAfterBaseMs: 20 },
    log: quietLog,
    describePlan: (base, head, now) => planMarkdownForFiles(base, head, now),
    replayIntervalMs: 0,
    housekeepingIntervalMs: 0,
    ...o,
  });
}

export async function deliver(bot: BotService, payload: unknown, auth: string | null = basicHeader): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`${bot.url}/hooks/alertmanager`, { method: 'POST', body: JSON.stringify(payload), headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) } });
  return { status: res.status, body: await res.json() };
}
