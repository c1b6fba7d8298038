/**
 * `npm start` preflight: every port the demo will listen on must be free before anything starts.
 * Envoy binds its listeners with SO_REUSEPORT, so a second Envoy on the same port would silently
 * share it (requests alternating between two configurations); a plain bind here fails instead, and
 * the message names the port, what the demo wanted it for, and the process holding it.
 * The upstreams, the listener and the rate-limit service's gRPC port come from the policies (the
 * fleet's environment); on success they are printed for start.sh (see main).
 *
 * Run: node dist/demo/preflight.js [--root policies] [--fleet edge-dev] [--xds-port 18000] ...
 */
import { createServer } from 'node:net';
import { compileDirectory } from '../sources';
import { formatDiagnostic } from '../compiler/result';
import { portOwners } from './port-owner';

export interface DemoPort {
  readonly what: string;
  readonly host: string;
  readonly port: number;
}

/** Binds and releases `host:port`; the error code when that fails (EADDRINUSE, EACCES, ...). */
export function tryBind(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(null)));
  });
}

/** One line per port that cannot be used, naming who holds it when that can be found out. */
export async function busyPorts(ports: readonly DemoPort[]): Promise<string[]> {
  const problems: string[] = [];
  for (const p of ports) {
    const code = await tryBind(p.host, p.port);
    if (code === null) continue;
    const owners = portOwners(p.port);
    const who = owners.length > 0 ? `held by ${owners.map((o) => `pid ${o.pid} (${o.command})`).join(', ')}` : code === 'EADDRINUSE' ? 'in use (by a process of another user?)' : code;
    problems.push(`port ${p.port} (${p.what}, ${p.host}) is not free: ${who}`);
  }
  return problems;
}

/** The ports `npm start` uses besides the environment's (scripts/start.sh passes each; defaults in README). */
const DEMO_PORTS: readonly (readonly [flag: string, what: string, fallback: number])[] = [
  ['--control-port', 'demo upstreams control', 9100],
  ['--xds-port', 'control server xDS', 18000],
  ['--http-port', 'control server HTTP', 18001],
  ['--admin-port', 'Envoy admin', 9901],
  ['--bot-port', 'lockdown bot (local mode)', 18002],
  ['--prometheus-port', 'Prometheus', 9090],
  ['--alertmanager-port', 'Alertmanager', 9093],
  ['--redis-port', 'Redis (rate-limit counters)', 16379],
  ['--ratelimit-http-port', 'rate-limit service HTTP', 18080],
  ['--ratelimit-debug-port', 'rate-limit service debug', 16070],
  ['--ratelimit-metrics-port', 'rate-limit service Prometheus (off, bound explicitly)', 16071],
];

/**
 * What start.sh needs from the policies, one line each: the listener port; the rate-limit service's
 * gRPC port ('' when the environment has none); the environment's name; the demo upstreams as
 * `service=address:port@tier`.
 */
async function main(argv: readonly string[]): Promise<number> {
  const opt = (name: string, fallback: string): string => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  const fleet = opt('--fleet', 'edge-dev');
  const compiled = await compileDirectory(opt('--root', 'policies'), new Date());
  if (!compiled.ok) {
    for (const d of compiled.errors) process.stderr.write(formatDiagnostic(d) + '\n');
    return 1;
  }
  const env = compiled.value.environments.find((e) => e.fleets.includes(fleet));
  if (!env) {
    process.stderr.write(`preflight: no Environment lists fleet ${fleet}\n`);
    return 1;
  }
  const upstreams = env.services.flatMap((s) => s.endpoints.map((e) => ({ service: s.name, address: e.address, port: e.port, tier: e.tier })));
  const rls = env.rateLimitService;
  const ports: DemoPort[] = [
    ...upstreams.map((u) => ({ what: `demo upstream ${u.service} tier ${u.tier}`, host: u.address, port: u.port })),
    ...DEMO_PORTS.map(([flag, what, fallback]) => ({ what, host: '127.0.0.1', port: Number(opt(flag, String(fallback))) })),
    { what: `Envoy listener of environment ${env.name}`, host: env.listener.address, port: env.listener.port },
    ...(rls ? [{ what: `rate-limit service gRPC of environment ${env.name}`, host: rls.address, port: rls.port }] : []),
  ];
  const problems = await busyPorts(ports);
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`${p}\n`);
    process.stderr.write('stop what holds these ports (an earlier `npm start`?) or choose other ports (PORTCULLIS_*_PORT, README "npm start")\n');
    return 1;
  }
  process.stdout.write(`${env.listener.port}\n${rls?.port ?? ''}\n${env.name}\n${upstreams.map((u) => `${u.service}=${u.address}:${u.port}@${u.tier}`).join(' ')}\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`preflight: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
