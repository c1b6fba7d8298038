/**
 * `npm run bench` (Envoy validation part): the cost of the control server's last line of defence,
 * `envoy --mode validate` on every fleet's rendered configuration before a snapshot is published
 * (docs/benchmarks.md). Measured for the bundled policies/ and a generated 1,000-route repository:
 * a fresh configuration (Envoy runs, all fleets at once) and a cached one (same content again).
 * Run from the repository root (it reads ./policies).
 */
import * as path from 'node:path';
import { compileSources } from '../../compiler';
import { translateEnvironment } from '../../compiler/envoy';
import type { EnvoyResources } from '../../compiler/envoy/resources';
import type { PolicyIR } from '../../compiler/ir/ir';
import type { Result } from '../../compiler/result';
import { compileDirectory } from '../../sources';
import { EnvoyValidator, findEnvoyBinary } from '../../xds-server/envoy-validate';
import { generateRepository } from '../compile/generate';

const NOW = new Date('2026-11-27T00:00:00Z');
const ROUNDS = Number(process.env.BENCH_VALIDATE_ROUNDS ?? 5);

function fleetsOf(ir: Result<PolicyIR>): Map<string, EnvoyResources> {
  if (!ir.ok) throw new Error(`does not compile: ${JSON.stringify(ir.errors.slice(0, 3))}`);
  const out = new Map<string, EnvoyResources>();
  for (const env of ir.value.environments) for (const fleet of env.fleets) out.set(fleet, translateEnvironment(env, fleet));
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function measure(label: string, fleets: Map<string, EnvoyResources>, binary: string): Promise<void> {
  const fresh: number[] = [];
  const cached: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const validator = new EnvoyValidator({ binary }); // a fresh cache: Envoy runs for every fleet
    let start = process.hrtime.bigint();
    const verdicts = await validator.validateAll(fleets);
    fresh.push(Number(process.hrtime.bigint() - start) / 1e6);
    const bad = verdicts.filter((v) => v.result !== 'ok');
    if (bad.length > 0) throw new Error(`${label}: ${JSON.stringify(bad)}`);
    start = process.hrtime.bigint();
    await validator.validateAll(fleets);
    cached.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const routes = [...fleets.values()].reduce((n, f) => n + f.routes.reduce((m, r) => m + JSON.stringify(r.value).split('"match"').length - 1, 0), 0);
  console.log(
    `${label}: ${fleets.size} fleet(s), ${routes} Envoy routes in all: per publish ${median(fresh).toFixed(0)} ms median (min ${Math.min(...fresh).toFixed(0)}, max ${Math.max(...fresh).toFixed(0)}) ` +
      `when Envoy runs, ${median(cached).toFixed(2)} ms when cached; ${ROUNDS} rounds`,
  );
}

async function main(): Promise<void> {
  const binary = findEnvoyBinary();
  if (!binary) throw new Error('no Envoy binary (ENVOY_BIN or envoy on PATH): run `bash scripts/setup.sh`');
  await measure('bundled policies/', fleetsOf(await compileDirectory(path.resolve('policies'), NOW)), binary);
  await measure('1,000 routes', fleetsOf(compileSources(generateRepository({ routes: 1000 }).files, NOW)), binary);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
