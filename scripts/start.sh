#!/usr/bin/env bash
# `npm start`: the whole incident loop on one machine. Sets up (idempotent), then runs the demo
# upstreams, Redis and the envoyproxy/ratelimit service (fleet limits), the control server following
# THIS checkout's current branch (policies/; its monitor posts keyed-trigger alerts to Alertmanager),
# a local Envoy of fleet edge-dev over ADS, Prometheus and Alertmanager (config from
# `portcullis monitoring-config`), and the lockdown bot in local mode (lockdown branches in this
# checkout, merged with git by you); prints what to try, and stays in the foreground until Ctrl-C
# (or until npm, when run as `npm start`, is stopped). Everything listens on 127.0.0.1.
# Ports (env var, default): PORTCULLIS_XDS_PORT 18000, PORTCULLIS_HTTP_PORT 18001, PORTCULLIS_BOT_PORT
# 18002, PORTCULLIS_ADMIN_PORT 9901 (Envoy admin), PORTCULLIS_PROMETHEUS_PORT 9090,
# PORTCULLIS_ALERTMANAGER_PORT 9093, PORTCULLIS_REDIS_PORT 16379, PORTCULLIS_RATELIMIT_HTTP_PORT 18080,
# PORTCULLIS_RATELIMIT_DEBUG_PORT 16070, PORTCULLIS_RATELIMIT_METRICS_PORT 16071,
# PORTCULLIS_UPSTREAMS_CONTROL_PORT 9100. From the policies (environment dev): the upstreams (9101
# 9102 9201 9202 9301), the Envoy listener (10000) and the rate-limit service's gRPC port (18081).
# All are checked before anything starts.
# PORTCULLIS_REPO: the checkout the control server follows and the bot branches in (default: this one).
# PORTCULLIS_SKIP_SETUP=1 skips scripts/setup.sh (when it has just run: it builds dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

[ "${PORTCULLIS_SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

REPO=$(cd "${PORTCULLIS_REPO:-$ROOT}" && pwd)
XDS_PORT=${PORTCULLIS_XDS_PORT:-18000}
HTTP_PORT=${PORTCULLIS_HTTP_PORT:-18001}
BOT_PORT=${PORTCULLIS_BOT_PORT:-18002}
ADMIN_PORT=${PORTCULLIS_ADMIN_PORT:-9901}
PROM_PORT=${PORTCULLIS_PROMETHEUS_PORT:-9090}
AM_PORT=${PORTCULLIS_ALERTMANAGER_PORT:-9093}
REDIS_PORT=${PORTCULLIS_REDIS_PORT:-16379}
RL_HTTP_PORT=${PORTCULLIS_RATELIMIT_HTTP_PORT:-18080}
RL_DEBUG_PORT=${PORTCULLIS_RATELIMIT_DEBUG_PORT:-16070}
RL_METRICS_PORT=${PORTCULLIS_RATELIMIT_METRICS_PORT:-16071}
CONTROL_PORT=${PORTCULLIS_UPSTREAMS_CONTROL_PORT:-9100}
FLEET=${PORTCULLIS_FLEET:-edge-dev}
BRANCH=$(git -C "$REPO" rev-parse --abbrev-ref HEAD)
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-start.XXXXXX")
say() { printf '\033[1m[start]\033[0m %s\n' "$*"; }

# `npm start` runs this script under npm and a `sh -c`, all in one process group; npm exits on
# SIGINT/SIGTERM without passing the signal on, which used to leave everything running. So: stop
# when any ancestor of our own process group (npm, sh) is gone.
ancestors=()
pgid_of() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; set -- $s; echo "$3"; }
ppid_of() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; set -- $s; echo "$2"; }
own_group=$(pgid_of $$)
p=$PPID
while [ "${p:-1}" -gt 1 ] && [ "$(pgid_of "$p")" = "$own_group" ]; do ancestors+=("$p"); p=$(ppid_of "$p") || p=1; done
watcher=""
if [ "${#ancestors[@]}" -gt 0 ]; then
  (
    while :; do
      for a in "${ancestors[@]}"; do kill -0 "$a" 2>/dev/null || { kill -TERM $$ 2>/dev/null; exit 0; }; done
      sleep 0.5
    done
  ) &
  watcher=$!
fi

pids=()
names=()
cleanup() {
  # Nothing may interrupt the cleanup: a second SIGTERM (the process group signalled twice, the
  # watcher below) or a write to a reader that is gone (SIGPIPE) used to kill this shell half-way,
  # leaving the children running.
  trap '' EXIT INT TERM HUP PIPE
  set +e
  [ -n "$watcher" ] && kill "$watcher" 2>/dev/null
  say "stopping"
  # Each child runs in its own process group (setsid): signal the groups, wait ≤ 3 s, then SIGKILL.
  for pid in "${pids[@]+"${pids[@]}"}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 30); do
    alive=0
    for pid in "${pids[@]+"${pids[@]}"}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]+"${pids[@]}"}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# run NAME CMD...: starts CMD in its own process group, output in $RUN_DIR/NAME.log (env via `env`).
run() { local name=$1; shift; setsid "$@" >"$RUN_DIR/$name.log" 2>&1 & pids+=($!); names+=("$name"); }
# ready NAME PROBE...: waits (≤ 20 s) until PROBE succeeds; fails with NAME's log when it exits or times out.
ready() {
  local name=$1 pid=${pids[${#pids[@]}-1]}; shift
  for _ in $(seq 200); do
    "$@" >/dev/null 2>&1 && return 0
    if ! kill -0 "$pid" 2>/dev/null; then say "$name exited:"; tail -n 30 "$RUN_DIR/$name.log"; exit 1; fi
    sleep 0.1
  done
  say "$name is not ready after 20 s:"; tail -n 30 "$RUN_DIR/$name.log"; exit 1
}
http_ok() { curl -fsS -o /dev/null --max-time 1 "$1"; }
envoy_live() { [ "$(curl -fsS --max-time 1 "http://127.0.0.1:$ADMIN_PORT/ready")" = "LIVE" ]; }
redis_up() { (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null; }
# The bot answers 401 without credentials: it is up once it answers at all.
bot_up() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 -X POST "http://127.0.0.1:$BOT_PORT/hooks/alertmanager")" = 401 ]; }

# Every port first: Envoy shares a port another Envoy holds (SO_REUSEPORT) without a word, so a
# leftover demo would answer half the requests with its own configuration. Prints what the policies
# say: the listener port, the rate-limit service's gRPC port, the upstreams.
mapfile -t FROM_POLICIES < <(node dist/demo/preflight.js --root "$REPO/policies" --fleet "$FLEET" --xds-port "$XDS_PORT" --http-port "$HTTP_PORT" \
  --admin-port "$ADMIN_PORT" --control-port "$CONTROL_PORT" --bot-port "$BOT_PORT" --prometheus-port "$PROM_PORT" --alertmanager-port "$AM_PORT" \
  --redis-port "$REDIS_PORT" --ratelimit-http-port "$RL_HTTP_PORT" --ratelimit-debug-port "$RL_DEBUG_PORT" --ratelimit-metrics-port "$RL_METRICS_PORT" \
  && echo "rc=0" || echo "rc=1")
[ "${FROM_POLICIES[${#FROM_POLICIES[@]}-1]:-}" = "rc=0" ] || { say "not started: ports in use or policies do not compile (above)"; exit 1; }
LISTENER_PORT=${FROM_POLICIES[0]}
RL_GRPC_PORT=${FROM_POLICIES[1]}
ENV_NAME=${FROM_POLICIES[2]}
read -r -a UPSTREAMS <<<"${FROM_POLICIES[3]}"

# The control server serves commits, not the working tree: say so when policies/ has local edits.
if ! git -C "$REPO" diff --quiet HEAD -- policies 2>/dev/null; then
  say "note: policies/ has uncommitted changes; the server serves the committed branch $BRANCH (commit to apply them)"
fi

say "demo upstreams (logs: $RUN_DIR/upstreams.log)"
run upstreams node dist/demo/upstreams.js --control-port "$CONTROL_PORT" "${UPSTREAMS[@]}"
ready upstreams http_ok "http://127.0.0.1:$CONTROL_PORT/"

say "control server: following $REPO (branch $BRANCH, folder policies), xDS 127.0.0.1:$XDS_PORT, HTTP 127.0.0.1:$HTTP_PORT"
run server node bin/portcullis.js serve --repo "$REPO" --branch "$BRANCH" --path policies --poll-interval 2s \
  --xds-host 127.0.0.1 --xds-port "$XDS_PORT" --http-port "$HTTP_PORT" --work-dir "$RUN_DIR/work" \
  --alertmanager-url "http://127.0.0.1:$AM_PORT" --prometheus-url "http://127.0.0.1:$PROM_PORT"
ready server http_ok "http://127.0.0.1:$HTTP_PORT/readyz"

if [ -n "$RL_GRPC_PORT" ]; then
  say "Redis 127.0.0.1:$REDIS_PORT and the rate-limit service (gRPC 127.0.0.1:$RL_GRPC_PORT, its config over xDS)"
  run redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$RUN_DIR"
  ready redis redis_up
  # Every listen address explicitly: the service's defaults bind 0.0.0.0 (8080, 8081, 6070, :9090).
  run ratelimit env -i PATH="$PATH" HOST=127.0.0.1 PORT="$RL_HTTP_PORT" GRPC_HOST=127.0.0.1 GRPC_PORT="$RL_GRPC_PORT" \
    DEBUG_HOST=127.0.0.1 DEBUG_PORT="$RL_DEBUG_PORT" USE_PROMETHEUS=false PROMETHEUS_ADDR="127.0.0.1:$RL_METRICS_PORT" USE_STATSD=false \
    LOG_LEVEL=warn BACKEND_TYPE=redis REDIS_SOCKET_TYPE=tcp REDIS_TYPE=SINGLE REDIS_URL="127.0.0.1:$REDIS_PORT" REDIS_TIMEOUT=500ms \
    CONFIG_TYPE=GRPC_XDS_SOTW CONFIG_GRPC_XDS_SERVER_URL="127.0.0.1:$XDS_PORT" CONFIG_GRPC_XDS_NODE_ID="ratelimit-$FLEET-1" \
    CONFIG_GRPC_XDS_NODE_METADATA="portcullis.fleet=$FLEET" CONFIG_GRPC_XDS_SERVER_CONNECT_RETRY_INTERVAL=1s \
    XDS_CLIENT_BACKOFF_INITIAL_INTERVAL=1s XDS_CLIENT_BACKOFF_MAX_INTERVAL=2s "$RATELIMIT_BIN"
  ready ratelimit http_ok "http://127.0.0.1:$RL_HTTP_PORT/healthcheck"
fi

# The same bootstrap a fleet member gets from `portcullis bootstrap` (node id: fleet-hostname-random).
node bin/portcullis.js bootstrap --fleet "$FLEET" --xds "127.0.0.1:$XDS_PORT" --admin "127.0.0.1:$ADMIN_PORT" --format json >"$RUN_DIR/envoy.json"
say "Envoy (fleet $FLEET, admin 127.0.0.1:$ADMIN_PORT, listener :$LISTENER_PORT)"
run envoy "$ENVOY_BIN" -c "$RUN_DIR/envoy.json" --use-dynamic-base-id
ready envoy envoy_live

# Prometheus and Alertmanager with the configuration `portcullis monitoring-config` writes; Alertmanager
# hands alerts to the bot with a bearer token made for this run.
node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("hex"))' >"$RUN_DIR/bot-token"
node bin/portcullis.js monitoring-config --root "$REPO/policies" --env "$ENV_NAME" --out "$RUN_DIR/monitoring" \
  --portcullis "127.0.0.1:$HTTP_PORT" --envoy "127.0.0.1:$ADMIN_PORT" --alertmanager "127.0.0.1:$AM_PORT" \
  --webhook-url "http://127.0.0.1:$BOT_PORT/hooks/alertmanager" --webhook-bearer-file "$RUN_DIR/bot-token" \
  --scrape-interval 2s --evaluation-interval 2s --group-wait 1s >"$RUN_DIR/monitoring-config.log" 2>&1 \
  || { say "monitoring-config failed:"; cat "$RUN_DIR/monitoring-config.log"; exit 1; }
say "Alertmanager http://127.0.0.1:$AM_PORT and Prometheus http://127.0.0.1:$PROM_PORT"
run alertmanager prometheus-alertmanager --config.file="$RUN_DIR/monitoring/alertmanager.yml" --storage.path="$RUN_DIR/alertmanager-data" \
  --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= --log.level=warn
ready alertmanager http_ok "http://127.0.0.1:$AM_PORT/-/ready"
run prometheus prometheus --config.file="$RUN_DIR/monitoring/prometheus.yml" --storage.tsdb.path="$RUN_DIR/prometheus-data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn
ready prometheus http_ok "http://127.0.0.1:$PROM_PORT/-/ready"

say "lockdown bot, local mode: branches portcullis/lockdown/* in $REPO (base $BRANCH), webhook 127.0.0.1:$BOT_PORT"
run bot node bin/portcullis.js bot --local-repo "$REPO" --base "$BRANCH" --path policies --host 127.0.0.1 --port "$BOT_PORT" \
  --hook-token-file "$RUN_DIR/bot-token" --work-dir "$RUN_DIR/bot"
ready bot bot_up

# What `npm run demo:attack` reads to know where everything is.
cat >"$RUN_DIR/demo.json" <<JSON
{"repo":"$REPO","branch":"$BRANCH","listener":$LISTENER_PORT,"http":$HTTP_PORT,"prometheus":$PROM_PORT,"alertmanager":$AM_PORT,"bot":$BOT_PORT,"botDir":"$RUN_DIR/bot","environment":"$ENV_NAME"}
JSON
ln -sfn "$RUN_DIR/demo.json" "${TMPDIR:-/tmp}/portcullis-demo-$(id -u).json"

READER=$(node dist/demo/token.js --role reader)
cat <<EOF

  Portcullis is running. Envoy (fleet $FLEET) enforces the policies of commit $(git -C "$REPO" rev-parse --short HEAD).

  Try:
    curl -s http://127.0.0.1:$LISTENER_PORT/catalog/items                        # public route → catalog
    curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$LISTENER_PORT/orders   # 401: no token
    TOKEN=\$(node dist/demo/token.js --role reader)
    curl -s -H "authorization: Bearer \$TOKEN" http://127.0.0.1:$LISTENER_PORT/orders            # 200 → orders
    curl -s -o /dev/null -w '%{http_code}\n' -H "authorization: Bearer \$TOKEN" -H 'content-type: application/json' -d '{}' http://127.0.0.1:$LISTENER_PORT/orders   # 403: readers cannot create
    curl -s -o /dev/null -w '%{http_code}\n' -H "authorization: Bearer \$(node dist/demo/token.js --role reader --jti demo-revoked-0001)" http://127.0.0.1:$LISTENER_PORT/orders   # 403: revoked
    curl -s -D - -o /dev/null -H "authorization: Bearer \$TOKEN" http://127.0.0.1:$LISTENER_PORT/orders | grep -i x-ratelimit   # the fleet limit's budget
    node dist/demo/token.js --help                                               # other roles, expiry, jti

  The incident loop:  npm run demo:attack   (bad logins from one /24 → alert → lockdown branch → you git merge → 403)
    Prometheus    http://127.0.0.1:$PROM_PORT/alerts      Alertmanager  http://127.0.0.1:$AM_PORT/#/alerts
    Monitor       curl -s 'http://127.0.0.1:$HTTP_PORT/monitor/top?route=accounts-login'
    Branches      git -C $REPO branch --list 'portcullis/lockdown/*'   (evidence: $RUN_DIR/bot/pulls/)

  Failover: curl -X POST http://127.0.0.1:$CONTROL_PORT/down/9101   (then /up/9101); GET http://127.0.0.1:$CONTROL_PORT/ lists upstreams
  Status:   node bin/portcullis.js status --server http://127.0.0.1:$HTTP_PORT
  Metrics:  curl -s http://127.0.0.1:$HTTP_PORT/metrics ; Envoy admin http://127.0.0.1:$ADMIN_PORT/
  Change a policy: edit policies/, git commit; the server polls every 2 s (or POST a signed webhook).
  A reader token for copy-paste: $READER

  Logs in $RUN_DIR. Ctrl-C stops everything.
EOF

# Stay in the foreground until Ctrl-C or until one of the processes dies.
while :; do
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then say "${names[$i]} exited (pid ${pids[$i]}); its log:"; tail -n 20 "$RUN_DIR/${names[$i]}.log"; exit 1; fi
  done
  sleep 1
done
