/** Test harness for the xDS server: a server on a loopback port, its logs and metrics, ADS clients. */
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { EnvoyResources } from '../../compiler/envoy/resources';
import { TYPE_URL } from '../../compiler/envoy/resources';
import { createXdsServer, type XdsServer, type XdsServerOptions } from '../../xds-server/ads-server';
import { AdsClient, type AdsClientOptions, type AdsVariant } from '../../bench/xds/ads-client';
import { metricSum } from '../support/metrics';
import { waitFor } from '../support/processes';

export const CDS = TYPE_URL.cluster;
export const EDS = TYPE_URL.endpoint;
export const LDS = TYPE_URL.listener;
export const RDS = TYPE_URL.route;

export interface Harness {
  readonly server: XdsServer;
  readonly port: number;
  readonly registry: Registry;
  readonly logs: Record<string, unknown>[];
  client(variant: AdsVariant, node?: { id: string; cluster: string }, extra?: Partial<AdsClientOptions>): AdsClient;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export async function startHarness(options: Partial<XdsServerOptions> = {}, listenPort = 0): Promise<Harness> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const registry = options.registry ?? new Registry();
  const server = createXdsServer({ logger: pino({ level: 'debug' }, sink), registry, ...options });
  const port = await server.listen('127.0.0.1', listenPort);
  const clients: AdsClient[] = [];
  let seq = 0;
  return {
    server,
    port,
    registry,
    logs,
    client(variant, node = { id: `node-${++seq}`, cluster: 'edge' }, extra = {}) {
      const c = new AdsClient({ port, variant, node, ...extra });
      clients.push(c);
      return c;
    },
    metric: (name, labels = {}) => metricSum(registry, name, labels),
    async close() {
      for (const c of clients) c.cancel();
      await server.shutdown(200);
    },
  };
}

export async function publish(h: Harness, resources: EnvoyResources | readonly EnvoyResources[], commit = 'c1'): Promise<void> {
  const list = Array.isArray(resources) ? resources : [resources as EnvoyResources];
  const out = await h.server.setSnapshots(new Map(list.map((r) => [r.fleet, r])), { commit, compiledAt: '2026-01-01T00:00:00Z' });
  if (!out.ok) throw new Error(JSON.stringify(out.errors));
}

export const names = (r: { resources: readonly { name: string }[] }): string[] => r.resources.map((x) => x.name).sort();

/** waitFor with the last value that did not pass `ok` in the timeout message. */
export function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 10_000): Promise<T> {
  return waitFor(
    what,
    async () => {
      const v = await probe();
      if (ok(v)) return v;
      throw new Error(`last seen ${JSON.stringify(v)}`);
    },
    ms,
    100,
  );
}
