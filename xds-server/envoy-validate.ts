/**
 * The last line of defence before a snapshot is served (and in `portcullis validate --envoy`): each
 * fleet's rendered configuration, as one static bootstrap, goes through a real Envoy's
 * `--mode validate`, so what Envoy would refuse is refused like a compile error instead of NACKed
 * by the whole fleet. Verdicts are cached by content (one run per distinct fleet configuration);
 * fleets are checked concurrently.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Counter, Histogram, type Registry } from 'prom-client';
import { staticBootstrap } from '../compiler/envoy';
import type { EnvoyResources } from '../compiler/envoy/resources';
import { positionless, type Diagnostic } from '../compiler/result';
import { boundedMessage } from './stream';

export interface EnvoyValidatorOptions {
  /** The Envoy binary (1.40, the fleet's version). */
  readonly binary: string;
  /** One validation run's limit (default 30 s). */
  readonly timeoutMs?: number;
  /** Envoy processes at once (default 2). */
  readonly concurrency?: number;
  /** Verdicts remembered, by fleet configuration (default 64). */
  readonly cacheSize?: number;
}

/** One fleet's verdict. `error`: Envoy could not give one (did not start, timed out). */
export type FleetVerdict =
  | { readonly fleet: string; readonly environment: string; readonly result: 'ok'; readonly cached: boolean; readonly ms: number }
  | { readonly fleet: string; readonly environment: string; readonly result: 'rejected'; readonly cached: boolean; readonly ms: number; readonly message: string }
  | { readonly fleet: string; readonly environment: string; readonly result: 'error'; readonly cached: false; readonly ms: number; readonly message: string };

/** `ok`/`rejected`: Envoy ran; `cached`: a verdict for the same content; `error`: no verdict; `skipped`: no Envoy binary. */
export const VALIDATION_RESULTS = ['ok', 'rejected', 'cached', 'error', 'skipped'] as const;

export interface ValidationMetrics {
  readonly validations: Counter<'result'>;
  readonly seconds: Histogram;
}

/** `portcullis_envoy_validations_total{result}` (every result from 0) and the duration of one publication's check. */
export function createValidationMetrics(registry: Registry): ValidationMetrics {
  const validations = new Counter({
    name: 'portcullis_envoy_validations_total',
    help: 'Fleet configurations checked with envoy --mode validate before publishing, by result (ok|rejected|cached|error|skipped).',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of VALIDATION_RESULTS) validations.inc({ result }, 0);
  const seconds = new Histogram({
    name: 'portcullis_envoy_validation_seconds',
    help: 'Time one publication waited for Envoy validation of all its fleets.',
    buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return { validations, seconds };
}

/** One policy file, for tracing an Envoy message back to the line that produced it. */
export interface TraceSource {
  readonly path: string;
  readonly text: string;
}

/**
 * The Envoy binary to validate with: `explicit` when given, else $ENVOY_BIN, else `envoy` on PATH;
 * null when there is none (validation is then skipped, and says so).
 */
export function findEnvoyBinary(explicit?: string): string | null {
  if (explicit) return explicit;
  const fromEnv = process.env.ENVOY_BIN;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'envoy'))) return path.join(dir, 'envoy');
  }
  return null;
}

export class EnvoyValidator {
  private readonly cache = new Map<string, { result: 'ok' | 'rejected'; message: string }>();
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(readonly options: EnvoyValidatorOptions) {}

  /** Every fleet's verdict, in the order given. */
  validateAll(fleets: ReadonlyMap<string, EnvoyResources>): Promise<FleetVerdict[]> {
    return Promise.all([...fleets.values()].map((r) => this.validateFleet(r)));
  }

  async validateFleet(resources: EnvoyResources): Promise<FleetVerdict> {
    const start = process.hrtime.bigint();
    const ms = (): number => Number(process.hrtime.bigint() - start) / 1e6;
    const who = { fleet: resources.fleet, environment: resources.environment };
    const key = contentKey(resources);
    const known = this.cache.get(key);
    if (known) return known.result === 'ok' ? { ...who, result: 'ok', cached: true, ms: ms() } : { ...who, result: 'rejected', cached: true, ms: ms(), message: known.message };
    let bootstrap: object;
    try {
      bootstrap = staticBootstrap(resources, { nodeId: 'portcullis-validate' });
    } catch (e) {
      // The resources do not even form one configuration (a listener naming a missing route table).
      return this.remember(key, { ...who, result: 'rejected', cached: false, ms: ms(), message: e instanceof Error ? e.message : String(e) });
    }
    const run = await this.slot(() => runValidate(this.options.binary, bootstrap, this.options.timeoutMs ?? 30_000));
    if (run.kind === 'error') return { ...who, result: 'error', cached: false, ms: ms(), message: run.message };
    if (run.kind === 'ok') return this.remember(key, { ...who, result: 'ok', cached: false, ms: ms() });
    return this.remember(key, { ...who, result: 'rejected', cached: false, ms: ms(), message: run.message });
  }

  private remember(key: string, verdict: FleetVerdict): FleetVerdict {
    if (verdict.result === 'error') return verdict;
    this.cache.delete(key);
    this.cache.set(key, { result: verdict.result, message: verdict.result === 'rejected' ? verdict.message : '' });
    while (this.cache.size > (this.options.cacheSize ?? 64)) this.cache.delete(this.cache.keys().next().value!);
    return verdict;
  }

  private async slot<T>(job: () => Promise<T>): Promise<T> {
    if (this.running >= (this.options.concurrency ?? 2)) await new Promise<void>((r) => this.queue.push(r));
    this.running++;
    try {
      return await job();
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }
}

/** Hash of every resource's name and content version: equal configurations share one verdict. */
function contentKey(r: EnvoyResources): string {
  const h = createHash('sha256').update(r.fleet).update('\0').update(r.environment);
  for (const list of [r.clusters, r.endpoints, r.listeners, r.routes]) {
    h.update('\n#');
    for (const x of list) h.update('\n').update(x.name).update('\0').update(x.version);
  }
  return h.digest('hex');
}

type Run = { kind: 'ok' } | { kind: 'rejected'; message: string } | { kind: 'error'; message: string };

async function runValidate(binary: string, bootstrap: object, timeoutMs: number): Promise<Run> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-envoy-validate-'));
  const file = path.join(dir, 'bootstrap.json');
  try {
    await writeFile(file, JSON.stringify(bootstrap));
    return await new Promise<Run>((resolve) => {
      // No hot-restart shared memory, nothing bound: validate mode only builds the configuration.
      const child = spawn(binary, ['--mode', 'validate', '-c', file, '--disable-hot-restart', '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const take = (c: Buffer): void => {
        if (output.length < 256 * 1024) output += c.toString('utf8');
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        resolve({ kind: 'error', message: `cannot run ${binary}: ${e.message}` });
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) return resolve({ kind: 'ok' });
        if (signal) return resolve({ kind: 'error', message: `${binary} --mode validate ended by ${signal} (limit ${timeoutMs} ms)` });
        const message = envoyMessage(output, file);
        resolve(message === null ? { kind: 'error', message: `${binary} --mode validate exited ${code}: ${boundedMessage(output.trim(), 1024).text}` } : { kind: 'rejected', message });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Envoy's reason from its `error initializing configuration '<file>': …` line, bounded; null when absent. */
export function envoyMessage(output: string, file: string): string | null {
  const marker = `error initializing configuration '${file}': `;
  const at = output.indexOf(marker);
  if (at < 0) return null;
  const text = output.slice(at + marker.length).trim().replace(/\s*\n\s*/g, ' ');
  return boundedMessage(text, 2048).text;
}

/**
 * Diagnostics for a refused fleet: at the policy line that holds a value Envoy's message quotes
 * (a regex, a header value, a name) when one is found in the sources; otherwise at the Environment
 * document that lists the fleet.
 */
export function traceRefusal(verdict: { fleet: string; environment: string; message: string }, sources: readonly TraceSource[]): Diagnostic[] {
  const message = `Envoy refuses the configuration of fleet "${verdict.fleet}" (envoy --mode validate): ${verdict.message}`;
  const quoted = [...verdict.message.matchAll(/'([^'\n]{3,})'|"([^"\n]{3,})"/g)].map((m) => m[1] ?? m[2]!);
  const found: Diagnostic[] = [];
  for (const token of quoted) {
    for (const src of sources) {
      const at = src.text.indexOf(token);
      if (at >= 0) found.push({ ...positionOf(src, at), path: '', message });
    }
  }
  if (found.length > 0) return found;
  const env = sources.map((src) => ({ src, at: src.text.search(new RegExp(`kind:\\s*Environment\\s*\\n\\s*metadata:\\s*\\{?\\s*name:\\s*${escapeRegExp(verdict.environment)}\\b`)) })).find((x) => x.at >= 0);
  if (env) return [{ ...positionOf(env.src, env.at), path: 'spec.fleets', message }];
  return [positionless(message, { subject: `Environment/${verdict.environment}`, path: 'spec.fleets' })];
}

function positionOf(src: TraceSource, offset: number): { file: string; line: number; column: number; subject: string } {
  const before = src.text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  // The document holding the offset: its kind and metadata.name, for the `Kind/name` subject.
  const docStart = Math.max(0, before.lastIndexOf('\n---') + 1);
  const docEnd = src.text.indexOf('\n---', offset);
  const doc = src.text.slice(docStart, docEnd < 0 ? undefined : docEnd);
  const kind = /^kind:\s*(\S+)/m.exec(doc)?.[1];
  const name = /^metadata:\s*\{?\s*name:\s*([^\s,}]+)/m.exec(doc)?.[1] ?? /^\s+name:\s*([^\s,}]+)/m.exec(doc)?.[1];
  return { file: src.path, line, column, subject: kind && name ? `${kind}/${name}` : '' };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
