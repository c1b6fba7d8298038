/**
 * `npm run bench` (compile part): compiles a generated repository of N routes (default 10,000) from
 * YAML to Envoy resources for every (environment, fleet), full and after a one-file change, and
 * prints time and peak memory. Targets (docs/benchmarks.md): ≤ 1 s full, ≤ 50 ms one-file change.
 */
import { createIncrementalCompiler, compileSources } from '../../compiler';
import { translatePolicy } from '../../compiler/envoy';
import type { PolicyIR } from '../../compiler/ir/ir';
import { generateRepository } from './generate';

const NOW = new Date('2026-11-27T00:00:00Z');

function must(result: ReturnType<typeof compileSources>): PolicyIR {
  if (!result.ok) throw new Error(`generated repository does not compile: ${JSON.stringify(result.errors.slice(0, 3))}`);
  return result.value;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

export interface CompileBenchResult {
  readonly routes: number;
  readonly files: number;
  readonly resources: number;
  readonly fullColdMs: number;
  readonly fullWarmMedianMs: number;
  readonly oneFileChangeMedianMs: number;
  readonly oneFileChangeP99Ms: number;
  readonly peakRssMiB: number;
}

export function runCompileBench(routes: number, repeats = 5, changes = 20): CompileBenchResult {
  const repo = generateRepository(routes);
  const full = () => {
    const t = process.hrtime.bigint();
    const resources = translatePolicy(must(compileSources(repo.files, NOW)));
    return { ms: ms(t), count: resources.reduce((n, r) => n + r.clusters.length + r.endpoints.length + r.listeners.length + r.routes.length, 0) };
  };
  const cold = full();
  const warm: number[] = [];
  for (let i = 0; i < repeats; i++) warm.push(full().ms);

  const incremental = createIncrementalCompiler();
  incremental.replaceAll(repo.files);
  translatePolicy(must(incremental.compile(NOW)));
  const original = repo.files.find((f) => f.path === repo.change.path)!;
  const changed: number[] = [];
  for (let i = 0; i < changes; i++) {
    const t = process.hrtime.bigint();
    // Alternate between the two versions so every run is a real change.
    incremental.update([i % 2 === 0 ? repo.change : original]);
    translatePolicy(must(incremental.compile(NOW)));
    changed.push(ms(t));
  }
  const sorted = [...changed].sort((a, b) => a - b);
  return {
    routes,
    files: repo.files.length,
    resources: cold.count,
    fullColdMs: cold.ms,
    fullWarmMedianMs: median(warm),
    oneFileChangeMedianMs: median(changed),
    oneFileChangeP99Ms: sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] ?? NaN,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

if (require.main === module) {
  const routes = Number(process.argv[2] ?? 10000);
  const r = runCompileBench(routes);
  const f = (n: number) => n.toFixed(1);
  console.log(`compile benchmark: ${r.routes} routes in ${r.files} files → ${r.resources} Envoy resources (2 environments)`);
  console.log(`  full (cold, first run)        ${f(r.fullColdMs)} ms   target ≤ 1000 ms`);
  console.log(`  full (warm, median of 5)      ${f(r.fullWarmMedianMs)} ms`);
  console.log(`  one-file change (median/p99)  ${f(r.oneFileChangeMedianMs)} / ${f(r.oneFileChangeP99Ms)} ms   target ≤ 50 ms`);
  console.log(`  peak RSS                      ${f(r.peakRssMiB)} MiB`);
  console.log(JSON.stringify(r));
}
