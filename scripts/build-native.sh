#!/usr/bin/env bash
# Builds native/build/re2-program-size.node, the real RE2 behind compiler/model/re2.ts (Envoy's regex
# engine: what it accepts and its program size), with g++ against the system libre2 (apt libre2-dev)
# and the headers of the Node that runs it. Idempotent: does nothing when the addon is newer than its source.
set -euo pipefail
cd "$(dirname "$0")/.."
src=native/re2-program-size.cc
out=native/build/re2-program-size.node
if [ -s "$out" ] && [ "$out" -nt "$src" ]; then exit 0; fi
include="$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")"
mkdir -p native/build
g++ -O2 -std=c++17 -shared -fPIC -DNODE_GYP_MODULE_NAME=re2_program_size -I"$include" "$src" -lre2 -o "$out.tmp"
mv "$out.tmp" "$out"
