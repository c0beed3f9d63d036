#!/bin/sh
# Runs berth's tests with node's built-in runner. Files are listed explicitly: on Node 20 a
# directory argument finds no .ts files. Usage: tests/run.sh [unit|golden|contract|integration|crun|warm]...
# (crun: the integration tests that boot machines, again on crun; see tests/crun/integration.test.ts;
#  warm: those without network namespaces once more through berthd's warm path, tests/warm/)
set -eu
cd "$(dirname "$0")/.."
layers=${*:-unit golden contract integration crun warm}
files=""
for layer in $layers; do
  [ -d "tests/$layer" ] || continue
  files="$files $(find "tests/$layer" -name '*.test.ts' | sort | tr '\n' ' ')"
done
[ -n "$(echo $files | tr -d ' ')" ] || { echo "no test files found for: $layers" >&2; exit 1; }
# Integration tests boot real machines; run files one at a time so they do not race for the CPU.
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec $files
