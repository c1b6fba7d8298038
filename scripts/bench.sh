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
echo "== encoder: every resource of 1,000 and 10,000 routes, ours vs @bufbuild/protobuf =="
node dist/bench/xds/encode-bench.js
if [ -f dist/bench/xds/ads-bench.js ]; then
  echo
  echo "== xDS: one-route change pushed to ${BENCH_CLIENTS:-1000} ADS clients =="
  node dist/bench/xds/ads-bench.js --clients "${BENCH_CLIENTS:-1000}" --server both
fi
echo
echo "== monitor: ALS ingest on one core, memory with 1,000,000 addresses, top-k accuracy =="
node --expose-gc dist/bench/monitor/ingest-bench.js
