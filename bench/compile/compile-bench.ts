/**
 * `npm run bench` (compile part): compiles a generated repository of N routes (default 10,000) from
 * YAML to Envoy resources for every (environment, fleet), full and after a one-file change, and
 * prints time and peak memory. Targets (docs/benchmarks.md): ≤ 1 s full, ≤ 50 ms one-file change.
 *
 * A one-file change is timed as the control server does it: incremental compile, then
 * translatePolicy; both parts are also reported apart. Three kinds of change: a route file edited
 * (no lockdown active), the same edit while a prod lockdown blocks a network on every route, and an
 * edit of that lockdown (one more revoked token).
 */
import { createIncrementalCompiler, compileSources, type FileChange, type SourceFile } from '../../compiler';
import { translatePolicy } from '../../compiler/envoy';
import type { PolicyIR } from '../../compiler/ir/ir';
import { generateRepository, lockdownFile } from './generate';

const NOW = new Date('2026-11-27T00:00:00Z');

function must(result: ReturnType<typeof compileSources>): PolicyIR {
  if (!result.ok) throw new Error(`generated repository does not compile: ${JSON.stringify(result.errors.slice(0, 3))}`);
  return result.value;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function p99(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)] ?? NaN;
}

/** Timings of repeated one-file changes, in ms. */
export interface ChangeTimings {
  readonly medianMs: number;
  readonly p99Ms: number;
  /** Median of the incremental compile (load, validate, IR) alone. */
  readonly frontEndMedianMs: number;
  /** Median of translatePolicy alone. */
  readonly translateMedianMs: number;
}

export interface CompileBenchResult {
  readonly routes: number;
  readonly files: number;
  readonly resources: number;
  readonly fullColdMs: number;
  readonly fullWarmMedianMs: number;
  readonly oneFileChangeMedianMs: number;
  readonly oneFileChangeP99Ms: number;
  readonly oneFileChange: ChangeTimings;
  /** The same route-file edit while a prod lockdown blocks a network on every route. */
  readonly oneFileChangeUnderLockdown: ChangeTimings;
  /** Edits of that lockdown: one more revoked token, then back. */
  readonly lockdownEdit: ChangeTimings;
  /** Peak RSS after the full compiles and the plain one-file changes (before the lockdown runs). */
  readonly peakRssOneFileChangeMiB: number;
  /** Peak RSS of the whole run. */
  readonly peakRssMiB: number;
}

function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Alternates between two versions of a change (so every run is a real change) and times each run. */
function timeChanges(files: readonly SourceFile[], a: FileChange, b: FileChange, changes: number): ChangeTimings {
  const incremental = createIncrementalCompiler();
  incremental.replaceAll(files);
  translatePolicy(must(incremental.compile(NOW)));
  const total: number[] = [];
  const frontEnd: number[] = [];
  const translate: number[] = [];
  for (let i = 0; i < changes; i++) {
    const t = process.hrtime.bigint();
    incremental.update([i % 2 === 0 ? a : b]);
    const ir = must(incremental.compile(NOW));
    frontEnd.push(ms(t));
    const t2 = process.hrtime.bigint();
    translatePolicy(ir);
    translate.push(ms(t2));
    total.push(ms(t));
  }
  return { medianMs: median(total), p99Ms: p99(total), frontEndMedianMs: median(frontEnd), translateMedianMs: median(translate) };
}

export function runCompileBench(routes: number, repeats = 5, changes = 100, lockdownChanges = 30): CompileBenchResult {
  const repo = generateRepository({ routes });
  const full = () => {
    const t = process.hrtime.bigint();
    const resources = translatePolicy(must(compileSources(repo.files, NOW)));
    return { ms: ms(t), count: resources.reduce((n, r) => n + r.clusters.length + r.endpoints.length + r.listeners.length + r.routes.length, 0) };
  };
  const cold = full();
  const warm: number[] = [];
  for (let i = 0; i < repeats; i++) warm.push(full().ms);

  const original = repo.files.find((f) => f.path === repo.change.path)!;
  const oneFileChange = timeChanges(repo.files, repo.change, original, changes);
  const peakRssOneFileChangeMiB = peakRssMiB();
  const lockdown = lockdownFile(['bench-jti-1']);
  const withLockdown = [...repo.files, lockdown];
  const oneFileChangeUnderLockdown = timeChanges(withLockdown, repo.change, original, lockdownChanges);
  const lockdownEdit = timeChanges(withLockdown, lockdownFile(['bench-jti-1', 'bench-jti-2']), lockdown, lockdownChanges);
  return {
    routes,
    files: repo.files.length,
    resources: cold.count,
    fullColdMs: cold.ms,
    fullWarmMedianMs: median(warm),
    oneFileChangeMedianMs: oneFileChange.medianMs,
    oneFileChangeP99Ms: oneFileChange.p99Ms,
    oneFileChange,
    oneFileChangeUnderLockdown,
    lockdownEdit,
    peakRssOneFileChangeMiB,
    peakRssMiB: peakRssMiB(),
  };
}

if (require.main === module) {
  const routes = Number(process.argv[2] ?? 10000);
  const r = runCompileBench(routes);
  const f = (n: number) => n.toFixed(1);
  const change = (c: ChangeTimings) =>
    `${f(c.medianMs)} / ${f(c.p99Ms)} ms   (front-end ${f(c.frontEndMedianMs)} + translate ${f(c.translateMedianMs)} ms, medians)`;
  console.log(`compile benchmark: ${r.routes} routes in ${r.files} files → ${r.resources} Envoy resources (2 environments)`);
  console.log(`  full (cold, first run)               ${f(r.fullColdMs)} ms   target ≤ 1000 ms`);
  console.log(`  full (warm, median of 5)             ${f(r.fullWarmMedianMs)} ms`);
  console.log(`  one-file change (median/p99 of 100)  ${change(r.oneFileChange)}   target ≤ 50 ms`);
  console.log(`    same, prod lockdown active (of 30)  ${change(r.oneFileChangeUnderLockdown)}`);
  console.log(`    lockdown edited (of 30)             ${change(r.lockdownEdit)}`);
  console.log(`  peak RSS                             ${f(r.peakRssOneFileChangeMiB)} MiB (${f(r.peakRssMiB)} MiB with the lockdown runs)`);
  console.log(JSON.stringify(r));
}
