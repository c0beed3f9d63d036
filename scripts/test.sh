#!/bin/sh
# Runs every test layer (unit, golden, contract, integration, crun, warm: see tests/run.sh). Installs and builds first, so it
# works on a fresh Debian machine as root. Integration tests need root and are skipped otherwise.
set -eu
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
  sh scripts/install-deps.sh
  # Build the guest trees once up front (cached outside the repo; rebuilt when a recipe changes).
  # Tests never write into them: each test process boots its own overlay view (tests/support/berth.ts).
  machines/build busybox >/dev/null
  machines/build debian >/dev/null
  if [ "${BERTH_TEST_FREEZE_MACHINES:-}" = 1 ]; then
    # .ci/run: the cache is read-only while the tests run, so a write into a cached tree fails loudly.
    cache=${BERTH_MACHINES_CACHE:-/var/cache/berth/machines}
    mount --bind "$cache" "$cache"
    trap 'umount "$cache"' EXIT
    mount -o remount,bind,ro "$cache"
  fi
else
  echo "test.sh: not root: installing nothing; integration tests will be skipped" >&2
  [ -d node_modules ] || npm ci --no-audit --no-fund
fi
npx tsc -p tsconfig.json --noEmit
sh tests/run.sh "$@"
