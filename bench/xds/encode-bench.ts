/**
 * `npm run bench` (encoder part): the xDS server's own JSON → protobuf encoder (xds-server/encode.ts)
 * against @bufbuild/protobuf (fromJson + toBinary with the same Envoy 1.40 descriptors) on the
 * resources of a generated policy repository of 1,000 and 10,000 routes: what one publication
 * encodes. Reports the median of several runs per encoder, and checks both produce messages of the
 * same size class (they differ only in explicit proto3 defaults, which ours writes).
 */
import { readFileSync } from 'node:fs';
import { createFileRegistry, fromBinary, fromJson, toBinary, type JsonValue as BufJson } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { compileSources } from '../../compiler';
import { translatePolicy } from '../../compiler/envoy';
import { TYPE_URL, type EnvoyResources, type XdsKind } from '../../compiler/envoy/resources';
import { loadEnvoyApi } from '../../xds-server/descriptors';
import { createEncoder } from '../../xds-server/encode';
import { generateRepository } from '../compile/generate';

const NOW = new Date('2026-11-27T00:00:00Z');
const KINDS: readonly XdsKind[] = ['cluster', 'endpoint', 'listener', 'route'];
const LISTS = { cluster: 'clusters', endpoint: 'endpoints', listener: 'listeners', route: 'routes', scope: 'scopes', ratelimit: 'rateLimitConfigs' } as const;

function resourcesOf(routes: number): { typeName: string; json: unknown }[] {
  const compiled = compileSources(generateRepository({ routes }).files, NOW);
  if (!compiled.ok) throw new Error('generated repository does not compile');
  const out: { typeName: string; json: unknown }[] = [];
  for (const fleet of translatePolicy(compiled.value) as EnvoyResources[]) {
    for (const kind of KINDS) for (const r of fleet[LISTS[kind]]) out.push({ typeName: TYPE_URL[kind].replace(/^type\.googleapis\.com\//, ''), json: r.value });
  }
  return out;
}

function bufbuildRegistry(file: string) {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(file));
  const byName = new Map(set.file.map((f) => [f.name, f]));
  const ordered: typeof set.file = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name) || !byName.has(name)) return;
    seen.add(name);
    byName.get(name)!.dependency.forEach(visit);
    ordered.push(byName.get(name)!);
  };
  set.file.forEach((f) => visit(f.name));
  set.file = ordered;
  return createFileRegistry(set);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(runs: number, fn: () => number): { ms: number; bytes: number } {
  let bytes = 0;
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    bytes = fn();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { ms: median(samples), bytes };
}

function main(): void {
  const file = process.env['ENVOY_DESCRIPTORS'];
  if (!file) throw new Error('ENVOY_DESCRIPTORS is not set: source scripts/env.sh');
  const root = loadEnvoyApi(file);
  const ours = createEncoder(root);
  const registry = bufbuildRegistry(file);
  console.log('routes  resources  encoder            median ms  bytes');
  for (const routes of [1000, 10_000]) {
    const resources = resourcesOf(routes);
    const runs = routes > 1000 ? 5 : 15;
    // Cold: a fresh encoder each run (no bytes reused from an earlier run), as for a first
    // publication; warm: one encoder, as when unchanged objects come back in the next publication.
    const encodeAll = (enc: typeof ours): number => {
      let n = 0;
      for (const r of resources) {
        const e = enc.encodeMessage(r.typeName, r.json as never);
        if (!e.ok) throw new Error(`ours refused ${r.typeName}`);
        n += e.value.length;
      }
      return n;
    };
    const cold = time(runs, () => encodeAll(createEncoder(root)));
    const a = time(runs, () => encodeAll(ours));
    const b = time(runs, () => {
      let n = 0;
      for (const r of resources) {
        const schema = registry.getMessage(r.typeName)!;
        n += toBinary(schema, fromJson(schema, r.json as BufJson, { registry }), { writeUnknownFields: false }).length;
      }
      return n;
    });
    console.log(`${String(routes).padStart(6)}  ${String(resources.length).padStart(9)}  portcullis, cold   ${cold.ms.toFixed(1).padStart(9)}  ${cold.bytes}`);
    console.log(`${String(routes).padStart(6)}  ${String(resources.length).padStart(9)}  portcullis, warm   ${a.ms.toFixed(1).padStart(9)}  ${a.bytes}`);
    console.log(`${String(routes).padStart(6)}  ${String(resources.length).padStart(9)}  @bufbuild/protobuf ${b.ms.toFixed(1).padStart(9)}  ${b.bytes}`);
    console.log(`        @bufbuild/protobuf takes ${(b.ms / cold.ms).toFixed(1)}× the time of ours cold`);
  }
}

main();
