/**
 * Test harness for the end-to-end tests: one policy repository with real commits, real upstreams, the
 * control server (in this process, or as a child process that can be killed); the real Envoys
 * connected over ADS come from ./envoy (startAdsEnvoy). Everything listens on 127.0.0.1 with free
 * ports; `close` stops it all.
 */
import { mkdirSync, openSync } from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { generateSigningKey, mintToken, type SigningKey } from '../../demo/jwt';
import { startUpstreams, type Upstream } from '../../demo/upstreams';
import type { StatusDocument } from '../../cli/status-document';
import { signBody } from '../../xds-server/http/webhook';
import { startControlServer, type ControlServer, type ServeOptions } from '../../cli/control-server';
import { TestRepo, tempDir } from './git-repo';
import { AUDIENCE, ISSUER, basePolicies, type E2ePorts } from './policies';
import { freePort } from './ports';
import { spawnManaged, waitFor, type ManagedProcess } from './processes';

export const WEBHOOK_SECRET = 'e2e-webhook-secret';
const ROOT = path.resolve(__dirname, '..', '..');

export interface Upstreams {
  catalog: Upstream;
  accounts0: Upstream;
  accounts1: Upstream;
  orders0: Upstream;
  orders1: Upstream;
}

export interface PolicyWorld {
  readonly dir: string;
  readonly repo: TestRepo;
  readonly ports: E2ePorts;
  readonly upstreams: Upstreams;
  readonly key: SigningKey;
  readonly basePolicies: Record<string, string>;
  token(opts: { roles?: string[]; jti?: string; sub?: string; key?: SigningKey }): string;
  close(): Promise<void>;
}

/** Upstreams, a signing key and a policy repository whose first commit holds the base policies (+ extra files). */
export async function createPolicyWorld(extraFiles: Record<string, string> = {}): Promise<PolicyWorld> {
  const upstreamList = await startUpstreams([
    { service: 'catalog', address: '127.0.0.1', port: 0 },
    { service: 'accounts', address: '127.0.0.1', port: 0, tier: 0 },
    { service: 'accounts', address: '127.0.0.1', port: 0, tier: 1 },
    { service: 'orders', address: '127.0.0.1', port: 0 },
    { service: 'orders', address: '127.0.0.1', port: 0 },
  ]);
  const [catalog, accounts0, accounts1, orders0, orders1] = upstreamList as [Upstream, Upstream, Upstream, Upstream, Upstream];
  const ports: E2ePorts = {
    listener: await freePort(),
    sotwListener: await freePort(),
    catalog: catalog.port,
    accounts0: accounts0.port,
    accounts1: accounts1.port,
    orders0: orders0.port,
    orders1: orders1.port,
  };
  const key = generateSigningKey('e2e-key');
  const base = basePolicies(ports, key.jwks);
  const repo = TestRepo.create();
  repo.commit({ ...base, ...extraFiles }, 'base policies');
  return {
    dir: tempDir('portcullis-e2e-'),
    repo,
    ports,
    upstreams: { catalog, accounts0, accounts1, orders0, orders1 },
    key,
    basePolicies: base,
    token: (o) => mintToken(o.key ?? key, { iss: ISSUER, aud: AUDIENCE, sub: o.sub ?? 'e2e-user', ...(o.roles ? { roles: o.roles } : {}), ...(o.jti ? { jti: o.jti } : {}) }),
    close: async () => {
      await Promise.all(upstreamList.map((u) => u.close()));
      repo.remove();
    },
  };
}

let serverCount = 0;

/**
 * The control server in this process (fast; allows test hooks). Logs go to a file in `dir`. It
 * follows the world's repository, or `repo` (e.g. the GitHub double's bare repository).
 */
export async function startServerInProcess(
  world: PolicyWorld,
  hooks: Partial<Pick<ServeOptions, 'transformResources' | 'tls' | 'envoyBinary' | 'allowFleetRemoval' | 'audit' | 'clock' | 'monitor' | 'repo' | 'shadow' | 'workDir'>> = {},
): Promise<ControlServer & { logFile: string }> {
  const n = `${Date.now()}-${++serverCount}`;
  const logFile = path.join(world.dir, `server-${n}.log`);
  const logger = pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true }));
  const server = await startControlServer({
    repo: world.repo.dir,
    branch: 'main',
    path: 'policies',
    pollIntervalMs: 0, // webhook-driven: each test decides when the server sees a commit
    xdsHost: '127.0.0.1',
    xdsPort: 0,
    httpHost: '127.0.0.1',
    httpPort: 0,
    webhookSecret: Buffer.from(WEBHOOK_SECRET),
    workDir: path.join(world.dir, `mirror-${n}.git`),
    logger,
    ...hooks,
  });
  return Object.assign(server, { logFile });
}

/**
 * The control server as a child process (`portcullis serve` through the CLI, TypeScript run by
 * ts-node), so a test can SIGKILL it like a crash.
 */
export function spawnServer(world: PolicyWorld, ports: { xds: number; http: number }, logName: string): ManagedProcess {
  mkdirSync(world.dir, { recursive: true });
  const log = openSync(path.join(world.dir, logName), 'a');
  return spawnManaged(
    'portcullis serve',
    process.execPath,
    [
      '-r', 'ts-node/register/transpile-only',
      path.join(ROOT, 'test', 'support', 'cli-entry.ts'),
      'serve',
      '--repo', world.repo.dir,
      '--branch', 'main',
      '--path', 'policies',
      '--poll-interval', '0',
      '--xds-port', String(ports.xds),
      '--http-port', String(ports.http),
      '--work-dir', path.join(world.dir, 'child-mirror.git'),
    ],
    { cwd: ROOT, stdio: ['ignore', log, log], env: { ...process.env, PORTCULLIS_WEBHOOK_SECRET: WEBHOOK_SECRET, TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json') } },
  );
}

/** Commits and tells the server through a signed webhook delivery; returns the commit and when the hook was sent. */
export async function pushCommit(world: PolicyWorld, httpUrl: string, files: Record<string, string | null>, message: string): Promise<{ commit: string; sentAt: number }> {
  const commit = world.repo.commit(files, message);
  const body = JSON.stringify({ ref: 'refs/heads/main', after: commit, repository: { full_name: 'e2e/policies' } });
  const sentAt = Date.now();
  const res = await fetch(`${httpUrl}/hooks/git`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `e2e-${commit.slice(0, 8)}`, 'x-hub-signature-256': signBody(WEBHOOK_SECRET, body) },
    body,
  });
  if (res.status !== 202) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
  return { commit, sentAt };
}

export async function serverStatus(httpUrl: string): Promise<StatusDocument> {
  const r = await fetch(`${httpUrl}/status`);
  return (await r.json()) as StatusDocument;
}

export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly json: { service?: string; endpoint?: string; tier?: number } | null;
}

/** One request through Envoy's listener; `xff` sets X-Forwarded-For (the test environments trust 1 hop). */
export async function call(port: number, urlPath: string, opts: { token?: string; xff?: string; method?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.xff) headers['x-forwarded-for'] = opts.xff;
  const res = await fetch(`http://127.0.0.1:${port}${urlPath}`, { method: opts.method ?? 'GET', headers, signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  let json: Answer['json'] = null;
  try {
    json = JSON.parse(body) as Answer['json'];
  } catch {
    json = null;
  }
  return { status: res.status, body, json };
}

/** Waits until every node the server knows for `fleet` has ACKed the served version. */
export async function waitInSync(httpUrl: string, fleet: string, timeoutMs = 15_000): Promise<StatusDocument> {
  return waitFor(
    `fleet ${fleet} in sync`,
    async () => {
      const s = await serverStatus(httpUrl);
      const nodes = s.nodes.filter((n) => n.fleet === fleet);
      return nodes.length > 0 && nodes.every((n) => n.inSync) ? s : undefined;
    },
    timeoutMs,
  );
}

/**
 * A bounded steady request loop (at most `maxRequests`, at most `maxMs`): counts answers other than
 * `expect` (and, when given, other than `body`) and transport errors, keeping a few examples.
 */
export function steadyLoad(port: number, urlPath: string, opts: { maxRequests: number; maxMs: number; expect?: number; body?: string; xff?: string }) {
  let stop = false;
  const result = { sent: 0, failed: 0, examples: [] as string[] };
  const done = (async () => {
    const deadline = Date.now() + opts.maxMs;
    while (!stop && result.sent < opts.maxRequests && Date.now() < deadline) {
      result.sent++;
      try {
        const a = await call(port, urlPath, opts.xff ? { xff: opts.xff } : {});
        if (a.status !== (opts.expect ?? 200) || (opts.body !== undefined && a.body !== opts.body)) {
          result.failed++;
          if (result.examples.length < 5) result.examples.push(`${a.status} ${a.body.slice(0, 200)}`);
        }
      } catch (e) {
        result.failed++;
        if (result.examples.length < 5) result.examples.push(String(e));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return result;
  })();
  return { result, stop: () => (stop = true), done };
}
