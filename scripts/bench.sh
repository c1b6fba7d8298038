#!/usr/bin/env bash
# `npm run bench`: the benchmarks of docs/benchmarks.md. They measure and report; they never fail on
# a figure. Set-up first (idempotent), then each benchmark on the compiled code.
#
#   npm run bench                               every benchmark
#   npm run bench -- --xds [ROUTES] [CLIENTS]   only xDS at scale (Go load generator, Portcullis and
#                                               the go-control-plane peer, SotW and delta), e.g. 10000 200;
#                                               more flags for bench/xds/xds-scale-bench.ts may follow,
#                                               and --scopes S anywhere (routes over S route scopes, SRDS;
#                                               default $BENCH_XDS_SCOPES or 0: one route table)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
xds_scale() {
  # --scopes S may come anywhere (before ROUTES too); the other arguments keep their places.
  local scopes="${BENCH_XDS_SCOPES:-0}" args=()
  while [ $# -gt 0 ]; do
    if [ "$1" = "--scopes" ]; then scopes="$2"; shift 2; else args+=("$1"); shift; fi
  done
  set -- "${args[@]}"
  local routes="${1:-${BENCH_XDS_ROUTES:-1000}}" clients="${2:-${BENCH_XDS_CLIENTS:-200}}"
  echo "== xDS at scale: ${routes} routes × ${clients} ADS clients (Go load generator), ${scopes} route scopes, one-route change, reconnect storm =="
  uptime
  node dist/bench/xds/xds-scale-bench.js --routes "$routes" --clients "$clients" --variant both --server both --scopes "$scopes" "${@:3}"
}
if [ "${1:-}" = "--xds" ]; then
  shift
  xds_scale "$@"
  exit 0
fi
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
xds_scale
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
# The receiver on a CPU of its own (as a monitor on another machine), Envoys and load on the other.
als_bench=(node dist/bench/monitor/als-latency-bench.js --rate "${BENCH_ALS_RATE:-100}" --seconds "${BENCH_ALS_SECONDS:-10}" --rounds "${BENCH_ALS_ROUNDS:-4}")
if command -v taskset > /dev/null && [ "$(nproc)" -ge 2 ]; then taskset -c 0 "${als_bench[@]}" --receiver-cpu 1; else "${als_bench[@]}"; fi
echo
echo "== monitor: merging two replicas through Redis (CPU per tick, Redis keys and memory) =="
node dist/bench/monitor/fleet-merge-bench.js --ticks "${BENCH_MERGE_TICKS:-60}" --entries "${BENCH_MERGE_ENTRIES:-5000}"
