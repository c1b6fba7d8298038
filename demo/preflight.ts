/**
 * `npm start` preflight: every port the demo will listen on must be free before anything starts.
 * Envoy binds its listeners with SO_REUSEPORT, so a second Envoy on the same port would silently
 * share it (requests alternating between two configurations); a plain bind here fails instead, and
 * the message names the port, what the demo wanted it for, and the process holding it.
 * On success prints the Envoy listener port of the fleet's environment (read from the policies).
 *
 * Run: node dist/demo/preflight.js [--root policies] [--fleet edge-dev] --xds-port 18000
 *      --http-port 18001 --admin-port 9901 --control-port 9100
 */
import { createServer } from 'node:net';
import { compileDirectory } from '../sources';
import { formatDiagnostic } from '../compiler/result';
import { portOwners } from './port-owner';
import { BUNDLED_UPSTREAMS } from './upstreams';

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
  const ports: DemoPort[] = [
    ...BUNDLED_UPSTREAMS.map((u) => ({ what: `demo upstream ${u.service} tier ${u.tier ?? 0}`, host: u.address, port: u.port })),
    { what: 'demo upstreams control', host: '127.0.0.1', port: Number(opt('--control-port', '9100')) },
    { what: 'control server xDS', host: '127.0.0.1', port: Number(opt('--xds-port', '18000')) },
    { what: 'control server HTTP', host: '127.0.0.1', port: Number(opt('--http-port', '18001')) },
    { what: 'Envoy admin', host: '127.0.0.1', port: Number(opt('--admin-port', '9901')) },
    { what: `Envoy listener of environment ${env.name}`, host: env.listener.address, port: env.listener.port },
  ];
  const problems = await busyPorts(ports);
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`${p}\n`);
    process.stderr.write('stop what holds these ports (an earlier `npm start`?) or choose other ports (PORTCULLIS_XDS_PORT, PORTCULLIS_HTTP_PORT, PORTCULLIS_ADMIN_PORT)\n');
    return 1;
  }
  process.stdout.write(`${env.listener.port}\n`);
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
