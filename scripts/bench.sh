#!/usr/bin/env bash
# `npm run bench`: the benchmarks of docs/benchmarks.md. They measure and report; they never fail on
# a figure. Set-up first (idempotent), then each benchmark on the compiled code.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
echo "== compile: 10,000 routes, YAML → Envoy resources =="
node dist/bench/compile/compile-bench.js "${BENCH_ROUTES:-10000}"
echo
echo "== render --bootstrap: 20,000 denied networks on 14 and 56 routes =="
node dist/bench/render/denied-networks-bench.js 20000 14
echo
echo "== encoder: every resource of 1,000 and 10,000 routes, ours vs @bufbuild/protobuf =="
node dist/bench/xds/encode-bench.js
if [ -f dist/bench/xds/ads-bench.js ]; then
  echo
  echo "== xDS: one-route change pushed to ${BENCH_CLIENTS:-1000} ADS clients =="
  node dist/bench/xds/ads-bench.js --clients "${BENCH_CLIENTS:-1000}" --server both
fi
echo
echo "== audit: appends/s (fsync off/incident/always), bytes per incident, show and verify over ${BENCH_AUDIT_RECORDS:-1000000} records =="
node dist/bench/audit/audit-bench.js "${BENCH_AUDIT_RECORDS:-1000000}"
if [ -f dist/bench/xds/envoy-validate-bench.js ]; then
  echo
  echo "== Envoy validation before publishing (envoy --mode validate per fleet) =="
  node dist/bench/xds/envoy-validate-bench.js
fi
echo
echo "== rate limits: request latency with no limit, a local limit, a fleet limit =="
npx ts-node --transpile-only bench/ratelimit/latency-bench.ts --rate "${BENCH_RL_RATE:-200}" --seconds "${BENCH_RL_SECONDS:-10}"
echo
echo "== monitor: ALS ingest on one core, memory with 1,000,000 addresses, top-k accuracy =="
node --expose-gc dist/bench/monitor/ingest-bench.js
echo
echo "== monitor: Envoy request latency with the access-log stream off, on, and the receiver stopped =="
node dist/bench/monitor/als-latency-bench.js --rate "${BENCH_ALS_RATE:-200}" --seconds "${BENCH_ALS_SECONDS:-5}" --rounds "${BENCH_ALS_ROUNDS:-3}"
echo
echo "== monitor: merging two replicas through Redis (CPU per tick, Redis keys and memory) =="
node dist/bench/monitor/fleet-merge-bench.js --ticks "${BENCH_MERGE_TICKS:-60}" --entries "${BENCH_MERGE_ENTRIES:-5000}"
