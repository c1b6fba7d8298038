/**
 * `npm run demo:attack`: a bounded credential-stuffing burst against the demo started by `npm start`
 * — failed logins (`POST /login`, wrong password) from many hosts of one /24, sent as
 * X-Forwarded-For (the dev listener trusts one hop: the demo plays the load balancer), interleaved
 * with normal traffic from other networks. Then it says where to watch, waits (bounded) for the
 * lockdown branch the bot creates, and prints the `git merge` that puts it in force.
 *
 * Run: node dist/demo/attack.js [--count 120] [--network 203.0.113] [--seconds 10] [--wait 60]
 *      [--info FILE] (default: the file `npm start` writes, $TMPDIR/portcullis-demo-<uid>.json)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';

/** What start.sh writes into its run directory ($RUN_DIR/demo.json). */
export interface DemoInfo {
  readonly repo: string;
  readonly branch: string;
  readonly listener: number;
  readonly http: number;
  readonly prometheus: number;
  readonly alertmanager: number;
  readonly bot: number;
  readonly botDir: string;
  readonly environment: string;
}

export interface AttackOptions {
  /** Failed logins to send (the same number of normal requests is interleaved). */
  readonly count: number;
  /** The attacking /24, as its first three octets. */
  readonly network: string;
  /** Spread the burst over about this many seconds. */
  readonly seconds: number;
}

export interface AttackResult {
  /** Answers to the failed logins and to the normal requests, by status code. */
  readonly attack: Record<number, number>;
  readonly normal: Record<number, number>;
  readonly startedAt: number;
}

const tally = (into: Record<number, number>, status: number) => (into[status] = (into[status] ?? 0) + 1);

async function send(url: string, init: RequestInit): Promise<number> {
  try {
    const r = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

/** The burst: `count` failed logins from `network`.0/24, each followed by one normal request from elsewhere. */
export async function attack(listener: number, o: AttackOptions): Promise<AttackResult> {
  const base = `http://127.0.0.1:${listener}`;
  const result: AttackResult = { attack: {}, normal: {}, startedAt: Date.now() };
  const gapMs = (o.seconds * 1000) / o.count;
  for (let i = 0; i < o.count; i++) {
    const attacker = `${o.network}.${1 + (i % 250)}`;
    const bad = JSON.stringify({ user: `user${i}@example.com`, password: `guess-${i}` });
    tally(result.attack, await send(`${base}/login`, { method: 'POST', body: bad, headers: { 'content-type': 'application/json', 'x-forwarded-for': attacker } }));
    // Normal traffic from many networks: catalog reads, and now and then a good login.
    const client = `100.${64 + (i % 60)}.${(i * 7) % 250}.${1 + (i % 200)}`;
    const normal = i % 10 === 0
      ? send(`${base}/login`, { method: 'POST', body: JSON.stringify({ user: 'demo', password: 'demo' }), headers: { 'content-type': 'application/json', 'x-forwarded-for': client } })
      : send(`${base}/catalog/items`, { headers: { 'x-forwarded-for': client } });
    tally(result.normal, await normal);
    const due = result.startedAt + (i + 1) * gapMs;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
  }
  return result;
}

/** Lockdown branches of the demo's repository (portcullis/lockdown/*), by name. */
export function lockdownBranches(repo: string): string[] {
  const out = execFileSync('git', ['-C', repo, 'for-each-ref', '--format=%(refname:short)', 'refs/heads/portcullis/lockdown/'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

/** Waits up to `seconds` for a lockdown branch not in `before`. */
export async function waitForBranch(repo: string, before: readonly string[], seconds: number): Promise<string | null> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const fresh = lockdownBranches(repo).find((b) => !before.includes(b));
    if (fresh) return fresh;
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}

function parseArgs(argv: readonly string[]): { opts: AttackOptions; wait: number; info: string } {
  const opt = (name: string, fallback: string): string => {
    const i = argv.indexOf(name);
    return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
  };
  const num = (name: string, fallback: number, max: number): number => {
    const v = Number(opt(name, String(fallback)));
    if (!Number.isInteger(v) || v < 1 || v > max) throw new Error(`${name}: a whole number from 1 to ${max}`);
    return v;
  };
  const network = opt('--network', '203.0.113');
  if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(network) || network.split('.').some((o) => Number(o) > 255)) throw new Error(`--network ${network}: the first three octets of a /24, e.g. 203.0.113`);
  return {
    opts: { count: num('--count', 120, 5000), network, seconds: num('--seconds', 10, 600) },
    wait: num('--wait', 60, 600),
    info: opt('--info', process.env.PORTCULLIS_DEMO_INFO ?? path.join(tmpdir(), `portcullis-demo-${userInfo().uid}.json`)),
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const { opts, wait, info: infoFile } = parseArgs(argv);
  let info: DemoInfo;
  try {
    info = JSON.parse(readFileSync(infoFile, 'utf8')) as DemoInfo;
  } catch {
    process.stderr.write(`demo:attack: ${infoFile} not found: start the demo first (npm start)\n`);
    return 1;
  }
  const say = (line = '') => process.stdout.write(`${line}\n`);
  const before = lockdownBranches(info.repo);
  say(`Attack: ${opts.count} failed logins (POST /login) from ${opts.network}.0/24 via X-Forwarded-For over ~${opts.seconds} s, interleaved with normal traffic.`);
  say(`Watch:  Prometheus http://127.0.0.1:${info.prometheus}/alerts · Alertmanager http://127.0.0.1:${info.alertmanager}/#/alerts`);
  say(`        monitor curl -s 'http://127.0.0.1:${info.http}/monitor/top?route=accounts-login'`);
  const r = await attack(info.listener, opts);
  say(`Sent.   failed logins answered ${JSON.stringify(r.attack)}; normal requests ${JSON.stringify(r.normal)}`);
  say(`Waiting up to ${wait} s for the bot's lockdown branch in ${info.repo} ...`);
  const branch = await waitForBranch(info.repo, before, wait);
  if (!branch) {
    say(`No new branch yet (existing: ${before.join(', ') || 'none'}). Check Alertmanager and the bot's log in ${path.dirname(info.botDir)}.`);
    return 1;
  }
  say(`Branch: ${branch}  (${((Date.now() - r.startedAt) / 1000).toFixed(1)} s after the first failed login)`);
  say(`        the proposal and its evidence: ${info.botDir}/pulls/   ·   git -C ${info.repo} show ${branch}`);
  say('Merge it to enforce (the control server polls every 2 s):');
  say(`        git -C ${info.repo} merge ${branch}`);
  say('Then the /24 gets 403 on /login while others do not:');
  say(`        curl -s -o /dev/null -w '%{http_code}\\n' -X POST -H 'x-forwarded-for: ${opts.network}.77' http://127.0.0.1:${info.listener}/login`);
  say(`It ends by itself at the lockdown's expiresAt (1 h, policies/triggers/login-stuffing.yaml): no commit needed.`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`demo:attack: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
