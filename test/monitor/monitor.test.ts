/**
 * The monitor edge: ALS decoding (and refusing hostile input), the gRPC receiver on the control
 * server's port, bounded series, keyed trigger evaluation posted to an Alertmanager-shaped server,
 * and the /monitor HTTP API.
 */
import * as grpc from '@grpc/grpc-js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { accessEntry, encodeAlsMessage } from '../../bench/monitor/als-encode';
import { decodeAlsMessage } from '../../monitor/als-decode';
import { ALS_SERVICE_PATH } from '../../monitor/als-service';
import { monitorRoutes } from '../../monitor/http-api';
import { createMonitor, type Monitor } from '../../monitor/monitor';
import { startHarness, type Harness } from '../xds/harness';
import { policy, T0 } from './policy';

const IDENTIFIER = { nodeId: 'envoy-1', cluster: 'edge-prod', logName: 'portcullis/prod' };

describe('decoding', () => {
  test('round trip of the fields the monitor reads', () => {
    const e = accessEntry({ startMs: T0 + 123, route: 'login', status: 401, details: 'jwt_authn_access_denied{Jwt_is_missing}', clientIp: '203.0.113.7', sub: 'u1', jti: 'j1', clientId: 'c1' });
    const m = decodeAlsMessage(encodeAlsMessage([e], IDENTIFIER), 10);
    expect(m.identifier).toEqual(IDENTIFIER);
    expect(m.entries).toEqual([e]);
  });

  test('fields the monitor does not read are skipped, whatever their wire type (a real Envoy node is ~60 KB)', () => {
    const e = accessEntry({ startMs: T0, route: 'login', status: 200 });
    const known = encodeAlsMessage([e], IDENTIFIER);
    // Unknown fields before the known ones: length-delimited (field 9), varint (15), fixed64 (20), fixed32 (21).
    const unknown = Buffer.from([0x4a, 0x03, 0x61, 0x62, 0x63, 0x78, 0x96, 0x01, 0xa1, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0xad, 0x01, 1, 2, 3, 4]);
    expect(decodeAlsMessage(Buffer.concat([unknown, known]), 10)).toEqual({ identifier: IDENTIFIER, entries: [e] });
  });

  test('garbage, truncation and oversized batches are refused', () => {
    expect(() => decodeAlsMessage(Buffer.from([0x12, 0xff, 0xff, 0xff, 0x0f]), 10)).toThrow('length past the end');
    expect(() => decodeAlsMessage(Buffer.from([0x0f]), 10)).toThrow('unsupported wire type');
    const many = Array.from({ length: 11 }, (_, i) => accessEntry({ startMs: T0 + i }));
    expect(() => decodeAlsMessage(encodeAlsMessage(many), 10)).toThrow('more than 10 entries');
  });
});

describe('receiver, metrics and alerts', () => {
  let harness: Harness;
  let monitor: Monitor;
  let clock = T0;
  let alertmanager: Server;
  const posted: unknown[][] = [];
  let client: grpc.Client;

  beforeAll(async () => {
    alertmanager = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url === '/api/v2/alerts' && req.method === 'POST') posted.push(JSON.parse(body) as unknown[]);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => alertmanager.listen(0, '127.0.0.1', resolve));
    const registry = new Registry();
    monitor = createMonitor({
      registry,
      logger: pino({ level: 'silent' }),
      alertmanager: { url: `http://127.0.0.1:${(alertmanager.address() as AddressInfo).port}` },
      prometheusUrl: 'http://prometheus.test:9090',
      now: () => clock,
    });
    monitor.setPolicy(policy());
    harness = await startHarness({ registry, services: [monitor.grpcService] });
    client = new grpc.Client(`127.0.0.1:${harness.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await harness.close();
    await new Promise((resolve) => alertmanager.close(resolve));
  });

  /** Sends messages on one ALS stream and waits for the server to end it. */
  function stream(messages: readonly Buffer[]): Promise<grpc.ServiceError | null> {
    return new Promise((resolve) => {
      const call = client.makeClientStreamRequest(ALS_SERVICE_PATH, (b: Buffer) => b, (b: Buffer) => b, new grpc.Metadata(), {}, (err) => resolve(err ?? null));
      for (const m of messages) call.write(m);
      call.end();
    });
  }

  test('entries are counted by route, status class and cause; unknown nodes and garbage are dropped with a counter', async () => {
    const attack = Array.from({ length: 40 }, (_, i) => accessEntry({ startMs: clock - 500, route: 'login', status: 401, details: 'via_upstream', clientIp: `203.0.113.${i + 1}` }));
    const normal = Array.from({ length: 30 }, (_, i) => accessEntry({ startMs: clock - 500, route: 'login', status: i % 3 ? 200 : 401, clientIp: `198.18.${i}.9` }));
    const denied = [accessEntry({ startMs: clock - 400, route: 'home', status: 401, details: 'jwt_authn_access_denied{Jwt_is_missing}' })];
    expect(await stream([encodeAlsMessage(attack.slice(0, 20), IDENTIFIER), encodeAlsMessage([...attack.slice(20), ...normal, ...denied])])).toBeNull();
    expect(await harness.metric('portcullis_route_responses_total', { route: 'login', code_class: '4xx', cause: 'upstream' })).toBe(50);
    expect(await harness.metric('portcullis_route_responses_total', { route: 'home', code_class: '4xx', cause: 'jwt', fleet: 'edge-prod' })).toBe(1);

    expect(await stream([encodeAlsMessage(attack, { ...IDENTIFIER, cluster: 'edge-unknown' })])).toBeNull();
    expect(await harness.metric('portcullis_monitor_entries_total', { result: 'unknown_node' })).toBe(40);
    const refused = await stream([encodeAlsMessage(attack, IDENTIFIER), Buffer.from('not a protobuf message at all')]);
    expect(refused?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await harness.metric('portcullis_monitor_messages_total', { result: 'malformed' })).toBe(1);
  });

  test('a /24 above the rate fires one alert with the contract labels, and resolves when it stops', async () => {
    posted.length = 0;
    await monitor.evaluate();
    expect(posted).toHaveLength(1);
    const [alert] = posted[0] as Record<string, Record<string, string> | string>[];
    expect(alert?.labels).toEqual({
      alertname: 'PortcullisTrigger',
      trigger: 'login-stuffing',
      environment: 'prod',
      severity: 'critical',
      key_type: 'clientNetwork',
      key: '203.0.113.0/24',
      route: 'login',
      incident: 'login-stuffing/prod/203.0.113.0/24',
    });
    const annotations = alert?.annotations as Record<string, string>;
    // 40 from the first stream and 40 more from the stream cut by garbage (its first message counted).
    expect(annotations.value).toBe('80');
    expect(annotations.threshold).toBe('30');
    expect(annotations.window).toBe('1m');
    expect(annotations.summary).toBe('login-stuffing: 80 matching responses from network 203.0.113.0/24 on login in 1m (threshold 30) in prod');
    expect(JSON.parse(annotations.evidence as string)).toEqual({
      window: '1m',
      total: 110,
      matched: 90,
      top: [
        { key: '203.0.113.0/24', count: 80, share: 0.8889 },
        { key: '198.18.0.0/24', count: 1, share: 0.0111 },
        { key: '198.18.12.0/24', count: 1, share: 0.0111 },
        { key: '198.18.15.0/24', count: 1, share: 0.0111 },
        { key: '198.18.18.0/24', count: 1, share: 0.0111 },
      ],
      routes: [{ route: 'login', count: 90 }],
      warmingUp: false,
    });
    expect(annotations.graph_url).toMatch(/^http:\/\/prometheus\.test:9090\/graph\?g0\.expr=/);
    expect(Date.parse(alert?.endsAt as string)).toBeGreaterThan(clock);

    await monitor.evaluate(); // within the resend period: nothing new
    expect(posted).toHaveLength(1);
    clock += 61_000;
    await monitor.evaluate();
    expect(posted).toHaveLength(2);
    const [resolved] = posted[1] as Record<string, unknown>[];
    expect((resolved?.labels as Record<string, string>).incident).toBe('login-stuffing/prod/203.0.113.0/24');
    expect(resolved?.endsAt).toBe(new Date(clock).toISOString());
  });

  test('/monitor/top and /monitor/blast-radius answer from the counts kept', async () => {
    clock = T0;
    const routes = monitorRoutes(monitor, 300_000, () => clock);
    const server = createServer((req, res) => {
      if (!routes(req, res, new URL(req.url ?? '/', 'http://x'))) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const top = await (await fetch(`${base}/monitor/top?environment=prod&route=login&by=clientNetwork&window=5m&limit=2`)).json();
      expect(top).toEqual({ window: '5m', total: 110, top: [{ key: '203.0.113.0/24', count: 80, share: 0.7273 }, { key: '198.18.0.0/24', count: 1, share: 0.0091 }] });
      const blast = await (await fetch(`${base}/monitor/blast-radius?environment=prod&network=203.0.113.0/24&window=5m`)).json();
      expect(blast).toEqual({ window: '5m', requests: 80, clients: 40, byStatus: { '401': 80 }, withValidToken: { requests: 0, clients: 0 }, byRoute: [{ route: 'login', requests: 80 }] });
      expect((await fetch(`${base}/monitor/top?environment=nope`)).status).toBe(400);
      expect((await fetch(`${base}/monitor/top?environment=prod&by=email`)).status).toBe(400);
      expect((await fetch(`${base}/monitor/blast-radius?environment=prod&ip=1.2.3.4&sub=x`)).status).toBe(400);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('hostile streams: an oversized batch, a message over 16 MiB, no node, times outside the windows — dropped and counted', async () => {
    clock = T0;
    const before = await harness.metric('portcullis_route_responses_total');
    const many = Array.from({ length: 10_001 }, (_, i) => accessEntry({ startMs: clock, route: 'login', status: 401, clientIp: `192.0.2.${i % 250}` }));
    expect((await stream([encodeAlsMessage(many, IDENTIFIER)]))?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await harness.metric('portcullis_monitor_messages_total', { result: 'too_many_entries' })).toBe(1);
    expect((await stream([Buffer.alloc(17 * 1024 * 1024, 0x0a)]))?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await harness.metric('portcullis_route_responses_total')).toBe(before);

    // No identifier on the stream's first message: its entries are dropped, the stream is kept.
    const unknown = await harness.metric('portcullis_monitor_entries_total', { result: 'unknown_node' });
    expect(await stream([encodeAlsMessage([accessEntry({ startMs: clock })]), encodeAlsMessage([accessEntry({ startMs: clock }), accessEntry({ startMs: clock })])])).toBeNull();
    expect(await harness.metric('portcullis_monitor_entries_total', { result: 'unknown_node' })).toBe(unknown + 3);

    // An hour old or an hour ahead: counted in the route series, never in a window.
    const skewed = [clock - 3_600_000, clock + 3_600_000].map((startMs) => accessEntry({ startMs, route: 'login', status: 401, clientIp: '198.51.100.9' }));
    expect(await stream([encodeAlsMessage(skewed, IDENTIFIER)])).toBeNull();
    expect(await harness.metric('portcullis_monitor_entries_total', { result: 'out_of_window' })).toBe(2);
    expect(monitor.environment('prod')?.top('login', 'clientIp', 300_000, 100, clock).top.some((t) => t.key === '198.51.100.9')).toBe(false);
  });

  test('memory stays bounded: 200,000 distinct addresses and tokens over 5 minutes hold a bounded number of keys', async () => {
    // The bound: evidence windows (2 routes × 4 dimensions × 30 buckets × 2 × 64) + the trigger (61 × 2 × 256 + 61 × 2 × 64).
    const bound = 2 * 4 * 30 * 2 * 64 + (61 * 2 * 256 + 61 * 2 * 64);
    const tracked: number[] = [];
    for (let round = 0; round < 2; round++) {
      for (let batch = 0; batch < 10; batch++) {
        const entries = Array.from({ length: 10_000 }, (_, i) => {
          const k = round * 100_000 + batch * 10_000 + i;
          return accessEntry({ startMs: clock - (k % 300) * 1000, route: k % 2 ? 'login' : 'home', status: 401, clientIp: `${10 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}.1`, sub: `u${k}`, jti: `j${k}` });
        });
        monitor.ingest('edge-prod', 'portcullis/prod', entries);
      }
      await monitor.evaluate();
      tracked.push(await harness.metric('portcullis_monitor_tracked_keys'));
    }
    console.log(`tracked keys after 100,000 and 200,000 distinct clients: ${tracked.join(', ')} (bound ${bound})`);
    for (const n of tracked) expect(n).toBeLessThanOrEqual(bound);
    expect(tracked[0]).toBeGreaterThan(bound / 4);
  });
});

describe('a trigger removed while firing', () => {
  test('is forgotten: added back, its alert is posted at once, not after the old resend period', async () => {
    const posted: unknown[][] = [];
    const alertmanager = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        posted.push(JSON.parse(body) as unknown[]);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => alertmanager.listen(0, '127.0.0.1', resolve));
    let clock = T0;
    const monitor = createMonitor({
      registry: new Registry(),
      logger: pino({ level: 'silent' }),
      alertmanager: { url: `http://127.0.0.1:${(alertmanager.address() as AddressInfo).port}` },
      resendEveryMs: 60_000,
      now: () => clock,
    });
    const withTrigger = policy();
    const withoutTrigger = { ...withTrigger, environments: withTrigger.environments.map((e) => ({ ...e, triggers: [] })) };
    const attack = () => Array.from({ length: 40 }, (_, i) => accessEntry({ startMs: clock - 500, route: 'login', status: 401, clientIp: `203.0.113.${i + 1}` }));
    try {
      monitor.setPolicy(withTrigger);
      monitor.ingest('edge-prod', 'portcullis/prod', attack());
      await monitor.evaluate();
      expect(posted).toHaveLength(1);
      monitor.setPolicy(withoutTrigger);
      clock += 1000;
      monitor.setPolicy(withTrigger);
      monitor.ingest('edge-prod', 'portcullis/prod', attack());
      await monitor.evaluate();
      expect(posted).toHaveLength(2);
      expect(((posted[1] as { labels: Record<string, string> }[])[0]?.labels ?? {}).incident).toBe('login-stuffing/prod/203.0.113.0/24');
    } finally {
      monitor.stop();
      await new Promise((resolve) => alertmanager.close(resolve));
    }
  });
});

describe('blast radius', () => {
  test('counts the distinct addresses that carried a valid token, not an upper bound', () => {
    const monitor = createMonitor({ registry: new Registry(), logger: pino({ level: 'silent' }), alertmanager: null, now: () => T0 });
    monitor.setPolicy(policy());
    // Ten addresses of one /24, four requests each; five of them sent a verified token every time.
    const entries = Array.from({ length: 40 }, (_, i) => {
      const host = (i % 10) + 1;
      return accessEntry({ startMs: T0 - 500, route: 'login', status: 401, clientIp: `203.0.113.${host}`, sub: host <= 5 ? `user-${host}` : '' });
    });
    monitor.ingest('edge-prod', 'portcullis/prod', entries);
    const blast = monitor.environment('prod')?.blastRadius(null, 'clientNetwork', '203.0.113.0/24', 300_000, T0);
    expect(blast).toMatchObject({ requests: 40, clients: 10, withValidToken: { requests: 20, clients: 5 } });
    expect(monitor.environment('prod')?.blastRadius(null, 'clientIp', '203.0.113.7', 300_000, T0)).toMatchObject({ requests: 4, clients: 1, withValidToken: { requests: 0, clients: 0 } });
  });
});
