/**
 * More than one replica (docs/monitor.md): each monitor publishes, every evaluation tick, what its
 * triggers counted since the last tick to Redis — per trigger, window and bucket a sorted set of
 * keys (ZINCRBY: heavy-hitter summaries merge by adding counts) and a counter — and reads back the
 * fleet's sum over the windows it evaluates, so a keyed trigger fires on the whole fleet's traffic.
 * Every Redis key carries a TTL of its window (memory in Redis is bounded by triggers × buckets ×
 * `keepPerBucket`). One replica posts each incident: the one holding its lease. When Redis cannot be
 * reached, every replica evaluates its own view and posts its own alerts (Alertmanager merges
 * identical label sets), and says so (metrics, one warning per outage).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { MonitorMetrics } from './metrics';
import type { RedisConnection, RedisReply } from './redis-connection';
import { QUERY_LIMITS, type TriggerState, type WindowName } from './trigger-state';
import type { HeavyHitter } from './space-saving';
import type { WindowQuery } from './window';

export interface FleetShareOptions {
  readonly redis: RedisConnection;
  /** This replica's name (unique in the fleet): lease owner and temporary key names. */
  readonly replica: string;
  /** Prefix of every Redis key (default `portcullis:monitor`). */
  readonly prefix?: string;
  /**
   * Keys kept per bucket in Redis (default 256, as deep as a replica reads its own buckets): the rest
   * are trimmed after every publication.
   */
  readonly keepPerBucket?: number;
  readonly metrics: MonitorMetrics;
  readonly logger: Logger;
}

type Cmd = (string | number)[];

/** Commands and what to do with their replies. */
interface Op {
  readonly cmds: Cmd[];
  readonly read?: (replies: RedisReply[]) => void;
}

/** Only this replica's lease holder may post; renews the lease for its holder. 1 = this replica holds it. */
const CLAIM = `local v = redis.call('GET', KEYS[1])
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`;

const WINDOWS: readonly WindowName[] = ['matched', 'watched', 'byRoute'];

export class FleetShare {
  private readonly prefix: string;
  private readonly keep: number;
  /** Null until the first exchange; false during an outage (warned once). */
  private up: boolean | null = null;

  constructor(private readonly opts: FleetShareOptions) {
    this.prefix = opts.prefix ?? 'portcullis:monitor';
    this.keep = opts.keepPerBucket ?? 256;
  }

  /**
   * Publishes every trigger's pending counts and sets its merged view for this tick; on failure
   * every trigger falls back to its own view (merged = null).
   */
  async sync(states: readonly TriggerState[], nowMs: number): Promise<void> {
    const ops: Op[] = [];
    const views = new Map<TriggerState, Map<string, WindowQuery>>();
    for (const s of states) {
      const base = this.base(s);
      ops.push(...this.publish(s, base));
      const view = new Map<string, WindowQuery>();
      views.set(s, view);
      for (const span of s.spans) for (const w of WINDOWS) ops.push(this.fetch(s, base, w, span, nowMs, view));
    }
    const ok = await this.run(ops);
    for (const s of states) s.merged = ok ? (views.get(s) ?? null) : null;
  }

  /** Of these incidents, the ones this replica posts (all of them when Redis cannot be reached). */
  async claim(incidents: readonly string[], leaseMs: number): Promise<Set<string>> {
    const owned = new Set<string>();
    if (incidents.length === 0) return owned;
    const ops = incidents.map((i): Op => ({
      cmds: [['EVAL', CLAIM, 1, `${this.prefix}:lease:${i}`, this.opts.replica, Math.ceil(leaseMs)]],
      read: ([r]) => {
        if (r === 1) owned.add(i);
      },
    }));
    return (await this.run(ops)) ? owned : new Set(incidents);
  }

  close(): void {
    this.opts.redis.close();
  }

  /** Whether the last exchange with Redis succeeded (null before the first). */
  get reachable(): boolean | null {
    return this.up;
  }

  private base(s: TriggerState): string {
    const hash = createHash('sha256').update(JSON.stringify(s.ir)).digest('hex').slice(0, 12);
    return `${this.prefix}:${s.environment}:${s.ir.name}:${hash}`;
  }

  /** What the replica counted since the last tick, added to the fleet's buckets (each with its TTL). */
  private publish(s: TriggerState, base: string): Op[] {
    const pending = s.pending ?? s.startSharing();
    const ttl = s.ring.spanMs + 2 * s.ring.bucketMs;
    const ops: Op[] = [];
    for (const w of WINDOWS) {
      for (const b of pending[w].take()) {
        const key = `${base}:${w}:${b.epoch}`;
        const cmds: Cmd[] = [['INCRBY', `${key}:n`, b.count], ['PEXPIRE', `${key}:n`, ttl]];
        if (b.top.length) {
          for (const h of b.top) cmds.push(['ZINCRBY', key, h.count, h.key]);
          cmds.push(['ZREMRANGEBYRANK', key, 0, -(this.keep + 1)], ['PEXPIRE', key, ttl]);
        }
        ops.push({ cmds });
      }
    }
    return ops;
  }

  /** The fleet's window `w` over `span`: the counters summed, the top keys through ZUNIONSTORE. */
  private fetch(s: TriggerState, base: string, w: WindowName, span: number, nowMs: number, view: Map<string, WindowQuery>): Op {
    const keys = s.ring.epochs(nowMs, span).map((e) => `${base}:${w}:${e}`);
    const limit = w === 'matched' && s.ir.key === 'none' ? 0 : QUERY_LIMITS[w];
    const cmds: Cmd[] = [['MGET', ...keys.map((k) => `${k}:n`)]];
    const tmp = `${base}:tmp:${this.opts.replica}`;
    if (limit > 0) cmds.push(['ZUNIONSTORE', tmp, keys.length, ...keys], ['ZREVRANGE', tmp, 0, limit - 1, 'WITHSCORES'], ['DEL', tmp]);
    return {
      cmds,
      read: ([counts, , top]) => {
        const total = Array.isArray(counts) ? counts.reduce<number>((n, c) => n + (typeof c === 'string' ? Number(c) : 0), 0) : 0;
        view.set(`${w}:${span}`, { total, top: Array.isArray(top) ? pairs(top) : [] });
      },
    };
  }

  /** Sends the operations in one pipeline; false (and the outage noted) when Redis failed. */
  private async run(ops: readonly Op[]): Promise<boolean> {
    const cmds = ops.flatMap((o) => o.cmds);
    if (cmds.length === 0) return this.up !== false;
    let replies: RedisReply[];
    try {
      replies = await this.opts.redis.pipeline(cmds);
      const bad = replies.find((r) => r instanceof Error);
      if (bad) throw bad;
    } catch (e) {
      this.opts.metrics.fleetMergeErrors.inc();
      this.opts.metrics.fleetMergeUp.set(0);
      if (this.up !== false) this.opts.logger.warn({ error: (e as Error).message }, 'fleet merge: Redis unreachable; each replica evaluates its own view of the traffic until it is back');
      this.up = false;
      return false;
    }
    if (this.up === false) this.opts.logger.info('fleet merge: Redis reachable again; triggers evaluate the fleet\'s traffic');
    this.up = true;
    this.opts.metrics.fleetMergeUp.set(1);
    let at = 0;
    for (const o of ops) {
      o.read?.(replies.slice(at, at + o.cmds.length));
      at += o.cmds.length;
    }
    return true;
  }
}

/** ZREVRANGE … WITHSCORES → heavy hitters. */
function pairs(flat: readonly RedisReply[]): HeavyHitter[] {
  const out: HeavyHitter[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ key: String(flat[i]), count: Number(flat[i + 1]), error: 0 });
  return out;
}
