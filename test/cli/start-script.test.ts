/**
 * `npm start` (scripts/start.sh) as a user runs it: a port already held (by a real Envoy, which
 * binds with SO_REUSEPORT and would share it silently) stops the demo before anything starts, with
 * the port and the process named; SIGINT sent to the npm process alone stops everything.
 * Runs dist/ (built by scripts/setup.sh, as `npm test` does first); uses the demo's fixed ports
 * (upstreams 9100-9301, listener 10000), which must be free, as for `npm start`.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { busyPorts, tryBind } from '../../demo/preflight';
import { EnvoyProcess } from '../support/envoy';
import { freePort } from '../support/ports';
import { spawnManaged, waitFor, type ManagedProcess } from '../support/processes';

jest.setTimeout(180_000);
const REPO_ROOT = join(__dirname, '..', '..');
const FIXED_PORTS = [9100, 9101, 9102, 9201, 9202, 9301, 10000];

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

const startEnv = (ports: { xds: number; http: number; admin: number }): NodeJS.ProcessEnv => ({
  ...process.env,
  PORTCULLIS_SKIP_SETUP: '1',
  PORTCULLIS_XDS_PORT: String(ports.xds),
  PORTCULLIS_HTTP_PORT: String(ports.http),
  PORTCULLIS_ADMIN_PORT: String(ports.admin),
});

test('a port held by another Envoy (SO_REUSEPORT) stops the demo before it starts, naming port and process', async () => {
  const held = await freePort();
  const squatter = envoyOn(held, await freePort());
  try {
    await squatter.waitReady();
    // The squatter's listener is shared, not refused, by a reuse-port bind: the demo must not try.
    expect(await tryBind('127.0.0.1', held)).toBe('EADDRINUSE');
    const r = spawnSync('bash', ['scripts/start.sh'], { cwd: REPO_ROOT, env: startEnv({ xds: await freePort(), http: await freePort(), admin: held }), encoding: 'utf8', timeout: 120_000 });
    const out = `${r.stdout}${r.stderr}`;
    expect(out).toContain(`port ${held} (Envoy admin, 127.0.0.1) is not free: held by pid ${squatter.proc.pid} (`);
    expect(out).toMatch(/held by pid \d+ \(\S*envoy -c /);
    expect(out).not.toContain('demo upstreams (logs');
    expect(r.status).toBe(1);
  } finally {
    await squatter.stop();
  }
});

describe('npm start, then SIGINT to the npm process alone', () => {
  let npm: ManagedProcess | undefined;
  afterAll(async () => {
    await npm?.stop(); // SIGTERM to npm's group reaches start.sh, whose cleanup stops the rest
  });

  test('stops every process it started and frees every port', async () => {
    const ports = { xds: await freePort(), http: await freePort(), admin: await freePort() };
    const all = [...FIXED_PORTS, ports.xds, ports.http, ports.admin];
    expect(await busyPorts(all.map((port) => ({ what: 'demo', host: '127.0.0.1', port })))).toEqual([]);
    let output = '';
    npm = spawnManaged('npm start', 'npm', ['start'], { cwd: REPO_ROOT, env: startEnv(ports), stdio: ['ignore', 'pipe', 'pipe'] });
    npm.child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    npm.child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor('the demo to run', () => {
      if (!npm!.running) throw new Error(`npm start exited ${npm!.exitCode}:\n${output}`);
      return output.includes('Portcullis is running');
    }, 150_000, 200);
    expect(await tryBind('127.0.0.1', 10000)).toBe('EADDRINUSE');

    process.kill(npm.pid, 'SIGINT'); // the npm process only, not its group
    await waitFor('npm to exit', () => !npm!.running, 20_000, 100);
    await waitFor('every demo port free', async () => (await busyPorts(all.map((port) => ({ what: 'demo', host: '127.0.0.1', port })))).length === 0, 15_000, 200);
    expect(output).toContain('stopping');
  });
});
