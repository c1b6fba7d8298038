/**
 * What TLS adds to a push (docs/xds-server.md, mTLS): one shared frame of F KiB written to N
 * connections, plain TCP against TLS, sender CPU (process.cpuUsage) and wall clock until every
 * write is handed to the kernel, median of 5 rounds. The receivers run in a child process that
 * reads and drops. TLS encrypts per connection, so this is the part of a push that the shared
 * frame cannot share.
 *
 *   node -r ts-node/register/transpile-only bench/xds/tls-cost-bench.ts [--connections 200] [--kib 236]
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { argReader, median, runCli } from './ads-bench';

interface Receivers {
  readonly port: number;
  readonly secure: boolean;
  readonly count: number;
}

/** The child: `count` connections that read everything and drop it; says "up" once all are open. */
function receive(o: Receivers): void {
  let open = 0;
  for (let i = 0; i < o.count; i++) {
    const s = o.secure ? tls.connect({ port: o.port, host: '127.0.0.1', rejectUnauthorized: false }) : net.connect(o.port, '127.0.0.1');
    s.on(o.secure ? 'secureConnect' : 'connect', () => {
      if (++open === o.count) process.send!('up');
    });
    s.on('data', () => undefined);
  }
}

async function measure(secure: boolean, count: number, kib: number, pem: { key: Buffer; cert: Buffer }): Promise<{ cpuMs: number; wallMs: number }> {
  const conns: net.Socket[] = [];
  const server = secure ? tls.createServer(pem, (s) => conns.push(s)) : net.createServer((s) => conns.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const execArgv = __filename.endsWith('.ts') ? ['-r', require.resolve('ts-node/register/transpile-only')] : [];
  const child = fork(__filename, ['--receive', JSON.stringify({ port: (server.address() as net.AddressInfo).port, secure, count })], { execArgv });
  try {
    await new Promise((r) => child.once('message', r));
    while (conns.length < count) await new Promise((r) => setTimeout(r, 10));
    const frame = Buffer.alloc(kib * 1024, 7);
    const rounds: { cpuMs: number; wallMs: number }[] = [];
    for (let i = 0; i < 5; i++) {
      const [c0, t0] = [process.cpuUsage(), performance.now()];
      await Promise.all(conns.map((s) => new Promise((r) => s.write(frame, r))));
      const c = process.cpuUsage(c0);
      rounds.push({ cpuMs: (c.user + c.system) / 1000, wallMs: performance.now() - t0 });
    }
    return { cpuMs: median(rounds.map((r) => r.cpuMs)), wallMs: median(rounds.map((r) => r.wallMs)) };
  } finally {
    child.kill();
    for (const s of conns) s.destroy();
    server.close();
  }
}

async function cli(argv: readonly string[]): Promise<void> {
  const arg = argReader(argv);
  const [count, kib] = [Number(arg('--connections', '200')), Number(arg('--kib', '236'))];
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-tls-cost-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'pipe' });
    const pem = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
    for (const secure of [false, true]) {
      const r = await measure(secure, count, kib, pem);
      process.stdout.write(`${secure ? 'tls' : 'plain'}: ${count} connections × ${kib} KiB: sender CPU ${r.cpuMs.toFixed(0)} ms, wall ${r.wallMs.toFixed(0)} ms (medians of 5)\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The receivers' child stays up until the sender kills it (runCli would exit at once).
if (require.main === module && process.argv[2] === '--receive') receive(JSON.parse(process.argv[3]!) as Receivers);
else if (require.main === module) runCli(cli);
