import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { generateSigningKey } from '../../demo/jwt';
import { parseDuration } from '../../compiler/duration';
import { runServe } from '../../cli/commands/serve';
import { signBody } from '../../xds-server/http/webhook';
import { captureCli } from '../support/cli';
import { TestRepo, tempDir } from '../support/git-repo';
import { basePolicies } from '../support/policies';
import { stuffingTrigger } from '../support/policy-fixtures';
import { freePort } from '../support/ports';
import { waitFor } from '../support/processes';
import { RedisProcess } from '../support/ratelimit-service';

test.each([
  ['5s', 5000],
  ['250ms', 250],
  ['1m', 60_000],
  ['2h', 7_200_000],
  ['0', 0],
  ['5', null],
  ['-1s', null],
  ['1.5s', null],
])('parseDuration(%s) = %s', (text, ms) => {
  expect(parseDuration(text)).toBe(ms);
});

test.each([
  [{ pollInterval: 'soon' }, '--poll-interval: "soon" is not a duration'],
  [{ webhookSecretFile: '/nonexistent/secret' }, '--webhook-secret-file: ENOENT'],
  [{ tlsCert: 'a.pem' }, '--tls-cert, --tls-key and --tls-client-ca go together'],
  [{ monitorRedisUrl: 'http://127.0.0.1:6379' }, '--monitor-redis-url: expected redis://host:port'],
  [{ bot: true }, '--bot needs --github-repo owner/name'],
  [{ bot: true, githubRepo: 'policies' }, '--github-repo: "policies" is not owner/name'],
  [{ bot: true, githubRepo: 'acme/policies', cooldown: 'later' }, '--cooldown: "later" is not a duration'],
  [{ bot: true, githubRepo: 'acme/policies', botHousekeepingInterval: 'often' }, '--bot-housekeeping-interval: "often" is not a duration'],
  [{ bot: true, githubRepo: 'acme/policies', githubTokenFile: '/nonexistent/token' }, '--github-token-file: ENOENT'],
  [{ bot: true, githubRepo: 'acme/policies', appId: 'x', appKeyFile: '/k.pem' }, '--app-id: a GitHub App id (a number)'],
])('usage error %j → exit 2 with a message', async (extra, message) => {
  const c = captureCli();
  expect(await runServe(c.ctx, { repo: '/tmp/none', logLevel: 'silent', ...extra })).toBe(2);
  expect(c.err()).toContain(message);
});

test('an empty secret file is refused', async () => {
  const file = path.join(tempDir(), 'secret');
  writeFileSync(file, '\n');
  const c = captureCli();
  expect(await runServe(c.ctx, { repo: '/tmp/none', webhookSecretFile: file, logLevel: 'silent' })).toBe(2);
  expect(c.err()).toContain('the file is empty');
});

test('serves a repository, takes webhooks with the secret file, and shuts down cleanly on SIGTERM', async () => {
  const repo = TestRepo.create();
  const ports = { listener: 10, sotwListener: 11, catalog: 12, accounts0: 13, accounts1: 14, orders0: 15, orders1: 16 };
  const first = repo.commit(basePolicies(ports, generateSigningKey().jwks), 'policies');
  const secretFile = path.join(tempDir(), 'secret');
  writeFileSync(secretFile, 'file-secret\n');
  const [xdsPort, httpPort] = [await freePort(), await freePort()];
  const signals = new EventEmitter();
  const c = captureCli();
  const exit = runServe(c.ctx, { repo: repo.dir, pollInterval: '0', xdsPort, httpPort, webhookSecretFile: secretFile, logLevel: 'silent' }, signals);
  const base = `http://127.0.0.1:${httpPort}`;
  try {
    await waitFor('ready', async () => (await fetch(`${base}/readyz`).catch(() => null))?.status === 200);
    const status = (await (await fetch(`${base}/status`)).json()) as { policy: { served: { commit: string } }; server: { xds: { port: number } } };
    expect(status.policy.served.commit).toBe(first);
    expect(status.server.xds.port).toBe(xdsPort);

    const second = repo.commit({ 'policies/extra.yaml': 'apiVersion: portcullis.dev/v1\nkind: Route\nmetadata: { name: extra }\nspec:\n  path: { prefix: /extra }\n  service: catalog\n' }, 'extra route');
    const body = JSON.stringify({ ref: 'refs/heads/main', after: second });
    const wrong = await fetch(`${base}/hooks/git`, { method: 'POST', headers: { 'x-github-event': 'push', 'x-hub-signature-256': signBody('other', body) }, body });
    expect(wrong.status).toBe(401);
    const hook = await fetch(`${base}/hooks/git`, { method: 'POST', headers: { 'x-github-event': 'push', 'x-hub-signature-256': signBody('file-secret', body) }, body });
    expect(hook.status).toBe(202);
    await waitFor('second commit served', async () => ((await (await fetch(`${base}/status`)).json()) as typeof status).policy.served.commit === second);
  } finally {
    signals.emit('SIGTERM', 'SIGTERM');
  }
  expect(await exit).toBe(0);
  await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  repo.remove();
});

test('HTTP port in use: start-up fails with exit 1 and releases the xDS port it had opened', async () => {
  const repo = TestRepo.create();
  repo.commit(basePolicies({ listener: 10, sotwListener: 11, catalog: 12, accounts0: 13, accounts1: 14, orders0: 15, orders1: 16 }, generateSigningKey().jwks), 'policies');
  const [xdsPort, httpPort] = [await freePort(), await freePort()];
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(httpPort, '127.0.0.1', resolve));
  try {
    const c = captureCli();
    expect(await runServe(c.ctx, { repo: repo.dir, pollInterval: '0', xdsPort, httpPort, logLevel: 'silent', envoyValidate: false })).toBe(1);
    expect(c.err()).toContain('EADDRINUSE');
    // The xDS port is free again: nothing of the failed start keeps running (the process can exit).
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(xdsPort, '127.0.0.1', resolve);
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  } finally {
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    repo.remove();
  }
});

test('--monitor-redis-url: the monitor merges keyed triggers through that Redis (the gauge says it reached it)', async () => {
  const repo = TestRepo.create();
  const ports = { listener: 10, sotwListener: 11, catalog: 12, accounts0: 13, accounts1: 14, orders0: 15, orders1: 16 };
  const trigger = stuffingTrigger({ name: 'stuffing', route: 'accounts', rate: '{ above: 30, per: minute }', reason: false });
  repo.commit({ ...basePolicies(ports, generateSigningKey().jwks), 'policies/trigger.yaml': trigger }, 'policies with a keyed trigger');
  const redis = await RedisProcess.start();
  const [xdsPort, httpPort] = [await freePort(), await freePort()];
  const signals = new EventEmitter();
  const c = captureCli();
  const exit = runServe(c.ctx, { repo: repo.dir, pollInterval: '0', xdsPort, httpPort, monitorRedisUrl: `redis://127.0.0.1:${redis.port}`, logLevel: 'silent' }, signals);
  const base = `http://127.0.0.1:${httpPort}`;
  const mergeUp = async () => /^portcullis_monitor_fleet_merge_up (\d)/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1];
  try {
    await waitFor('ready', async () => (await fetch(`${base}/readyz`).catch(() => null))?.status === 200);
    await waitFor('the merge reached Redis', async () => (await mergeUp()) === '1', 10_000);
    await redis.stop();
    await waitFor('the merge noticed Redis is gone', async () => (await mergeUp()) === '0', 10_000);
  } finally {
    signals.emit('SIGTERM', 'SIGTERM');
    await redis.stop();
  }
  expect(await exit).toBe(0);
  repo.remove();
}, 60_000);
