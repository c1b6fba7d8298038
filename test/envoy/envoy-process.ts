/**
 * Test helper: a real Envoy serving a bootstrap on loopback, and a loopback upstream that echoes
 * the request headers it received as JSON. Started and stopped by the test that uses them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject } from '../../compiler/envoy/resources';
import { envoyBinary } from '../support/envoy';

export interface RunningEnvoy {
  readonly adminPort: number;
  readonly log: () => string;
  stop(): Promise<void>;
}

export async function startEnvoy(bootstrap: JsonObject, adminPort: number): Promise<RunningEnvoy> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-envoy-run-'));
  const file = join(dir, 'bootstrap.json');
  writeFileSync(file, JSON.stringify(bootstrap));
  let output = '';
  const child: ChildProcess = spawn(envoyBinary(), ['-c', file, '--disable-hot-restart', '--concurrency', '1', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when the admin endpoint says LIVE (listeners bound, clusters initialised); bounded wait.
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`envoy exited early:\n${output}`);
    const ready = await httpGet(adminPort, '/ready').catch(() => null);
    if (ready?.status === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`envoy not ready after 20 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { adminPort, log: () => output, stop };
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export function httpRequest(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

export function httpGet(port: number, path: string): Promise<HttpResult> {
  return httpRequest(port, 'GET', path);
}

/** An upstream that answers 200 with the request's method, path and headers as JSON. */
export async function startEchoServer(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ method: req.method, path: req.url, headers: req.headers }));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}
