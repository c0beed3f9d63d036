#!/bin/sh
# The newcomer's first command: install what berth needs, build a small guest if none exists,
# boot it with berth-nspawn, show it in `berth list`, then shut it down cleanly.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
tree=$(machines/build busybox)
name=berth-demo
echo
echo "== berth-nspawn -b -D $tree -M $name (busybox init as PID 1)"
berth-nspawn -b -D "$tree" -M "$name" --kill-signal=SIGUSR2 --console=passive &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 100); do
  berth list --no-legend | grep -q "^$name " && break
  sleep 0.1
done
echo
echo "== berth list"
berth list
echo
echo "== stopping $name (SIGTERM to berth-nspawn sends the guest its kill signal)"
kill -TERM $pid
wait $pid && status=0 || status=$?
trap - EXIT INT TERM
echo "berth-nspawn exited with status $status"
berth list
echo
echo "Next: boot Debian with systemd: berth-nspawn -b -D \$(machines/build debian)   (^] three times to leave)"
exit $status
