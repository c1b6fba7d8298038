import { TYPE_URL } from '../../compiler/envoy/resources';
import type { JsonObject, JsonValue } from '../../compiler/envoy/resources';
import { loadEnvoyApi } from '../../xds-server/descriptors';
import { createEncoder } from '../../xds-server/encode';
import { checkJson, decodeBoth } from '../support/proto-oracle';
import * as f from './fixtures';

const encoder = createEncoder(loadEnvoyApi());

function roundTrip(typeUrl: string, value: JsonObject): JsonValue {
  const out = encoder.encodeAny(typeUrl, value);
  if (!out.ok) throw new Error(JSON.stringify(out.errors, null, 2));
  const back = encoder.decodeMessage('google.protobuf.Any', out.value) as JsonObject;
  expect(back['@type']).toBe(typeUrl);
  const { '@type': _t, ...rest } = back;
  return rest;
}

/**
 * What comes back of `value`: the same JSON, less the proto3 default values (0, false, enum 0) of
 * fields without presence, which the encoder leaves off the wire as go-control-plane does — here
 * named by their paths (`a/0/b`), so that anything else lost would still fail the test.
 */
function lessDefaults(value: JsonObject, paths: readonly string[]): JsonObject {
  const copy = JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
  // A path segment `*` stands for every element or member.
  const drop = (o: Record<string, unknown>, keys: readonly string[]): void => {
    const [k, ...rest] = keys;
    const next = k === '*' ? Object.values(o) : [o[k!]];
    if (rest.length === 0) delete o[k!];
    else for (const n of next) drop(n as Record<string, unknown>, rest);
  };
  for (const p of paths) drop(copy, p.split('/'));
  return copy as JsonObject;
}

describe('encoder: real-looking resources round-trip', () => {
  test('listener with HCM, jwt_authn, rbac, local_ratelimit, router', () => {
    const value = f.listener('ingress', 'ingress-routes', 10000);
    const hcm = 'filter_chains/0/filters/0/typed_config';
    expect(roundTrip(TYPE_URL.listener, value)).toEqual(
      lessDefaults(value, [
        `${hcm}/codec_type`,
        `${hcm}/xff_num_trusted_hops`,
        `${hcm}/http_filters/0/typed_config/providers/corp/forward`,
        `${hcm}/http_filters/2/typed_config/filter_enabled/default_value/denominator`,
        `${hcm}/http_filters/2/typed_config/filter_enforced/default_value/denominator`,
        `${hcm}/http_filters/2/typed_config/local_rate_limit_per_downstream_connection`,
      ]),
    );
  });
  test('cluster with health checks, outlier detection, typed extension options and metadata', () => {
    const value = f.cluster('svc-a');
    const back = roundTrip(TYPE_URL.cluster, value) as JsonObject;
    // expected_statuses are uint64 (proto3 JSON: strings); everything else but the defaults comes back as given.
    expect(back).toEqual(lessDefaults(value, ['lb_policy', 'circuit_breakers/thresholds/0/priority']));
  });
  test('cluster load assignment and route configuration', () => {
    const cla = f.loadAssignment('svc-a', [9000, 9001]);
    expect(roundTrip(TYPE_URL.endpoint, cla)).toEqual(lessDefaults(cla, ['endpoints/0/priority']));
    const rc = f.routeConfig('rc', ['svc-a', 'svc-b'], 4, { 2: '1.500s' });
    const perRoute = 'virtual_hosts/0/routes/*/typed_per_filter_config/envoy.filters.http.local_ratelimit';
    expect(roundTrip(TYPE_URL.route, rc)).toEqual(lessDefaults(rc, [`${perRoute}/filter_enabled/default_value/denominator`, `${perRoute}/filter_enforced/default_value/denominator`]));
  });
});

describe('encoder: proto3 JSON mapping', () => {
  test('wrappers as bare values, uint64 as strings, enums by name or number, camelCase names', () => {
    const value: JsonObject = {
      name: 'c',
      connectTimeout: '1.000000500s',
      per_connection_buffer_limit_bytes: 0,
      lb_policy: 3, // RANDOM
      common_lb_config: { healthy_panic_threshold: { value: 12.5 }, ignore_new_hosts_until_first_hc: true },
      circuit_breakers: { thresholds: [{ max_connections: 4294967295, track_remaining: true }] },
      dns_refresh_rate: '-0.5s', // printed back canonically as -0.500s
    };
    const back = roundTrip(TYPE_URL.cluster, value) as JsonObject;
    expect(back['connect_timeout']).toBe('1.000000500s');
    expect(back['per_connection_buffer_limit_bytes']).toBe(0); // a wrapper holding 0 is still present
    expect(back['lb_policy']).toBe('RANDOM');
    expect(back['circuit_breakers']).toEqual({ thresholds: [{ max_connections: 4294967295, track_remaining: true }] });
    expect(back['dns_refresh_rate']).toBe('-0.500s');
    expect(back['common_lb_config']).toEqual({ healthy_panic_threshold: { value: 12.5 }, ignore_new_hosts_until_first_hc: true });
  });

  test('uint64 keeps all 64 bits; Struct keeps nulls, lists and nesting', () => {
    const cla: JsonObject = {
      cluster_name: 'x',
      endpoints: [
        {
          lb_endpoints: [
            {
              endpoint: { address: { socket_address: { address: '::1', port_value: 1 } } },
              metadata: { filter_metadata: { m: { a: null, b: [1, 'two', { c: false }], d: { e: 1.25 } } } },
            },
          ],
        },
      ],
      policy: { drop_overloads: [{ category: 'x', drop_percentage: { numerator: 1, denominator: 'MILLION' } }] },
    };
    expect(roundTrip(TYPE_URL.endpoint, cla)).toEqual(cla);
    const hc = encoder.encodeMessage('envoy.type.v3.Int64Range', { start: '-9223372036854775808', end: '9223372036854775807' });
    expect(hc.ok && encoder.decodeMessage('envoy.type.v3.Int64Range', hc.value)).toEqual({
      start: '-9223372036854775808',
      end: '9223372036854775807',
    });
    const big = encoder.encodeMessage('google.protobuf.UInt64Value', '18446744073709551615');
    expect(big.ok && encoder.decodeMessage('google.protobuf.UInt64Value', big.value)).toBe('18446744073709551615');
  });

  test('Any holding a well-known type uses "value"; equal JSON gives equal bytes whatever the key order', () => {
    const a = encoder.encodeMessage('google.protobuf.Any', { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' });
    expect(a.ok && encoder.decodeMessage('google.protobuf.Any', a.value)).toEqual({
      '@type': 'type.googleapis.com/google.protobuf.Duration',
      value: '2s',
    });
    const m1 = { filter_metadata: { z: { b: 1, a: 2 }, a: { x: 'y' } } };
    const m2 = { filter_metadata: { a: { x: 'y' }, z: { a: 2, b: 1 } } };
    const e1 = encoder.encodeMessage('envoy.config.core.v3.Metadata', m1);
    const e2 = encoder.encodeMessage('envoy.config.core.v3.Metadata', m2);
    expect(e1.ok && e2.ok).toBe(true);
    if (e1.ok && e2.ok) expect(Buffer.from(e1.value).equals(Buffer.from(e2.value))).toBe(true);
  });

  test('known wire bytes: Duration and a UInt32Value wrapper field', () => {
    // Cluster.name (1) "a", connect_timeout (4) {seconds 1, nanos 500000000}, per_connection_buffer_limit_bytes (5) {value 5}
    const out = encoder.encodeMessage('envoy.config.cluster.v3.Cluster', {
      name: 'a',
      connect_timeout: '1.5s',
      per_connection_buffer_limit_bytes: 5,
    });
    expect(out.ok && Buffer.from(out.value).toString('hex')).toBe('0a0161' + '2208' + '0801' + '1080cab5ee01' + '2a020805');
  });
});

describe('encoder: mistakes are reported with their path, never dropped', () => {
  const cases: [string, string, JsonObject, { path: string; message: RegExp }[]][] = [
    [
      'unknown field deep inside nested Any',
      TYPE_URL.listener,
      {
        name: 'l',
        filter_chains: [
          {
            filters: [
              {
                name: 'hcm',
                typed_config: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                  stat_prefix: 's',
                  http_filters: [
                    {
                      name: 'rl',
                      typed_config: {
                        '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
                        stat_prefix: 'x',
                        token_bucket: { max_tokens: 1, fill_interval: '1s', tokens_per_second: 3 },
                      },
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
      [
        {
          path: 'filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.token_bucket.tokens_per_second',
          message: /unknown field "tokens_per_second" in envoy.type.v3.TokenBucket/,
        },
      ],
    ],
    ['bad enum name', TYPE_URL.cluster, { name: 'c', lb_policy: 'FASTEST' }, [{ path: 'lb_policy', message: /unknown envoy.config.cluster.v3.Cluster.LbPolicy value "FASTEST"/ }]],
    ['two oneof members', TYPE_URL.cluster, { name: 'c', type: 'EDS', cluster_type: { name: 'x' } }, [{ path: '', message: /only one of type, cluster_type/ }]],
    [
      'unknown Any type',
      TYPE_URL.route,
      { name: 'r', typed_per_filter_config: { f: { '@type': 'type.googleapis.com/envoy.nope.v3.Nope' } } },
      [{ path: 'typed_per_filter_config.f.@type', message: /unknown type "type.googleapis.com\/envoy.nope.v3.Nope"/ }],
    ],
    ['wrapper given as an object', TYPE_URL.cluster, { name: 'c', per_connection_buffer_limit_bytes: { value: 5 } }, [{ path: 'per_connection_buffer_limit_bytes', message: /expected an integer/ }]],
    ['bad duration', TYPE_URL.cluster, { name: 'c', connect_timeout: '5 seconds' }, [{ path: 'connect_timeout', message: /expected a duration/ }]],
    ['uint32 out of range', TYPE_URL.endpoint, { cluster_name: 'c', policy: { overprovisioning_factor: -1 } }, [{ path: 'policy.overprovisioning_factor', message: /\[0, 4294967295\]/ }]],
    ['same field twice (snake and camel)', TYPE_URL.cluster, { name: 'c', lb_policy: 'RANDOM', lbPolicy: 'RANDOM' }, [{ path: 'lbPolicy', message: /given twice/ }]],
    ['string for a bool', TYPE_URL.cluster, { name: 'c', respect_dns_ttl: 'yes' }, [{ path: 'respect_dns_ttl', message: /expected true or false/ }]],
    ['outer @type', TYPE_URL.cluster, { '@type': TYPE_URL.cluster, name: 'c' }, [{ path: '@type', message: /without its outer/ }]],
  ];
  test.each(cases)('%s', (_name, typeUrl, value, expected) => {
    const out = encoder.encodeAny(typeUrl, value);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.errors).toHaveLength(expected.length);
    out.errors.forEach((e, i) => {
      expect(e.path).toBe(expected[i]!.path);
      expect(e.message).toMatch(expected[i]!.message);
    });
  });

  test('every mistake is collected at once', () => {
    const out = encoder.encodeAny(TYPE_URL.cluster, { name: 'c', bogus: 1, lb_policy: 'X', connect_timeout: 3 });
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.errors.map((e) => e.path)).toEqual(['bogus', 'connect_timeout', 'lb_policy']); // unknown keys first, then by field number
  });
});

describe('encoder checked by an independent implementation (@bufbuild/protobuf)', () => {
  // Each value exercises one part of the codec: well-known types, wrappers, 64-bit integers, packed
  // enums, maps, Struct, nested Any. Our bytes must decode (by the oracle) to what the JSON says.
  const cases: [string, string, JsonObject][] = [
    ['durations, wrappers, enums by number', 'envoy.config.cluster.v3.Cluster', {
      name: 'c', connect_timeout: '1.000000500s', dns_refresh_rate: '-0.5s', lb_policy: 3, per_connection_buffer_limit_bytes: 0,
      common_lb_config: { healthy_panic_threshold: { value: 12.5 } },
    }],
    ['uint64 ranges, packed repeated values', 'envoy.config.core.v3.HealthCheck', {
      timeout: '1s', interval: '5s', unhealthy_threshold: 3, healthy_threshold: 2,
      http_health_check: { path: '/h', expected_statuses: [{ start: '200', end: '300' }], codec_client_type: 'HTTP2' },
    }],
    ['Struct with nulls, lists and nesting; maps', 'envoy.config.endpoint.v3.ClusterLoadAssignment', {
      cluster_name: 'x',
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '::1', port_value: 1 } } }, metadata: { filter_metadata: { m: { a: null, b: [1, 'two', { c: false }], d: { e: 1.25 } } } } }] }],
      policy: { drop_overloads: [{ category: 'x', drop_percentage: { numerator: 1, denominator: 'MILLION' } }] },
    }],
    ['real listener: nested Any, typed configs', 'envoy.config.listener.v3.Listener', f.listener('ingress', 'ingress-routes', 10000)],
    ['real route configuration: typed_per_filter_config maps', 'envoy.config.route.v3.RouteConfiguration', f.routeConfig('rc', ['a', 'b'], 3, { 1: '2.5s' })],
  ];

  test.each(cases)('%s', (_label, typeName, value) => {
    expect(checkJson(typeName, value, typeName)).toEqual([]);
    const out = encoder.encodeMessage(typeName, value);
    if (!out.ok) throw new Error(JSON.stringify(out.errors));
    const { expected, actual } = decodeBoth(typeName, value, out.value);
    expect(actual).toEqual(expected);
  });
});

describe('encoder: a large resource encoded in steps (warmAny, for publication slices)', () => {
  const resources = (): [string, JsonObject][] => {
    const r = f.fleetResources();
    return [
      [TYPE_URL.listener, r.listeners[0]!.value],
      [TYPE_URL.cluster, r.clusters[0]!.value],
      [TYPE_URL.endpoint, r.endpoints[0]!.value],
      [TYPE_URL.route, f.routeConfig('rc', ['svc-a', 'svc-b'], 40, { 2: '1.500s' })],
    ];
  };

  test('steps first, then encodeAny: the same bytes as encodeAny alone, and one step per element', () => {
    for (const [typeUrl, value] of resources()) {
      const direct = createEncoder(loadEnvoyApi()).encodeAny(typeUrl, value);
      const stepped = createEncoder(loadEnvoyApi());
      const steps = [...stepped.warmAny(typeUrl, value)].length;
      const out = stepped.encodeAny(typeUrl, value);
      if (!direct.ok || !out.ok) throw new Error('encode failed');
      expect(Buffer.from(out.value).equals(Buffer.from(direct.value))).toBe(true);
      // A route configuration: at least one step per route (each route's elements are steps too).
      if (typeUrl === TYPE_URL.route) expect(steps).toBeGreaterThanOrEqual(40);
      // Warmed again: every element is known by identity, nothing left to do.
      expect([...stepped.warmAny(typeUrl, value)]).toHaveLength(0);
    }
  });

  test('a mistake inside a warmed element is reported by encodeAny with its whole path', () => {
    const rc = f.routeConfig('rc', ['svc-a'], 20, { 3: 'soon' });
    const e = createEncoder(loadEnvoyApi());
    expect([...e.warmAny(TYPE_URL.route, rc)].length).toBeGreaterThan(0);
    const out = e.encodeAny(TYPE_URL.route, rc);
    expect(out.ok).toBe(false);
    expect(!out.ok && out.errors.map((x) => x.path)).toEqual(['virtual_hosts[0].routes[3].route.timeout']);
  });
});
