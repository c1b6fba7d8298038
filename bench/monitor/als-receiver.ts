/**
 * The access-log receiver as the control server runs it (the monitor's ALS service on a gRPC server
 * made by createXdsServer), alone in its own process for als-latency-bench.ts: argv[2] is the policy
 * file, argv[3] the gRPC port. Prints `{"grpc":port,"http":port}` once listening; GET / on the HTTP
 * port answers the monitor's series. Runs until killed.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { compileSources } from '../../compiler';
import { createMonitor } from '../../monitor/monitor';
import { createXdsServer } from '../../xds-server/ads-server';

async function run(): Promise<void> {
  const [file, port] = process.argv.slice(2) as [string, string];
  const compiled = compileSources([{ path: file, text: readFileSync(file, 'utf8') }], new Date());
  if (!compiled.ok) throw new Error(compiled.errors.map((e) => e.message).join('\n'));
  const registry = new Registry();
  const logger = pino({ level: 'warn' });
  const monitor = createMonitor({ registry, logger, alertmanager: null });
  monitor.setPolicy(compiled.value);
  monitor.start();
  const xds = createXdsServer({ logger, registry, services: [monitor.grpcService] });
  const grpc = await xds.listen('127.0.0.1', Number(port));
  const http = createServer((_req, res) => {
    void registry.metrics().then((text) => res.end(text));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ grpc, http: (http.address() as AddressInfo).port })}\n`);
}

run().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
