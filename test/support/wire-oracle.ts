/**
 * go-control-plane's bytes for a resource, as a reference for the xDS encoder: tools/envoy-descriptors/wire-oracle
 * (Go: go-control-plane's Envoy types, protojson.Unmarshal, deterministic proto.Marshal), run once
 * for a whole batch. Built into .tools/bin by setup.sh, or here on first use.
 */
import { execFileSync } from 'node:child_process';
import { buildGoTool } from '../../bench/go-tools';
import type { JsonValue } from '../../compiler/envoy/resources';

export interface OracleItem {
  /** Full message name, e.g. envoy.config.cluster.v3.Cluster. */
  readonly type: string;
  readonly json: JsonValue;
}

export type OracleResult = { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly error: string };

export function goMarshal(items: readonly OracleItem[]): OracleResult[] {
  const bin = buildGoTool({ name: 'wire-oracle', module: 'envoy-descriptors', pkg: './wire-oracle' });
  const out = execFileSync(bin, [], { input: JSON.stringify(items), maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' });
  const results = JSON.parse(out) as { bytes?: string; error?: string }[];
  if (results.length !== items.length) throw new Error(`wire-oracle answered ${results.length} items for ${items.length}`);
  return results.map((r) => (r.error ? { ok: false, error: r.error } : { ok: true, bytes: Buffer.from(r.bytes ?? '', 'base64') }));
}
