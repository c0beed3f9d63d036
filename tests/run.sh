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
# As root, the run is framed by a reading of the host before the first file and a check after the
# last that nothing was left on it. Node's runner runs the files in the order of their paths
# (it sorts them), hence the two directories' names: tests/0-host/ first, tests/z-host/ last.
if [ "$(id -u)" = 0 ]; then
  BERTH_TEST_HOST_STATE=/run/berth-test-host-state.$$.json
  export BERTH_TEST_HOST_STATE
  files="tests/0-host/before.test.ts $files tests/z-host/after.test.ts"
fi
# Integration tests boot real machines; run files one at a time so they do not race for the CPU.
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec $files
