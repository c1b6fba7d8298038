/**
 * Benchmark: `portcullis render --bootstrap` of an environment denying many client networks on
 * every route (an incident block list): wall time, peak RSS and output bytes of the real CLI
 * (dist/), for a few shapes. Measures and reports; never fails on a figure. See docs/benchmarks.md.
 *
 *   npm run build && node dist/bench/render/denied-networks-bench.js [networks] [routes]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** A policy folder: `routes` routes to one service, one Access document denying `networks` /24s on all of them. */
function writePolicies(dir: string, networks: number, routes: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'base.yaml'),
    `apiVersion: portcullis.dev/v1
kind: Environment
metadata: { name: prod }
spec:
  fleets: [edge-prod]
  listener: { xffNumTrustedHops: 1 }
---
apiVersion: portcullis.dev/v1
kind: Service
metadata: { name: api }
spec:
  endpoints: [{ address: 127.0.0.1, port: 8080 }]
`,
  );
  const routeDocs = Array.from(
    { length: routes },
    (_, i) => `apiVersion: portcullis.dev/v1
kind: Route
metadata: { name: r${i} }
spec:
  path: { prefix: /r${i} }
  service: api
`,
  );
  writeFileSync(path.join(dir, 'routes.yaml'), routeDocs.join('---\n'));
  // 20,000 distinct /24s: 10.0.0.0/24, 10.0.1.0/24, ... (256 per /16).
  const cidrs = Array.from({ length: networks }, (_, i) => `      - { cidr: ${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24 }`);
  writeFileSync(
    path.join(dir, 'access.yaml'),
    `apiVersion: portcullis.dev/v1
kind: Access
metadata: { name: blocklist }
spec:
  networks:
    deny:
${cidrs.join('\n')}
`,
  );
}

interface Figures {
  readonly seconds: number;
  readonly maxRssMb: number | null;
  readonly bytes: number;
}

/** Runs the CLI once under /usr/bin/time (peak RSS) when it exists. */
function render(cli: string, dir: string): Figures {
  const time = '/usr/bin/time';
  const args = [cli, 'render', '--root', dir, '--env', 'prod', '--bootstrap', '--now', '2026-06-01T00:00:00Z'];
  const withTime = existsSync(time);
  const started = process.hrtime.bigint();
  const r = withTime
    ? spawnSync(time, ['-f', '%M', process.execPath, ...args], { maxBuffer: 4 << 30 })
    : spawnSync(process.execPath, args, { maxBuffer: 4 << 30 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`render exited ${r.status}: ${String(r.stderr).slice(-2000)}`);
  const rssKb = withTime ? Number(String(r.stderr).trim().split('\n').pop()) : NaN;
  return { seconds, maxRssMb: Number.isFinite(rssKb) ? Math.round(rssKb / 1024) : null, bytes: r.stdout.length };
}

function main(): void {
  const networks = Number(process.argv[2] ?? 20_000);
  const routes = Number(process.argv[3] ?? 14);
  const cli = path.resolve(__dirname, '../../../bin/portcullis.js');
  const root = mkdtempSync(path.join(tmpdir(), 'portcullis-render-bench-'));
  try {
    for (const [n, r] of [
      [networks, routes],
      [networks, routes * 4],
      [networks / 4, routes],
    ] as const) {
      const dir = path.join(root, `${n}x${r}`);
      writePolicies(dir, n, r);
      const runs = [render(cli, dir), render(cli, dir)];
      const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
      const rss = runs.map((f) => f.maxRssMb).filter((x): x is number => x !== null);
      console.log(
        `${n} denied /24 × ${r} routes: ${best.seconds.toFixed(2)} s (best of ${runs.length}), ` +
          `peak RSS ${rss.length > 0 ? `${Math.max(...rss)} MB` : 'n/a'}, bootstrap ${(best.bytes / 1e6).toFixed(1)} MB`,
      );
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main();
