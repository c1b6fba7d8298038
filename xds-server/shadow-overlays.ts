/**
 * Shadow overlays on the control server: Lockdowns put through the authenticated API
 * (http/shadow-api.ts) that the fleet evaluates in shadow mode (compiler/ir/shadow.ts; nothing is
 * enforced). The registry keeps them, compiles every publication as base + overlays (an overlay
 * that no longer compiles with the base, e.g. because its environment or a route is gone, or the
 * very Lockdown was merged into git, is ended, the base is still published), ends each at its TTL,
 * and persists them in the state directory so a restart keeps them until their TTL.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { buildIR, loadModel, type ShadowSelection, type SourceFile } from '../compiler';
import type { PolicyIR, ShadowOverlayIR } from '../compiler/ir/ir';
import { positionless, type Diagnostic, type Result } from '../compiler/result';
import { compareText } from '../compiler/text-order';

/** Where an overlay's Lockdown is compiled from: diagnostics name this file. */
export const overlayPath = (name: string): string => `portcullis-shadow/${name}.yaml`;

export interface ShadowOverlay {
  readonly name: string;
  readonly environment: string;
  /** The Lockdown document (YAML) as put. */
  readonly lockdown: string;
  readonly startedAt: string;
  readonly expiresAt: string;
}

export interface ShadowLimits {
  /** TTL when the request names none (default 30 minutes). */
  readonly defaultTtlMs: number;
  /** Longest TTL granted (default 24 hours); longer requests are capped. */
  readonly maxTtlMs: number;
  /** Overlays at once (default 16). */
  readonly maxOverlays: number;
}

export const DEFAULT_SHADOW_LIMITS: ShadowLimits = { defaultTtlMs: 30 * 60_000, maxTtlMs: 24 * 3_600_000, maxOverlays: 16 };

export type CompileWith = (files: readonly SourceFile[], now: Date, shadow: ShadowSelection) => Result<PolicyIR>;

export interface ShadowRegistryOptions {
  readonly logger: Logger;
  readonly limits?: ShadowLimits;
  /** JSON file holding the overlays (null: kept in memory only). */
  readonly stateFile: string | null;
  readonly now?: () => number;
  /** Files of the served commit; null before anything is served. */
  readonly servedFiles: () => readonly SourceFile[] | null;
  /** Compiles and publishes the served commit again (with the registry's overlays); errors when refused. */
  readonly republish: () => Promise<Result<unknown>>;
  readonly audit?: (kind: 'shadow.started' | 'shadow.ended', fields: Record<string, unknown>) => void;
}

/** What a PUT answers. */
export type PutOutcome =
  | { readonly kind: 'started'; readonly overlay: ShadowOverlay; readonly ir: ShadowOverlayIR; readonly replaced: boolean; readonly ttlCapped: boolean }
  | { readonly kind: 'refused'; readonly status: number; readonly errors: readonly Diagnostic[] };

export class ShadowRegistry {
  private readonly overlays = new Map<string, ShadowOverlay>();
  private readonly limits: ShadowLimits;
  private readonly now: () => number;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: ShadowRegistryOptions) {
    this.limits = o.limits ?? DEFAULT_SHADOW_LIMITS;
    this.now = o.now ?? Date.now;
    for (const s of this.load()) this.overlays.set(s.name, s);
    this.arm();
  }

  list(): ShadowOverlay[] {
    return [...this.overlays.values()].sort((a, b) => compareText(a.name, b.name));
  }

  /**
   * The follower's compile step: base + every overlay that still compiles with it (the others are
   * ended), expired ones left out. A base that does not compile is refused as without overlays.
   */
  compile(base: readonly SourceFile[], now: Date, compileWith: CompileWith): Result<PolicyIR> {
    this.expire(now.getTime());
    if (this.overlays.size === 0) return compileWith(base, now, new Map());
    const all = compileWith(this.withOverlays(base, this.list()), now, this.selection(this.list()));
    if (all.ok) return all;
    const alone = compileWith(base, now, new Map());
    if (!alone.ok) return alone;
    for (const s of this.list()) {
      const errors = checkOverlay(base, s, now);
      if (errors.length > 0) this.end(s, 'no-longer-compiles', { errors: errors.slice(0, 20) });
    }
    this.persist();
    return this.overlays.size === 0 ? alone : compileWith(this.withOverlays(base, this.list()), now, this.selection(this.list()));
  }

  /** Starts (or replaces) overlay `name`: compiled with the served base first, published, then answered. */
  put(name: string, environment: string, lockdown: string, ttlMs: number | null): Promise<PutOutcome> {
    return this.serialized(async () => {
      const base = this.o.servedFiles();
      if (base === null) return refused(503, 'nothing is served yet: a shadow overlay needs a compiled base policy');
      const previous = this.overlays.get(name);
      if (!previous && this.overlays.size >= this.limits.maxOverlays) return refused(429, `at most ${this.limits.maxOverlays} shadow overlays at once`);
      const nowMs = this.now();
      const ttl = Math.min(ttlMs ?? this.limits.defaultTtlMs, this.limits.maxTtlMs);
      const overlay: ShadowOverlay = {
        name,
        environment,
        lockdown,
        startedAt: previous && previous.lockdown === lockdown && previous.environment === environment ? previous.startedAt : new Date(nowMs).toISOString(),
        expiresAt: new Date(nowMs + ttl).toISOString(),
      };
      const checked = compileOverlay(base, overlay, new Date(nowMs));
      if (!checked.ok) return { kind: 'refused', status: 400, errors: checked.errors };
      this.overlays.set(name, overlay);
      const published = await this.o.republish();
      if (!published.ok) {
        if (previous) this.overlays.set(name, previous);
        else this.overlays.delete(name);
        return { kind: 'refused', status: 422, errors: published.errors };
      }
      this.persist();
      this.arm();
      this.o.audit?.('shadow.started', { overlay: name, environment, expiresAt: overlay.expiresAt, ttlMs: ttl, replaced: previous !== undefined });
      return { kind: 'started', overlay, ir: checked.value, replaced: previous !== undefined, ttlCapped: (ttlMs ?? 0) > this.limits.maxTtlMs };
    });
  }

  /** Ends overlay `name` and publishes without it; false when there is none. */
  delete(name: string): Promise<boolean> {
    return this.serialized(async () => {
      const s = this.overlays.get(name);
      if (!s) return false;
      this.end(s, 'deleted');
      this.persist();
      const published = await this.o.republish();
      if (!published.ok) this.o.logger.error({ overlay: name, errors: published.errors }, 'publication without the deleted shadow overlay was refused');
      return true;
    });
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private withOverlays(base: readonly SourceFile[], overlays: readonly ShadowOverlay[]): SourceFile[] {
    return [...base, ...overlays.map((s) => ({ path: overlayPath(s.name), text: s.lockdown }))];
  }

  private selection(overlays: readonly ShadowOverlay[]): ShadowSelection {
    return new Map(overlays.map((s) => [s.name, s.environment]));
  }

  private end(s: ShadowOverlay, reason: 'deleted' | 'expired' | 'no-longer-compiles', extra: Record<string, unknown> = {}): void {
    this.overlays.delete(s.name);
    this.o.logger.info({ overlay: s.name, environment: s.environment, reason, ...extra }, 'shadow overlay ended');
    this.o.audit?.('shadow.ended', { overlay: s.name, environment: s.environment, reason, ...extra });
  }

  /** Ends the overlays whose TTL is over; true when one ended. */
  private expire(nowMs: number): boolean {
    const over = this.list().filter((s) => Date.parse(s.expiresAt) <= nowMs);
    for (const s of over) this.end(s, 'expired');
    if (over.length > 0) this.persist();
    return over.length > 0;
  }

  /** A timer at the next expiry: then the fleet gets the policy without the expired overlays. */
  private arm(): void {
    this.stop();
    const next = Math.min(...this.list().map((s) => Date.parse(s.expiresAt)));
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => {
      void this.serialized(async () => {
        if (this.expire(this.now())) {
          const published = await this.o.republish();
          if (!published.ok) this.o.logger.error({ errors: published.errors }, 'publication without the expired shadow overlays was refused');
        }
        this.arm();
      });
    }, Math.max(0, Math.min(next - this.now(), 2 ** 31 - 1)));
    this.timer.unref();
  }

  private load(): ShadowOverlay[] {
    const file = this.o.stateFile;
    if (file === null || !existsSync(file)) return [];
    try {
      const data = JSON.parse(readFileSync(file, 'utf8')) as { overlays?: ShadowOverlay[] };
      const nowMs = this.now();
      const kept = (data.overlays ?? []).filter((s) => typeof s.name === 'string' && Date.parse(s.expiresAt) > nowMs);
      if (kept.length > 0) this.o.logger.info({ overlays: kept.map((s) => s.name) }, 'shadow overlays restored from the state directory');
      return kept;
    } catch (e) {
      this.o.logger.warn({ file, error: e instanceof Error ? e.message : String(e) }, 'shadow overlay state unreadable; starting without overlays');
      return [];
    }
  }

  private persist(): void {
    const file = this.o.stateFile;
    if (file === null) return;
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify({ overlays: this.list() }, null, 2));
      renameSync(`${file}.tmp`, file);
    } catch (e) {
      this.o.logger.warn({ file, error: e instanceof Error ? e.message : String(e) }, 'could not record the shadow overlays in the state directory');
    }
  }
}

function refused(status: number, message: string): PutOutcome {
  return { kind: 'refused', status, errors: [positionless(message)] };
}

/** The overlay compiled with `base`: its ShadowOverlayIR, or every error (file:line:col in the overlay's file). */
export function compileOverlay(base: readonly SourceFile[], s: ShadowOverlay, now: Date): Result<ShadowOverlayIR> {
  const path = overlayPath(s.name);
  const model = loadModel([...base, { path, text: s.lockdown }]);
  if (!model.ok) return model;
  const m = model.value;
  const mine = [...m.services, ...m.routes, ...m.rateLimits, ...m.accesses, ...m.environments, ...m.lockdowns, ...m.triggers].filter((d) => d.source.file === path);
  const at = { file: path, subject: `Lockdown/${s.name}` };
  const only = mine.length === 1 ? mine[0] : undefined;
  if (only === undefined || only.kind !== 'Lockdown') return { ok: false, errors: [positionless('the body must hold exactly one Lockdown document', { ...at, path: 'kind' })] };
  if (only.name !== s.name) return { ok: false, errors: [positionless(`metadata.name "${only.name}" must be the overlay's name "${s.name}"`, { ...at, path: 'metadata.name' })] };
  if (!m.lockdowns.some((l) => l.name === s.name && l.spec.environments.includes(s.environment))) {
    return { ok: false, errors: [positionless(`the Lockdown does not list environment "${s.environment}"`, { ...at, path: 'spec.environments' })] };
  }
  const ir = buildIR(m, now, undefined, new Map([[s.name, s.environment]]));
  const overlay = ir.environments.find((e) => e.name === s.environment)?.shadowOverlays?.[0];
  return overlay ? { ok: true, value: overlay } : { ok: false, errors: [positionless(`unknown environment "${s.environment}"`, { ...at, path: 'spec.environments' })] };
}

function checkOverlay(base: readonly SourceFile[], s: ShadowOverlay, now: Date): readonly Diagnostic[] {
  const r = compileOverlay(base, s, now);
  return r.ok ? [] : r.errors;
}
