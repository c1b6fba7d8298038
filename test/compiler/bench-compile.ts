/**
 * Compile benchmark (DESIGN.md targets: 10,000 routes ≤ 1 s full, ≤ 50 ms after a one-file change).
 * A measurement, not a test: `npx ts-node-transpile-only test/compiler/bench-compile.ts [routes]`.
 */
import { compileSources, createIncrementalCompiler } from '../../compiler';
import { generateRepo } from './generate-repo';

const routes = Number(process.argv[2] ?? 10000);
const files = generateRepo({ routes, routesPerFile: 100, services: 50 });
const now = new Date('2026-06-01T00:00:00Z');
const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;
const bytes = files.reduce((n, f) => n + f.text.length, 0);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const full: number[] = [];
for (let i = 0; i < 5; i++) {
  const t = process.hrtime.bigint();
  const r = compileSources(files, now);
  full.push(ms(t));
  if (!r.ok) throw new Error(`generated repo does not compile: ${r.errors[0]?.message}`);
}
const inc = createIncrementalCompiler();
let t = process.hrtime.bigint();
inc.compileFiles(files, now);
const cold = ms(t);
const change: number[] = [];
const target = files.findIndex((f) => f.path.includes('routes/file-0003'));
for (let i = 0; i < 10; i++) {
  const f = files[target]!;
  const changed = { path: f.path, text: f.text.replace(/timeout: 5s/, `timeout: ${6 + i}s`) };
  t = process.hrtime.bigint();
  const stats = inc.update([changed]);
  const r = inc.compile(now);
  change.push(ms(t));
  if (!r.ok || stats.parsed !== 1) throw new Error('incremental compile failed');
}
/** A one-file change elsewhere: the shared rate-limit and access files touch many routes at once. */
function oneFileChange(path: string, edit: (text: string, i: number) => string): number[] {
  const f = files.find((x) => x.path === path)!;
  const out: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = process.hrtime.bigint();
    inc.update([{ path, text: edit(f.text, i) }]);
    const r = inc.compile(now);
    out.push(ms(t0));
    if (!r.ok) throw new Error(`${path}: ${r.errors[0]?.message}`);
  }
  inc.update([f]);
  return out;
}
const limitsChange = oneFileChange('policies/rate-limits.yaml', (t, i) => t.replace('requests: 100', `requests: ${101 + i}`));
const accessChange = oneFileChange('policies/access.yaml', (t, i) => t.replace('roles: [reader]', `roles: [reader, r${i}]`));
const recompile: number[] = [];
for (let i = 0; i < 5; i++) {
  t = process.hrtime.bigint();
  inc.compile(new Date(now.getTime() + i));
  recompile.push(ms(t));
}
console.log(`${routes} routes in ${files.length} files (${(bytes / 1048576).toFixed(1)} MiB), 3 environments`);
console.log(`full compile (compileSources):          median ${median(full).toFixed(0)} ms  [${full.map((x) => x.toFixed(0)).join(', ')}]`);
console.log(`incremental, cold:                      ${cold.toFixed(0)} ms`);
console.log(`incremental, one-file change:           median ${median(change).toFixed(1)} ms  [${change.map((x) => x.toFixed(0)).join(', ')}]`);
console.log(`  ... in rate-limits.yaml (200 limits):  median ${median(limitsChange).toFixed(1)} ms`);
console.log(`  ... in access.yaml (all routes' rules): median ${median(accessChange).toFixed(1)} ms`);
console.log(`incremental, no change (new now only):  median ${median(recompile).toFixed(1)} ms`);
