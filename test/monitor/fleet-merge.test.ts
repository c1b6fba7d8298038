/**
 * More than one replica (docs/monitor.md, issue 9 item 5): two monitors sharing a real Redis, each
 * receiving half of an attack that only the sum crosses. With the merge the trigger fires on the
 * fleet's traffic and exactly one replica posts each incident; without it nothing fires (the control
 * pair). Redis keys carry TTLs and stay bounded; with Redis down each replica keeps evaluating its
 * own view, with a counter, and comes back to the fleet view when Redis returns.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { accessEntry } from '../../bench/monitor/als-encode';
import { createMonitor, type Monitor } from '../../monitor/monitor';
import { parseRedisUrl, RedisConnection, type RedisTarget } from '../../monitor/redis-connection';
import { metricSum } from '../support/metrics';
import { RedisProcess } from '../support/ratelimit-service';
import { policy, T0 } from './policy';

const INCIDENT = 'login-stuffing/prod/203.0.113.0/24';

interface Posted {
  readonly by: string;
  /** The test clock when it arrived (a resolved alert ends then). */
  readonly at: number;
  readonly alert: { labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string };
}

let redis: RedisProcess;
let alertmanager: Server;
const posted: Posted[] = [];
let clock = T0;
const started: Monitor[] = [];

beforeAll(async () => {
  redis = await RedisProcess.start();
  alertmanager = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/api/v2/alerts' && req.method === 'POST') {
        for (const alert of JSON.parse(body) as Posted['alert'][]) posted.push({ by: req.headers.authorization ?? '', at: clock, alert });
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => alertmanager.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  for (const m of started) m.stop();
  await redis?.stop();
  await new Promise((resolve) => alertmanager?.close(resolve));
});

/** One replica; `prefix` null = no fleet merge. */
function replica(name: string, prefix: string | null): { monitor: Monitor; registry: Registry } {
  const registry = new Registry();
  const monitor = createMonitor({
    registry,
    logger: pino({ level: 'silent' }),
    alertmanager: { url: `http://127.0.0.1:${(alertmanager.address() as AddressInfo).port}`, authorization: name },
    now: () => clock,
    fleetMerge: prefix === null ? null : { redisUrl: `redis://127.0.0.1:${redis.port}`, replica: name, prefix },
  });
  monitor.setPolicy(policy());
  started.push(monitor);
  return { monitor, registry };
}

/** `attack` 401s on login from `net`.0/24 and 30 normal requests from other networks. */
function traffic(m: Monitor, attack: number, from = 1, net = '203.0.113'): void {
  const entries = [
    ...Array.from({ length: attack }, (_, i) => accessEntry({ startMs: clock - 200, route: 'login', status: 401, clientIp: `${net}.${from + i}` })),
    ...Array.from({ length: 30 }, (_, i) => accessEntry({ startMs: clock - 200, route: 'login', status: i % 5 ? 200 : 401, clientIp: `198.18.${i}.${from}` })),
  ];
  m.ingest('edge-prod', 'portcullis/prod', entries);
}

const mine = (status: 'firing' | 'resolved', incident = INCIDENT) =>
  posted.filter((p) => p.alert.labels.incident === incident && (status === 'resolved') === (Date.parse(p.alert.endsAt) <= p.at));

test('half an attack on each of two replicas: fires on the sum, one replica posts, one resolution', async () => {
  clock = T0;
  posted.length = 0;
  const a = replica('a', 'test:split');
  const b = replica('b', 'test:split');
  const control = [replica('c', null), replica('d', null)];
  for (const r of [a, b, ...control]) traffic(r.monitor, 20, r === a || r === control[0] ? 1 : 100);

  // Without the merge each replica sees 20 ≤ 30: nothing fires.
  for (const r of control) await r.monitor.evaluate();
  expect(posted).toEqual([]);
  expect(await metricSum(control[0]!.registry, 'portcullis_trigger_value')).toBe(20);

  await a.monitor.evaluate();
  await b.monitor.evaluate();
  expect(await metricSum(a.registry, 'portcullis_monitor_fleet_merge_up')).toBe(1);
  expect(mine('firing')).toHaveLength(1);
  const [first] = mine('firing');
  expect(first?.alert.annotations.value).toBe('40');
  // Evidence of the fleet: 2 × 50 requests, 2 × (20 + 6) matching, the normal /24s seen by both.
  const evidence = JSON.parse(first?.alert.annotations.evidence ?? '{}') as { total: number; matched: number; top: { key: string; count: number }[]; routes: unknown };
  expect(evidence).toMatchObject({ total: 100, matched: 52, routes: [{ route: 'login', count: 52 }] });
  expect(evidence.top.slice(0, 2)).toEqual([{ key: '203.0.113.0/24', count: 40, share: 0.7692 }, { key: '198.18.0.0/24', count: 2, share: 0.0385 }]);
  expect(await metricSum(b.registry, 'portcullis_trigger_value')).toBe(40);
  // b published last and saw the sum first; on the next tick a fires too, and leaves it to b.
  const owner = first?.by;
  expect(owner).toBe('b');
  clock += 1000;
  await a.monitor.evaluate();
  await b.monitor.evaluate();
  expect(await metricSum(a.registry, 'portcullis_trigger_value')).toBe(40);
  expect(await metricSum(a.registry, 'portcullis_monitor_alerts_left_to_replica_total')).toBe(1);
  expect(mine('firing')).toHaveLength(1);

  // Re-posted after the resend period by the same replica only.
  clock += 11_000;
  await a.monitor.evaluate();
  await b.monitor.evaluate();
  expect(mine('firing').map((p) => p.by)).toEqual([owner, owner]);

  // The window has passed: exactly one resolved notification.
  clock += 61_000;
  await a.monitor.evaluate();
  await b.monitor.evaluate();
  expect(mine('resolved').map((p) => p.by)).toEqual([owner]);
  expect(posted).toHaveLength(3);
});

test('Redis keys carry a TTL and buckets keep a bounded number of keys', async () => {
  clock = T0 + 3_600_000;
  const a = replica('a', 'test:bounded');
  // 3 publications of 1,000 distinct networks into one bucket: 3 × 256 published, 256 kept.
  for (let round = 0; round < 3; round++) {
    a.monitor.ingest('edge-prod', 'portcullis/prod', Array.from({ length: 1000 }, (_, i) => accessEntry({ startMs: clock, route: 'login', status: 401, clientIp: `${1 + round}.${Math.floor(i / 250)}.${i % 250}.1` })));
    await a.monitor.evaluate();
  }
  const client = new RedisConnection({ host: '127.0.0.1', port: redis.port });
  try {
    const keys = (await client.command('KEYS', 'test:bounded:*')) as string[];
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.some((k) => k.includes(':tmp:'))).toBe(false);
    for (const k of keys) {
      const ttl = (await client.command('PTTL', k)) as number;
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(63_000); // the 1 m window's ring (61 × 1 s) + 2 buckets
    }
    const sets = keys.filter((k) => k.includes(':matched:') && !k.endsWith(':n'));
    expect(sets).toHaveLength(1);
    expect(await client.command('ZCARD', sets[0] as string)).toBe(256);
    expect(await client.command('GET', `${sets[0] as string}:n`)).toBe('3000');
  } finally {
    client.close();
  }
});

test('Redis down: each replica evaluates its own view and counts the outage; the fleet view returns with Redis', async () => {
  clock = T0 + 7_200_000;
  posted.length = 0;
  const a = replica('a', 'test:outage');
  const b = replica('b', 'test:outage');
  await a.monitor.evaluate();
  expect(await metricSum(a.registry, 'portcullis_monitor_fleet_merge_up')).toBe(1);
  await redis.stop();
  try {
    traffic(a.monitor, 35); // over the threshold on its own
    traffic(b.monitor, 20, 100);
    await a.monitor.evaluate();
    await b.monitor.evaluate();
    expect(await metricSum(a.registry, 'portcullis_monitor_fleet_merge_up')).toBe(0);
    expect(await metricSum(a.registry, 'portcullis_monitor_fleet_merge_errors_total')).toBeGreaterThanOrEqual(2); // sync and claim
    expect(mine('firing').map((p) => [p.by, p.alert.annotations.value])).toEqual([['a', '35']]);
    expect(await metricSum(b.registry, 'portcullis_trigger_value')).toBe(20);
  } finally {
    await redis.restart();
  }
  // Back: a second attack split over the two replicas fires on the sum again.
  clock += 1000;
  traffic(a.monitor, 20, 1, '192.0.2');
  traffic(b.monitor, 20, 100, '192.0.2');
  await a.monitor.evaluate();
  await b.monitor.evaluate();
  expect(await metricSum(b.registry, 'portcullis_monitor_fleet_merge_up')).toBe(1);
  const second = mine('firing', 'login-stuffing/prod/192.0.2.0/24');
  expect(second.map((p) => p.alert.annotations.value)).toEqual(['40']);
});

test('the Redis URL is checked when the monitor starts', () => {
  expect(parseRedisUrl('redis://:s%40cret@127.0.0.1:6380/2')).toEqual({ host: '127.0.0.1', port: 6380, password: 's@cret', db: 2 });
  expect(parseRedisUrl('redis://[::1]')).toEqual({ host: '::1', port: 6379, password: undefined, db: undefined });
  expect(parseRedisUrl('http://127.0.0.1:6379')).toBe('expected redis://host:port, got http://127.0.0.1:6379');
  expect(() => createMonitor({ registry: new Registry(), logger: pino({ level: 'silent' }), alertmanager: null, fleetMerge: { redisUrl: 'redis://h/x' } })).toThrow('fleet merge: the database must be a number: redis://h/x');
});

test('the password and database of the Redis URL are used', async () => {
  const admin = new RedisConnection({ host: '127.0.0.1', port: redis.port });
  const url = (auth: string) => parseRedisUrl(`redis://${auth}127.0.0.1:${redis.port}/2`) as RedisTarget;
  const good = new RedisConnection(url(':s%40cret@'));
  const bad = new RedisConnection(url(':wrong@'));
  try {
    await admin.command('CONFIG', 'SET', 'requirepass', 's@cret'); // admin stays authenticated
    await expect(bad.command('PING')).rejects.toThrow(/cannot connect to Redis at 127.0.0.1:\d+: WRONGPASS/);
    await good.command('SET', 'test:auth', 'in db 2');
    expect(await admin.command('GET', 'test:auth')).toBeNull(); // db 0
    expect(String(await good.command('CLIENT', 'INFO'))).toContain(' db=2 ');
  } finally {
    await admin.command('CONFIG', 'SET', 'requirepass', '');
    for (const c of [admin, good, bad]) c.close();
  }
});

test('the Redis client gives up on a server that does not answer or answers garbage, and reconnects', async () => {
  const sockets: Socket[] = [];
  let answer: ((s: Socket) => void) | null = null;
  const server = createTcpServer((s) => {
    sockets.push(s);
    s.on('data', () => answer?.(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new RedisConnection({ host: '127.0.0.1', port: (server.address() as AddressInfo).port }, 300);
  try {
    await expect(client.command('PING')).rejects.toThrow('Redis did not answer within 300 ms');
    answer = (s) => s.write('?what\r\n');
    await expect(client.command('PING')).rejects.toThrow(/cannot connect to Redis at 127.0.0.1:\d+: Unknown RESP type 63/);
    answer = (s) => s.write('+PONG\r\n');
    await expect(client.command('PING')).resolves.toBe('PONG');
    expect(sockets.length).toBe(3); // each failure dropped the connection
    // A connection Redis closes between exchanges is not reopened in the background (no retry
    // loop during an outage): the next exchange opens it.
    sockets[2]?.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sockets.length).toBe(3);
    await expect(client.command('PING')).resolves.toBe('PONG');
    expect(sockets.length).toBe(4);
  } finally {
    client.close();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
