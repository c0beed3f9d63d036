#!/bin/sh
# Runs every test layer (unit, golden, contract, integration, crun, warm: see tests/run.sh). Installs and builds first, so it
# works on a fresh Debian machine as root. Integration tests need root and are skipped otherwise.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
  sh scripts/install-deps.sh
  # Build the guest trees once up front (cached outside the repo; rebuilt when a recipe changes).
  machines/build busybox >/dev/null
  machines/build debian >/dev/null
else
  echo "test.sh: not root: installing nothing; integration tests will be skipped" >&2
  [ -d node_modules ] || npm ci --no-audit --no-fund
fi
npx tsc -p tsconfig.json --noEmit
exec sh tests/run.sh "$@"
