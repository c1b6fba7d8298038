/**
 * Bot: the Lockdown overlay of an incident — the trigger's template filled for each offending key
 * (createdAt = now, expiresAt = now + duration) — as a YAML file, and the check that the base plus
 * this overlay compiles (an overlay that does not is never proposed). Pure.
 */
import { stringify } from 'yaml';
import { compileSources, type SourceFile } from '../compiler';
import type { PolicyIR } from '../compiler/ir/ir';
import type { Result } from '../compiler/result';
import type { TriggerTemplate } from './decide';

/** What fired, per key (CONTRACTS.md TriggerFiring). */
export interface Firing {
  readonly environment: string;
  readonly key: string;
  readonly route: string;
}

export interface LockdownSpecData {
  readonly reason: string;
  readonly owner: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly environments: readonly string[];
  readonly actions: readonly Record<string, unknown>[];
}

const PLACEHOLDER = /\{\{\s*(network|ip|sub|jti|route|environment)\s*\}\}/g;

/** The contract's instantiateLockdown (compiler/index.ts on main once the Trigger kind lands). */
export function instantiate(t: TriggerTemplate, f: Firing, createdAt: Date): LockdownSpecData {
  const route = t.routes.length === 1 ? t.routes[0]! : f.route;
  const values: Record<string, string> = {
    environment: f.environment,
    route: route || 'several routes',
    network: t.key === 'clientNetwork' ? f.key : '',
    ip: t.key === 'clientIp' ? f.key : '',
    sub: t.key === 'tokenSubject' ? f.key : '',
    jti: t.key === 'tokenId' ? f.key : '',
  };
  const fill = (v: unknown): unknown =>
    typeof v === 'string' ? v.replace(PLACEHOLDER, (_m, n: string) => values[n] ?? '') : Array.isArray(v) ? v.map(fill) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)])) : v;
  return {
    reason: String(fill(t.lockdown.reason)).slice(0, 2000),
    owner: t.lockdown.owner,
    createdAt: createdAt.toISOString().replace('.000Z', 'Z'),
    expiresAt: new Date(createdAt.getTime() + t.lockdown.durationMs).toISOString().replace('.000Z', 'Z'),
    environments: t.lockdown.environments ?? [f.environment],
    actions: t.lockdown.actions.map((a) => fill(a) as Record<string, unknown>),
  };
}

/** Several keys of one trigger in one lockdown: list actions of the same shape merge (cidrs, jtis, subjects). */
export function mergeSpecs(specs: readonly LockdownSpecData[]): LockdownSpecData {
  const [first, ...rest] = specs;
  if (!first) throw new Error('mergeSpecs: no spec');
  const actions: Record<string, unknown>[] = [];
  for (const a of specs.flatMap((s) => s.actions)) {
    const lists = ['cidrs', 'jtis', 'subjects'].filter((k) => Array.isArray(a[k]));
    const shape = (x: Record<string, unknown>) => JSON.stringify(Object.entries(x).filter(([k]) => !lists.includes(k)).sort());
    const same = lists.length ? actions.find((x) => shape(x) === shape(a)) : actions.find((x) => JSON.stringify(x) === JSON.stringify(a));
    if (!same) actions.push({ ...a });
    else for (const k of lists) same[k] = [...new Set([...(same[k] as string[]), ...(a[k] as string[])])];
  }
  const expiresAt = [first, ...rest].map((s) => s.expiresAt).sort().at(-1)!;
  return { ...first, expiresAt, actions };
}

export function lockdownYaml(name: string, spec: LockdownSpecData, header: string): string {
  const doc = { apiVersion: 'portcullis.dev/v1', kind: 'Lockdown', metadata: { name }, spec };
  return `${header.split('\n').map((l) => `# ${l}`.trimEnd()).join('\n')}\n${stringify(doc, { lineWidth: 0 })}`;
}

/** Compiles the base files with `file` set to `text` (null: removed): the IR, or every error. */
export function compileWithOverlay(base: readonly SourceFile[], file: string, text: string | null, now: Date): Result<PolicyIR> {
  const files = base.filter((f) => f.path !== file);
  return compileSources(text === null ? files : [...files, { path: file, text }], now);
}
