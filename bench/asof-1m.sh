#!/usr/bin/env bash
# Time travel on an existing (large) store: starts `wijkpuls serve` with the given flags, then
# times, one request at a time, a wijk's budget and counts now (the baseline, 5 times) and
# `asOf` at 8 distinct moments spread over 2018-2026 (each folded from the nearest checkpoint of
# the places), then the same moments again (only the last 4 are remembered); then one
# initiative at each moment (folded from its own history), a page of the wijk's initiatives at
# two moments (from history steps), and the same pages in `UPDATED_AT` order (each one's last
# change then read from the log), each twice. Prints each time in ms, and the server's RSS.
# SETTLE=N waits N seconds after ready (for the checkpoints made after a snapshot start).
#
#   bench/asof-1m.sh DATABASE_URL [extra serve flags...]
set -euo pipefail
url=$1; shift
bin=${WIJKPULS_BIN:-target/release/wijkpuls}
port=$(( 20000 + RANDOM % 20000 ))
"$bin" serve --listen 127.0.0.1:$port --database-url "$url" "$@" 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null; do sleep 0.1; done
sleep "${SETTLE:-0}"
post() {
  curl -sS -o /tmp/asof-answer.json -w '%{time_total}' -H 'content-type: application/json' \
    -d "$1" "http://127.0.0.1:$port/graphql" | awk '{printf "%.1f", $1 * 1000}'
  grep -q '"errors"' /tmp/asof-answer.json && { echo " error:"; cat /tmp/asof-answer.json; exit 1; }
  return 0
}
ask() {
  local asof=$1
  local body
  if [ -z "$asof" ]; then
    body='{"query":"{ wijk(code: \"WK020207\") { budget(year: 2024) { allocated committed spent remaining } initiativeCounts { submitted funded completed total } } }"}'
  else
    body="{\"query\":\"{ wijk(code: \\\"WK020207\\\", asOf: \\\"$asof\\\") { budget(year: 2024) { allocated committed spent remaining } initiativeCounts { submitted funded completed total } } }\"}"
  fi
  post "$body"
}
echo -n "now (baseline), ms:"; for _ in 1 2 3 4 5; do echo -n " $(ask "")"; done; echo
moments=(2018-03-01T12:00:00Z 2019-07-15T08:00:00Z 2020-11-02T16:30:00Z 2021-05-20T10:00:00Z
         2022-09-09T09:09:00Z 2023-12-31T23:00:00Z 2024-06-30T12:00:00Z 2025-10-01T07:45:00Z)
echo -n "asOf, first time, ms:"; for m in "${moments[@]}"; do echo -n " $(ask "$m")"; done; echo
echo -n "asOf, again, ms:"; for m in "${moments[@]}"; do echo -n " $(ask "$m")"; done; echo
printf 'RSS now: %.0f MiB\n' "$(awk '/VmRSS/ {print $2/1024}' /proc/$pid/status)"
post '{"query":"{ initiatives(first: 1, orderBy: {field: SUBMITTED_AT, direction: ASC}) { nodes { id } } }"}' >/dev/null
id=$(sed 's/.*"id":"\([^"]*\)".*/\1/' /tmp/asof-answer.json)
echo -n "one initiative asOf, ms:"
for m in "${moments[@]}"; do
  echo -n " $(post "{\"query\":\"{ initiative(id: \\\"$id\\\", asOf: \\\"$m\\\") { status history { kind } } }\"}")"
done; echo
for m in 2021-05-20T10:00:00Z 2025-10-01T07:45:00Z; do
  page="{\"query\":\"{ wijk(code: \\\"WK020207\\\", asOf: \\\"$m\\\") { initiatives(first: 20) { totalCount nodes { id status } } } }\"}"
  echo "a page of the wijk's initiatives at $m, first and again, ms: $(post "$page") $(post "$page")"
done
for m in 2021-05-20T10:00:00Z 2025-10-01T07:45:00Z; do
  page="{\"query\":\"{ wijk(code: \\\"WK020207\\\", asOf: \\\"$m\\\") { initiatives(first: 20, orderBy: {field: UPDATED_AT, direction: DESC}) { totalCount nodes { id status } } } }\"}"
  echo "the same page by UPDATED_AT (last changes then read from the log) at $m, first and again, ms: $(post "$page") $(post "$page")"
done
printf 'RSS now: %.0f MiB\n' "$(awk '/VmRSS/ {print $2/1024}' /proc/$pid/status)"
