/**
 * Test harness: a real Envoy 1.40 ($ENVOY_BIN) started from a bootstrap, with helpers to read its
 * admin interface (ready, config_dump, stats). A missing Envoy fails the test: end-to-end tests are
 * never skipped silently.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { adsBootstrap, type AdsTls } from '../../compiler/envoy';
import { spawnManaged, waitFor, type ManagedProcess } from './processes';

export function envoyBinary(): string {
  const bin = process.env.ENVOY_BIN;
  if (!bin || !existsSync(bin)) {
    throw new Error(`Envoy not found (ENVOY_BIN=${bin ?? '(unset)'}); run \`bash scripts/setup.sh\` and \`source scripts/env.sh\``);
  }
  return bin;
}

export interface EnvoyOptions {
  /** Bootstrap as a JSON object (written to a file). */
  readonly bootstrap: object;
  readonly adminPort: number;
  readonly logLevel?: string;
  /** Worker threads (`--concurrency`); Envoy's default is one per core. */
  readonly concurrency?: number;
}

/** One dynamic resource in Envoy's config_dump. */
export interface DynamicResource {
  readonly name: string;
  readonly version: string;
  /** False for a listener without an active state (still warming): not serving yet. */
  readonly active: boolean;
}

export interface DynamicResources {
  readonly clusters: readonly DynamicResource[];
  readonly listeners: readonly DynamicResource[];
  readonly routes: readonly DynamicResource[];
}

export class EnvoyProcess {
  private constructor(
    readonly proc: ManagedProcess,
    readonly adminPort: number,
    readonly dir: string,
  ) {}

  static start(opts: EnvoyOptions): EnvoyProcess {
    const bin = envoyBinary();
    const dir = mkdtempSync(path.join(tmpdir(), 'portcullis-envoy-'));
    const config = path.join(dir, 'bootstrap.json');
    writeFileSync(config, JSON.stringify(opts.bootstrap, null, 2));
    const proc = spawnManaged('envoy', bin, [
      '-c', config,
      '--use-dynamic-base-id', // several Envoys (and other engineers' tests) share the machine
      '--log-level', opts.logLevel ?? 'info',
      '--log-path', path.join(dir, 'envoy.log'),
      '--drain-time-s', '1',
      '--parent-shutdown-time-s', '2',
      ...(opts.concurrency === undefined ? [] : ['--concurrency', String(opts.concurrency)]),
    ]);
    return new EnvoyProcess(proc, opts.adminPort, dir);
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  log(): string {
    try {
      return readFileSync(path.join(this.dir, 'envoy.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Waits until the admin interface says LIVE (initial xDS fetch done); an Envoy that exits fails at once. */
  async waitReady(timeoutMs = 20_000): Promise<void> {
    const outcome = await waitFor(
      'Envoy /ready',
      async () => {
        if (!this.proc.running) return 'exited';
        const r = await fetch(`${this.adminUrl}/ready`).catch(() => null);
        return r?.status === 200 ? 'ready' : undefined;
      },
      timeoutMs,
    ).catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\nEnvoy log tail:\n${this.log().slice(-3000)}`);
    });
    if (outcome === 'exited') throw new Error(`Envoy exited (${this.proc.exitCode}) before it was ready; log tail:\n${this.log().slice(-3000)}`);
  }

  async configDump(resource?: string): Promise<{ configs: Record<string, unknown>[] }> {
    const q = resource ? `?resource=${resource}` : '';
    const r = await fetch(`${this.adminUrl}/config_dump${q}`);
    if (r.status !== 200) throw new Error(`config_dump answered ${r.status}`);
    return (await r.json()) as { configs: Record<string, unknown>[] };
  }

  /** Stats as name → value (counters and gauges; text format). */
  async stats(filter?: string): Promise<Map<string, string>> {
    const q = filter ? `?filter=${encodeURIComponent(filter)}` : '';
    const r = await fetch(`${this.adminUrl}/stats${q}`);
    const out = new Map<string, string>();
    for (const line of (await r.text()).split('\n')) {
      const i = line.indexOf(': ');
      if (i > 0) out.set(line.slice(0, i), line.slice(i + 2));
    }
    return out;
  }

  async stat(name: string): Promise<string | undefined> {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return (await this.stats(`^${escaped}$`)).get(name);
  }

  /** The dynamic (xDS) resources Envoy holds per type, from config_dump; warming clusters are left out. */
  async dynamicResources(): Promise<DynamicResources> {
    const dump = await this.configDump();
    // Matched on the whole message name: '…RoutesConfigDump' alone would also match ScopedRoutesConfigDump, which comes first.
    const byType = (message: string) => dump.configs.find((c) => String(c['@type']).endsWith(`.${message}`)) as Record<string, unknown> | undefined;
    type Cluster = { version_info?: string; cluster?: { name?: string } };
    type Listener = { name?: string; active_state?: { version_info?: string } };
    type Route = { version_info?: string; route_config?: { name?: string } };
    const clusters = ((byType('ClustersConfigDump')?.dynamic_active_clusters as Cluster[] | undefined) ?? []).map((c) => ({ name: c.cluster?.name ?? '', version: c.version_info ?? '', active: true }));
    const listeners = ((byType('ListenersConfigDump')?.dynamic_listeners as Listener[] | undefined) ?? []).map((l) => ({
      name: l.name ?? '',
      version: l.active_state?.version_info ?? '',
      active: l.active_state !== undefined,
    }));
    const routes = ((byType('RoutesConfigDump')?.dynamic_route_configs as Route[] | undefined) ?? []).map((r) => ({ name: r.route_config?.name ?? '', version: r.version_info ?? '', active: true }));
    return { clusters, listeners, routes };
  }

  /** Dynamic version_info Envoy holds per xDS type, in config_dump order ('' for a listener not active yet). */
  async versions(): Promise<{ clusters: string[]; listeners: string[]; routes: string[] }> {
    const d = await this.dynamicResources();
    const versionsOf = (rs: readonly DynamicResource[]): string[] => rs.map((r) => r.version);
    return { clusters: versionsOf(d.clusters), listeners: versionsOf(d.listeners), routes: versionsOf(d.routes) };
  }

  /** Names of the dynamic resources Envoy is serving (listeners: active ones only), sorted per type. */
  async activeNames(): Promise<{ clusters: string[]; listeners: string[]; routes: string[] }> {
    const d = await this.dynamicResources();
    const namesOf = (rs: readonly DynamicResource[]): string[] => rs.filter((r) => r.active).map((r) => r.name).sort();
    return { clusters: namesOf(d.clusters), listeners: namesOf(d.listeners), routes: namesOf(d.routes) };
  }

  /** Stops Envoy and removes its bootstrap and log. */
  async stop(): Promise<void> {
    await this.proc.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface AdsEnvoyOptions {
  readonly nodeId: string;
  /** The node's cluster: the fleet the control server serves it. */
  readonly fleet: string;
  readonly xdsPort: number;
  readonly adminPort: number;
  /** Delta xDS (DELTA_GRPC) or state of the world (GRPC). */
  readonly delta: boolean;
  readonly tls?: AdsTls;
  readonly logLevel?: string;
}

/** An Envoy bootstrapped with the product's own ADS bootstrap, pointed at a control server on loopback. */
export function startAdsEnvoy(opts: AdsEnvoyOptions): EnvoyProcess {
  return EnvoyProcess.start({
    adminPort: opts.adminPort,
    bootstrap: adsBootstrap({ nodeId: opts.nodeId, cluster: opts.fleet, xdsHost: '127.0.0.1', xdsPort: opts.xdsPort, delta: opts.delta, adminPort: opts.adminPort, tls: opts.tls ?? null }),
    ...(opts.logLevel === undefined ? {} : { logLevel: opts.logLevel }),
  });
}
