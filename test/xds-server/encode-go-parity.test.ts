/**
 * The encoder writes go-control-plane's bytes (issue 14 item 4): every resource of the Envoy golden
 * files (test/testdata/envoy/*.out.yaml), encoded by xds-server/encode.ts, is byte for byte what
 * protobuf-go's deterministic proto.Marshal writes for the same proto3 JSON read by protojson into
 * go-control-plane's generated types (tools/envoy-descriptors/wire-oracle). Both write plain fields by number, then
 * oneof members, and map entries by key, so the bytes compare directly. Then the presence rules.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { TYPE_URL, type EnvoyResources, type JsonValue, type XdsKind } from '../../compiler/envoy/resources';
import { loadEnvoyApi } from '../../xds-server/descriptors';
import { createEncoder } from '../../xds-server/encode';
import { DESCRIPTORS } from '../support/proto-oracle';
import { goMarshal, type OracleItem } from '../support/wire-oracle';

const DIR = join(__dirname, '../testdata/envoy');
const LISTS: Record<XdsKind, keyof EnvoyResources> = { cluster: 'clusters', endpoint: 'endpoints', listener: 'listeners', route: 'routes', scope: 'scopes', ratelimit: 'rateLimitConfigs' };
const encoder = createEncoder(loadEnvoyApi(DESCRIPTORS));

interface Case extends OracleItem {
  readonly label: string;
}

function goldenResources(): Case[] {
  const out: Case[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.out.yaml')).sort()) {
    const doc = YAML.parse(readFileSync(join(DIR, file), 'utf8')) as EnvoyResources | EnvoyResources[];
    for (const fleet of Array.isArray(doc) ? doc : [doc]) {
      for (const kind of Object.keys(LISTS) as XdsKind[]) {
        for (const r of fleet[LISTS[kind]] as EnvoyResources['clusters']) {
          out.push({ label: `${file} ${fleet.fleet}/${kind}/${r.name}`, type: TYPE_URL[kind].replace('type.googleapis.com/', ''), json: r.value });
        }
      }
    }
  }
  return out;
}

function ours(c: OracleItem): Buffer {
  const r = encoder.encodeMessage(c.type, c.json);
  if (!r.ok) throw new Error(`${c.type}: ${JSON.stringify(r.errors)}`);
  return Buffer.from(r.value);
}

/** Where two encodings part, for a readable failure: the label, the offset and 16 bytes of each. */
function differences(cases: readonly Case[]): string[] {
  const go = goMarshal(cases);
  const problems: string[] = [];
  cases.forEach((c, i) => {
    const theirs = go[i]!;
    if (!theirs.ok) {
      problems.push(`${c.label}: go-control-plane refused it: ${theirs.error}`);
      return;
    }
    const mine = ours(c);
    if (mine.equals(theirs.bytes)) return;
    let at = 0;
    while (at < mine.length && mine[at] === theirs.bytes[at]) at++;
    const hex = (b: Buffer): string => b.subarray(at, at + 16).toString('hex');
    problems.push(`${c.label}: ${mine.length} bytes vs go-control-plane's ${theirs.bytes.length}, first difference at ${at}: ${hex(mine)} vs ${hex(theirs.bytes)}`);
  });
  return problems;
}

test('every golden resource: our bytes are go-control-plane\'s bytes', () => {
  const cases = goldenResources();
  expect(cases.length).toBeGreaterThan(50);
  expect(differences(cases)).toEqual([]);
}, 120_000);

describe('proto3 presence, field by field, against go-control-plane', () => {
  const rbac = 'envoy.config.rbac.v3.RBAC';
  const cluster = 'envoy.config.cluster.v3.Cluster';
  // hex: our exact bytes, where short enough to write down.
  const cases: (Case & { readonly hex?: string })[] = [
    // action is an enum without presence: ALLOW (0) is not written, DENY (1) is.
    { label: 'RBAC.action ALLOW', type: rbac, json: { action: 'ALLOW' }, hex: '' },
    { label: 'RBAC.action DENY', type: rbac, json: { action: 'DENY' }, hex: '0801' },
    // Scalars at their default: "", false, 0, "0" (64-bit) are not written.
    { label: 'default scalars', type: cluster, json: { name: '', ignore_health_on_host_removal: false, lb_policy: 'ROUND_ROBIN' }, hex: '' },
    { label: 'int64 zero', type: 'envoy.type.v3.Int64Range', json: { start: '0', end: '-0' }, hex: '' },
    // A wrapper is a message: present with an empty body when it holds its default.
    { label: 'UInt32Value 0', type: cluster, json: { per_connection_buffer_limit_bytes: 0 }, hex: '2a00' },
    { label: 'BoolValue false', type: 'envoy.config.route.v3.RouteConfiguration', json: { validate_clusters: false }, hex: '3a00' },
    { label: 'plain bool false', type: 'envoy.config.route.v3.VirtualHost', json: { include_request_attempt_count: false }, hex: '' },
    // A oneof member is present whatever it holds.
    { label: 'oneof member ""', type: 'envoy.config.route.v3.RouteMatch', json: { prefix: '' }, hex: '0a00' },
    // An Any of a message with no fields set has a type_url and no value.
    { label: 'Any of an empty Router', type: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', json: { name: 'r', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }, hex: `0a017222440a42${Buffer.from('type.googleapis.com/envoy.extensions.filters.http.router.v3.Router').toString('hex')}` },
    // An empty packed list writes nothing; -0.0 keeps its sign bit, so it is not the default.
    { label: 'empty packed list', type: 'envoy.config.route.v3.RetryPolicy', json: { retriable_status_codes: [] }, hex: '' },
    { label: 'negative zero', type: 'envoy.type.v3.Percent', json: { value: '-0' }, hex: '090000000000000080' },
    // A map entry is written in full, its value at the default included; entries by key.
    { label: 'map entry with ""', type: 'envoy.service.discovery.v3.DeltaDiscoveryRequest', json: { initial_resource_versions: { b: '', a: 'v' } }, hex: '2a060a01611201762a050a01621200' },
    // google.protobuf.Value's kind is a oneof: null and false are written.
    { label: 'Struct with null and false', type: 'envoy.config.core.v3.Metadata', json: { filter_metadata: { m: { a: null, b: false } } } },
  ];

  test.each(cases)('$label', (c) => {
    expect(differences([c])).toEqual([]);
    if (c.hex !== undefined) expect(ours(c).toString('hex')).toBe(c.hex);
  });

  test('a wrapper holding its default is an empty message, not an absent one', () => {
    expect(ours({ type: 'google.protobuf.BoolValue', json: false }).length).toBe(0);
    const back = encoder.decodeMessage(cluster, ours({ type: cluster, json: { per_connection_buffer_limit_bytes: 0 } })) as Record<string, JsonValue>;
    expect(back['per_connection_buffer_limit_bytes']).toBe(0);
  });
});
