#!/usr/bin/env bash
# Start-up of `wijkpuls serve` on an existing store: seconds from the process's start until
# /readyz answers 200, and the process's peak RSS (VmHWM) then. Stops the server afterwards
# (SIGTERM: it stores a snapshot at shutdown when enough events came since the last one).
#
#   bench/startup.sh DATABASE_URL [extra serve flags...]
#
# SETTLE=N waits N seconds after ready and prints the peak RSS again (a start that folded a
# large log without a snapshot stores one meanwhile).
# Run it twice on the same store to see a start without and with a stored snapshot, or pass
# --no-snapshots for the full replay. Uses target/release/wijkpuls unless WIJKPULS_BIN is set.
set -euo pipefail
url=$1; shift
bin=${WIJKPULS_BIN:-target/release/wijkpuls}
port=$(( 20000 + RANDOM % 20000 ))
log=$(mktemp)
start=$(date +%s.%N)
"$bin" serve --listen 127.0.0.1:$port --database-url "$url" "$@" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do
  kill -0 $pid 2>/dev/null || { echo "the server exited:"; cat "$log"; exit 1; }
  sleep 0.02
done
ready=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
printf 'ready in %.2f s, peak RSS %.0f MiB\n' "$(echo "$ready - $start" | bc)" "$(echo "$hwm / 1024" | bc -l)"
if [ "${SETTLE:-0}" != 0 ]; then
  sleep "$SETTLE"
  printf 'peak RSS %s s later: %.0f MiB\n' "$SETTLE" "$(awk '/VmHWM/ {print $2/1024}' /proc/$pid/status)"
fi
grep -E "snapshot|replayed" "$log" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-220 || true
kill -TERM $pid
wait $pid 2>/dev/null || true
grep -E "snapshot stored|cannot store" "$log" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-220 || true
