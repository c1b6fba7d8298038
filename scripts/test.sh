#!/usr/bin/env bash
# Every test: sets up what the tests need (idempotent: Node 22, npm deps, Envoy 1.40, actionlint, ...),
# type-checks, then runs jest over test/ (unit, golden, real-Envoy end-to-end). Extra arguments go to
# jest, e.g. `npm test -- test/compiler`. Ends with the plain line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
source scripts/env.sh
status=0
echo "[test] typecheck"
npx tsc -p tsconfig.json --noEmit || status=1
result=.tools/jest-result.json
rm -f "$result"
echo "[test] jest"
npx jest --maxWorkers=2 --json --outputFile="$result" "$@" || status=1
if [ -s "$result" ]; then
  node -e '
    const r = require(process.argv[1]);
    const failed = r.numFailedTests + r.numRuntimeErrorTestSuites;
    console.log(`${r.numPassedTests} passed, ${failed} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
  ' "$PWD/$result"
else
  echo "0 passed, 1 failed"
  status=1
fi
exit $status
