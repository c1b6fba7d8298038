import { TYPE_URL } from '../../compiler/envoy/resources';
import { loadEnvoyApi } from '../../xds-server/descriptors';
import { createEncoder } from '../../xds-server/encode';
import { EncodeCache } from '../../xds-server/snapshot';
import { createAdsCodec, DELTA_METHOD, deltaFrame, FLEET_METADATA_KEY, SOTW_METHOD, sotwFrame } from '../../xds-server/wire';

const root = loadEnvoyApi();
const codec = createAdsCodec(root);
const encoder = createEncoder(root);

test('the method paths the server serves match the ADS service in the descriptors', () => {
  const svc = root.lookupService('envoy.service.discovery.v3.AggregatedDiscoveryService');
  expect(`/${svc.fullName.slice(1)}/${svc.methods['StreamAggregatedResources']!.name}`).toBe(SOTW_METHOD);
  expect(`/${svc.fullName.slice(1)}/${svc.methods['DeltaAggregatedResources']!.name}`).toBe(DELTA_METHOD);
  expect(Object.keys(svc.methods).sort()).toEqual(['DeltaAggregatedResources', 'StreamAggregatedResources']);
});

test('hand-written SotW response frames decode, with the standard message type, to what was meant', () => {
  const any = encoder.encodeAny(TYPE_URL.cluster, { name: 'a', connect_timeout: '1s' });
  if (!any.ok) throw new Error('encode');
  const frame = sotwFrame('v1', [any.value, any.value], { typeUrl: TYPE_URL.cluster, nonce: 'n7', controlPlane: 'cp-1' });
  expect(frame.nonce).toBe('n7');
  // The gRPC prefix: uncompressed, then the message length (big-endian).
  expect(frame.bytes[0]).toBe(0);
  expect(frame.bytes.readUInt32BE(1)).toBe(frame.bytes.length - 5);
  expect(frame.message.buffer).toBe(frame.bytes.buffer); // a view, not a copy
  const decoded = encoder.decodeMessage('envoy.service.discovery.v3.DiscoveryResponse', frame.message);
  expect(decoded).toEqual({
    version_info: 'v1',
    resources: [
      { '@type': TYPE_URL.cluster, name: 'a', connect_timeout: '1s' },
      { '@type': TYPE_URL.cluster, name: 'a', connect_timeout: '1s' },
    ],
    type_url: TYPE_URL.cluster,
    nonce: 'n7',
    control_plane: { identifier: 'cp-1' },
  });
});

test('hand-written delta response frames decode to Resource entries and removed names', () => {
  const cache = new EncodeCache(encoder);
  const enc = cache.encode('route', { name: 'r', version: 'x1', value: { name: 'r' } });
  if (!enc.ok) throw new Error('encode');
  const frame = deltaFrame('sv', [enc.value.delta], ['gone-1', 'gone-2'], { typeUrl: TYPE_URL.route, nonce: '3' });
  expect(frame.bytes.readUInt32BE(1)).toBe(frame.bytes.length - 5);
  expect(encoder.decodeMessage('envoy.service.discovery.v3.DeltaDiscoveryResponse', frame.message)).toEqual({
    system_version_info: 'sv',
    resources: [{ name: 'r', version: 'x1', resource: { '@type': TYPE_URL.route, name: 'r' } }],
    type_url: TYPE_URL.route,
    nonce: '3',
    removed_resources: ['gone-1', 'gone-2'],
  });
});

test('requests decode from the standard message types (node, names, nonce, error_detail, initial versions)', () => {
  const req = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const sotw = codec.decodeRequest(
    req.encode({
      version_info: 'v0',
      node: { id: 'n1', cluster: 'edge', user_agent_name: 'envoy', user_agent_build_version: { version: { major_number: 1, minor_number: 40, patch: 2 } } },
      resource_names: ['a', 'b'],
      type_url: TYPE_URL.route,
      response_nonce: '9',
      error_detail: { code: 3, message: 'bad route' },
    }).finish(),
  );
  expect(sotw).toEqual({
    versionInfo: 'v0',
    node: { id: 'n1', cluster: 'edge', userAgentName: 'envoy', userAgentVersion: '1.40.2' },
    resourceNames: ['a', 'b'],
    typeUrl: TYPE_URL.route,
    responseNonce: '9',
    errorDetail: { code: 3, message: 'bad route' },
  });
  const dreq = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const delta = codec.decodeDeltaRequest(
    dreq.encode({
      type_url: TYPE_URL.cluster,
      resource_names_subscribe: ['*'],
      resource_names_unsubscribe: ['old'],
      initial_resource_versions: [{ key: 'a', value: '1' }],
    }).finish(),
  );
  expect(delta).toMatchObject({ node: null, typeUrl: TYPE_URL.cluster, resourceNamesSubscribe: ['*'], resourceNamesUnsubscribe: ['old'], responseNonce: '', errorDetail: null });
  expect([...delta.initialResourceVersions]).toEqual([['a', '1']]);
});

test('a node without node.cluster names its fleet in metadata portcullis.fleet (the rate-limit service); node.cluster wins', () => {
  const req = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const decode = (node: object) => codec.decodeRequest(req.encode(req.fromObject({ node, type_url: TYPE_URL.ratelimit })).finish()).node;
  const metadata = { fields: [{ key: FLEET_METADATA_KEY, value: { string_value: 'edge-prod' } }] };
  expect(decode({ id: 'ratelimit-1', metadata })?.cluster).toBe('edge-prod');
  expect(decode({ id: 'envoy-1', cluster: 'edge-eu', metadata })?.cluster).toBe('edge-eu');
  expect(decode({ id: 'other', metadata: { fields: [{ key: 'x', value: { string_value: 'edge-prod' } }] } })?.cluster).toBe('');
});
