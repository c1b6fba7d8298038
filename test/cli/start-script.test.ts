/**
 * `npm start` (scripts/start.sh) as a user runs it: a port already held (by a real Envoy, which
 * binds with SO_REUSEPORT and would share it silently) stops the demo before anything starts, with
 * the port and the process named; every component comes up (upstreams, Redis + ratelimit, control
 * server, Envoy, Prometheus, Alertmanager, the bot in local mode); `demo:attack` yields a lockdown
 * branch; merged, Envoy blocks the /24; SIGINT sent to the npm process alone stops everything.
 * Runs dist/ (built by scripts/setup.sh, as `npm test` does first) on a clone of this checkout
 * whose policies use free ports, with free ports for the rest (PORTCULLIS_*_PORT): it runs beside
 * anything, a real `npm start` included.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { busyPorts, tryBind } from '../../demo/preflight';
import { EnvoyProcess } from '../support/envoy';
import { tempDir } from '../support/git-repo';
import { freePort, freePorts } from '../support/ports';
import { spawnManaged, waitFor, type ManagedProcess } from '../support/processes';

jest.setTimeout(180_000);
const REPO_ROOT = join(__dirname, '..', '..');

/** A real Envoy with one listener on `port` (direct response), admin on `adminPort`. */
function envoyOn(port: number, adminPort: number): EnvoyProcess {
  return EnvoyProcess.start({
    adminPort,
    bootstrap: {
      admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
      static_resources: {
        listeners: [
          {
            name: 'squatter',
            address: { socket_address: { address: '127.0.0.1', port_value: port } },
            filter_chains: [
              {
                filters: [
                  {
                    name: 'envoy.filters.network.http_connection_manager',
                    typed_config: {
                      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                      stat_prefix: 'squatter',
                      route_config: { virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] }] },
                      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
                    },
                  },
                ],
              },
            ],
          },
        ],
      },
    },
  });
}

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'Demo User', GIT_AUTHOR_EMAIL: 'demo@example.com', GIT_COMMITTER_NAME: 'Demo User', GIT_COMMITTER_EMAIL: 'demo@example.com', GIT_CONFIG_NOSYSTEM: '1' };

/** A clone of this checkout's HEAD (the demo creates branches in it and we merge one: never in the real checkout). */
function cloneCheckout(): { dir: string; git(...args: string[]): string; remove(): void } {
  const dir = join(tempDir('portcullis-start-repo-'), 'checkout');
  execFileSync('git', ['clone', '--quiet', REPO_ROOT, dir], { env: GIT_ENV });
  return {
    dir,
    git: (...args) => execFileSync('git', ['-C', dir, ...args], { env: GIT_ENV, encoding: 'utf8' }).trim(),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Every port start.sh listens on besides the policies' own, by its env var. */
const PORT_VARS = ['XDS', 'HTTP', 'ADMIN', 'BOT', 'PROMETHEUS', 'ALERTMANAGER', 'REDIS', 'RATELIMIT_HTTP', 'RATELIMIT_DEBUG', 'RATELIMIT_METRICS', 'UPSTREAMS_CONTROL'] as const;
type DemoPorts = Record<(typeof PORT_VARS)[number], number>;

/**
 * A clone of this checkout whose policies (services, dev listener, rate-limit service) use free
 * ports, and an environment giving start.sh free ports for the rest: the demo runs beside anything.
 */
async function demoSetup(overrides: Partial<DemoPorts> = {}): Promise<{ repo: ReturnType<typeof cloneCheckout>; env: NodeJS.ProcessEnv; ports: DemoPorts; listener: number; fromPolicies: number[]; tmp: string }> {
  const repo = cloneCheckout();
  const fromPolicies: number[] = [];
  const shift = (file: string, fixed: readonly number[]) => {
    let text = readFileSync(join(repo.dir, file), 'utf8');
    for (const p of fixed) {
      const port = reserved.shift()!;
      fromPolicies.push(port);
      text = text.replace(new RegExp(`port: ${p}\\b`), `port: ${port}`);
    }
    writeFileSync(join(repo.dir, file), text);
  };
  const reserved = await freePorts(7);
  shift('policies/services.yaml', [9101, 9102, 9201, 9202, 9301]);
  shift('policies/environments.yaml', [10000, 18081]);
  repo.git('commit', '--quiet', '-am', 'demo on free ports');
  const free = await freePorts(PORT_VARS.length);
  const ports = Object.fromEntries(PORT_VARS.map((v, i) => [v, overrides[v] ?? free[i]!])) as DemoPorts;
  const tmp = tempDir('portcullis-start-tmp-');
  const env: NodeJS.ProcessEnv = { ...process.env, PORTCULLIS_SKIP_SETUP: '1', PORTCULLIS_REPO: repo.dir, TMPDIR: tmp };
  for (const v of PORT_VARS) env[`PORTCULLIS_${v}_PORT`] = String(ports[v]);
  return { repo, env, ports, listener: fromPolicies[5]!, fromPolicies, tmp };
}

const allFree = async (ports: readonly number[]) => (await busyPorts(ports.map((port) => ({ what: 'demo', host: '127.0.0.1', port })))).length === 0;

test('a port held by another Envoy (SO_REUSEPORT) stops the demo before it starts, naming port and process', async () => {
  const held = await freePort();
  const squatter = envoyOn(held, await freePort());
  try {
    await squatter.waitReady();
    // The squatter's listener is shared, not refused, by a reuse-port bind: the demo must not try.
    expect(await tryBind('127.0.0.1', held)).toBe('EADDRINUSE');
    const demo = await demoSetup({ ADMIN: held });
    const r = spawnSync('bash', ['scripts/start.sh'], { cwd: REPO_ROOT, env: demo.env, encoding: 'utf8', timeout: 120_000 });
    demo.repo.remove();
    const out = `${r.stdout}${r.stderr}`;
    expect(out).toContain(`port ${held} (Envoy admin, 127.0.0.1) is not free: held by pid ${squatter.proc.pid} (`);
    expect(out).toMatch(/held by pid \d+ \(\S*envoy -c /);
    expect(out).not.toContain('demo upstreams (logs');
    expect(out).toContain('not started: ports in use or policies do not compile (above)');
    expect(r.status).toBe(1);
  } finally {
    await squatter.stop();
  }
});

describe('npm start, then demo:attack, then SIGINT to the npm process alone', () => {
  let npm: ManagedProcess | undefined;
  let demo: Awaited<ReturnType<typeof demoSetup>> | undefined;
  afterAll(async () => {
    await npm?.stop(); // SIGTERM to npm's group reaches start.sh, whose cleanup stops the rest
    demo?.repo.remove();
  });

  test('brings up every component; the attack yields a lockdown branch; merged, Envoy blocks the /24; SIGINT frees every port', async () => {
    const t0 = Date.now();
    demo = await demoSetup();
    const { ports, listener } = demo;
    const all = [...Object.values(ports), ...demo.fromPolicies];
    expect(await allFree(all)).toBe(true);
    let output = '';
    npm = spawnManaged('npm start', 'npm', ['start'], { cwd: REPO_ROOT, env: demo.env, stdio: ['ignore', 'pipe', 'pipe'] });
    npm.child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    npm.child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor('the demo to run', () => {
      if (!npm!.running) throw new Error(`npm start exited ${npm!.exitCode}:\n${output}`);
      return output.includes('Portcullis is running');
    }, 120_000, 200); // measured 19-30 s with a load average of 17 on 2 cores
    const started = Date.now() - t0;

    // Every component answers: Prometheus scrapes the control server and Envoy, Alertmanager is ready,
    // the rate-limit service holds the fleet limit (Envoy's x-ratelimit headers come from it).
    await waitFor('Prometheus targets up', async () => {
      const r = (await (await fetch(`http://127.0.0.1:${ports.PROMETHEUS}/api/v1/targets`)).json()) as { data: { activeTargets: { labels: { job: string }; health: string }[] } };
      const up = new Set(r.data.activeTargets.filter((t) => t.health === 'up').map((t) => t.labels.job));
      return up.has('portcullis') && up.has('envoy');
    }, 20_000, 250);
    expect((await fetch(`http://127.0.0.1:${ports.ALERTMANAGER}/-/ready`)).status).toBe(200);
    const token = spawnSync('node', ['dist/demo/token.js', '--role', 'reader'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.trim();
    const orders = await fetch(`http://127.0.0.1:${listener}/orders`, { headers: { authorization: `Bearer ${token}` } });
    expect(orders.status).toBe(200);
    expect(orders.headers.get('x-ratelimit-limit')).toMatch(/^600, 600;w=60/);
    expect((await fetch(`http://127.0.0.1:${ports.BOT}/hooks/alertmanager`, { method: 'POST', body: '{}' })).status).toBe(401);

    // The attack, as a user runs it: the bot's branch appears, with the git merge to run.
    const info = join(demo.tmp, `portcullis-demo-${userInfo().uid}.json`);
    const attack = spawnSync('node', ['dist/demo/attack.js', '--info', info, '--count', '60', '--seconds', '5', '--wait', '40'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(attack.stdout).toMatch(/failed logins answered \{"401":60\}; normal requests \{"200":60\}/);
    const branch = /^Branch: (portcullis\/lockdown\/login-stuffing-dev-203-0-113-0-24-[0-9a-f]{8})/m.exec(attack.stdout)?.[1];
    expect({ status: attack.status, branch }).toEqual({ status: 0, branch: expect.any(String) });
    expect(attack.stdout).toContain(`git -C ${demo.repo.dir} merge ${branch}`);
    const login = (client: string) => fetch(`http://127.0.0.1:${listener}/login`, { method: 'POST', body: '{}', headers: { 'x-forwarded-for': client } }).then((r) => r.status);
    const merged = demo.repo.git('merge', branch!);
    await waitFor('Envoy to block the /24 (server polls every 2 s)', async () => (await login('203.0.113.77')) === 403, 30_000, 200).catch(async (e: Error) => {
      throw new Error(`${e.message}\nmerge: ${merged}\nbranch ${demo!.repo.git('log', '--oneline', '-3', branch!)}\nhead ${demo!.repo.git('log', '--oneline', '-3')}\nattack: ${attack.stdout}\nstatus: ${await (await fetch(`http://127.0.0.1:${ports.HTTP}/status`)).text()}`);
    });
    expect(await login('100.64.1.1')).toBe(401);
    process.stdout.write(`npm start ready in ${(started / 1000).toFixed(1)} s; whole test so far ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

    process.kill(npm.pid, 'SIGINT'); // the npm process only, not its group
    await waitFor('npm to exit', () => !npm!.running, 20_000, 100);
    // A second signal during the cleanup (a test runner stopping the group) must not cut it short:
    // it used to kill start.sh half-way and leave Prometheus, the server and the bot running.
    await waitFor('the cleanup to start', () => output.includes('stopping'), 10_000, 20);
    try {
      process.kill(-npm.pid, 'SIGTERM');
    } catch {
      // the cleanup was already done: nothing left in the group
    }
    await waitFor('every demo port free', () => allFree(all), 15_000, 200);
  });
});
