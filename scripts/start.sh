#!/usr/bin/env bash
# `npm start`: the whole loop on one machine. Sets up (idempotent), then runs the demo upstreams, the
# control server following THIS checkout's current branch (policies/), and a local Envoy of fleet
# edge-dev connected over ADS; prints what to try, and stays in the foreground until Ctrl-C (or
# until npm, when run as `npm start`, is stopped).
# Ports: PORTCULLIS_XDS_PORT (18000), PORTCULLIS_HTTP_PORT (18001), PORTCULLIS_ADMIN_PORT (9901);
# fixed: demo upstreams 9101 9102 9201 9202 9301 and their control port 9100 (policies/services.yaml),
# Envoy listener 10000 (policies/environments.yaml, environment dev). All are checked before start.
# PORTCULLIS_SKIP_SETUP=1 skips scripts/setup.sh (when it has just run: it builds dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

[ "${PORTCULLIS_SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh

XDS_PORT=${PORTCULLIS_XDS_PORT:-18000}
HTTP_PORT=${PORTCULLIS_HTTP_PORT:-18001}
ADMIN_PORT=${PORTCULLIS_ADMIN_PORT:-9901}
FLEET=${PORTCULLIS_FLEET:-edge-dev}
BRANCH=$(git -C "$ROOT" rev-parse --abbrev-ref HEAD)
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
cleanup() {
  trap - EXIT INT TERM HUP
  [ -n "$watcher" ] && kill "$watcher" 2>/dev/null
  say "stopping"
  # Each child runs in its own process group (setsid): signal the groups, then wait for them.
  for pid in "${pids[@]+"${pids[@]}"}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
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

# Every port first: Envoy shares a port another Envoy holds (SO_REUSEPORT) without a word, so a
# leftover demo would answer half the requests with its own configuration. Prints the listener port.
LISTENER_PORT=$(node dist/demo/preflight.js --root policies --fleet "$FLEET" --xds-port "$XDS_PORT" --http-port "$HTTP_PORT" \
  --admin-port "$ADMIN_PORT" --control-port 9100) || { say "not started: ports in use (above)"; exit 1; }

# The control server serves commits, not the working tree: say so when policies/ has local edits.
if ! git -C "$ROOT" diff --quiet HEAD -- policies 2>/dev/null; then
  say "note: policies/ has uncommitted changes; the server serves the committed branch $BRANCH (commit to apply them)"
fi

say "demo upstreams (logs: $RUN_DIR/upstreams.log)"
setsid node dist/demo/upstreams.js --control-port 9100 >"$RUN_DIR/upstreams.log" 2>&1 &
pids+=($!)

say "control server: following $ROOT (branch $BRANCH, folder policies), xDS 127.0.0.1:$XDS_PORT, HTTP 127.0.0.1:$HTTP_PORT (logs: $RUN_DIR/server.log)"
setsid node bin/portcullis.js serve --repo "$ROOT" --branch "$BRANCH" --path policies --poll-interval 2s \
  --xds-host 127.0.0.1 --xds-port "$XDS_PORT" --http-port "$HTTP_PORT" --work-dir "$RUN_DIR/work" >"$RUN_DIR/server.log" 2>&1 &
pids+=($!)

for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1 && break
  if ! kill -0 "${pids[1]}" 2>/dev/null; then say "control server exited:"; tail -n 30 "$RUN_DIR/server.log"; exit 1; fi
  sleep 0.1
done
if ! curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1; then
  say "control server is not serving a snapshot (does the committed policies/ compile?):"
  tail -n 30 "$RUN_DIR/server.log"
  exit 1
fi

# The same bootstrap a fleet member gets from `portcullis bootstrap` (node id: fleet-hostname-random).
node bin/portcullis.js bootstrap --fleet "$FLEET" --xds "127.0.0.1:$XDS_PORT" --admin "127.0.0.1:$ADMIN_PORT" --format json >"$RUN_DIR/envoy.json"
say "Envoy (fleet $FLEET, admin 127.0.0.1:$ADMIN_PORT, listener :$LISTENER_PORT; logs: $RUN_DIR/envoy.log)"
setsid "$ENVOY_BIN" -c "$RUN_DIR/envoy.json" --use-dynamic-base-id --log-path "$RUN_DIR/envoy.log" >/dev/null 2>&1 &
pids+=($!)

for _ in $(seq 200); do
  [ "$(curl -fsS "http://127.0.0.1:$ADMIN_PORT/ready" 2>/dev/null)" = "LIVE" ] && break
  if ! kill -0 "${pids[2]}" 2>/dev/null; then say "Envoy exited:"; tail -n 30 "$RUN_DIR/envoy.log"; exit 1; fi
  sleep 0.1
done
[ "$(curl -fsS "http://127.0.0.1:$ADMIN_PORT/ready" 2>/dev/null)" = "LIVE" ] || { say "Envoy did not get its config:"; tail -n 30 "$RUN_DIR/envoy.log"; exit 1; }

READER=$(node dist/demo/token.js --role reader)
cat <<EOF

  Portcullis is running. Envoy (fleet $FLEET) enforces the policies of commit $(git -C "$ROOT" rev-parse --short HEAD).

  Try:
    curl -s http://127.0.0.1:$LISTENER_PORT/catalog/items                        # public route → catalog
    curl -s -o /dev/null -w '%{http_code}\n' http://127.0.0.1:$LISTENER_PORT/orders   # 401: no token
    TOKEN=\$(node dist/demo/token.js --role reader)
    curl -s -H "authorization: Bearer \$TOKEN" http://127.0.0.1:$LISTENER_PORT/orders            # 200 → orders
    curl -s -o /dev/null -w '%{http_code}\n' -H "authorization: Bearer \$TOKEN" -H 'content-type: application/json' -d '{}' http://127.0.0.1:$LISTENER_PORT/orders   # 403: readers cannot create
    curl -s -o /dev/null -w '%{http_code}\n' -H "authorization: Bearer \$(node dist/demo/token.js --role reader --jti demo-revoked-0001)" http://127.0.0.1:$LISTENER_PORT/orders   # 403: revoked
    node dist/demo/token.js --help                                               # other roles, expiry, jti

  Failover: curl -X POST http://127.0.0.1:9100/down/9101   (then /up/9101); GET http://127.0.0.1:9100/ lists upstreams
  Status:   node bin/portcullis.js status --server http://127.0.0.1:$HTTP_PORT
  Metrics:  curl -s http://127.0.0.1:$HTTP_PORT/metrics ; Envoy admin http://127.0.0.1:$ADMIN_PORT/
  Change a policy: edit policies/, git commit; the server polls every 2 s (or POST a signed webhook).
  A reader token for copy-paste: $READER

  Logs in $RUN_DIR. Ctrl-C stops everything.
EOF

# Stay in the foreground until Ctrl-C or until one of the processes dies.
while :; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then say "a process exited (pid $pid); see $RUN_DIR"; tail -n 20 "$RUN_DIR/server.log"; exit 1; fi
  done
  sleep 1
done
