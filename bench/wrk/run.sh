#!/usr/bin/env bash
# Reads against GraphQL's own cost, measured from outside: wrk (64 connections, POST
# application/json) on `{ __typename }` and on a wijk's budget, alternating, 3 rounds of 10 s
# each, against `wijkpuls serve --demo` on a fresh SQLite store. Prints each round, the mean
# requests/s and the ratio budget / __typename (target ≥ 0.8), and the server's CPU time per
# request from /proc (less noisy than requests/s on a shared machine).
#
#   bench/wrk/run.sh [path/to/wijkpuls] [port]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:-target/release/wijkpuls}
port=${2:-18431}
dir=$(mktemp -d)
"$binary" serve --listen "127.0.0.1:$port" --database-url "sqlite://$dir/wrk.db" --demo \
    >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 120); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break
    sleep 0.5
done
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
declare -A rps cpus
for round in 1 2 3; do
    for query in typename budget; do
        before=$(cpu)
        out=$(wrk -t2 -c64 -d10s -s "$here/$query.lua" "http://127.0.0.1:$port/graphql")
        after=$(cpu)
        rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
        count=$(awk '/requests in/ {print $1}' <<<"$out")
        micros=$(awk -v c=$((after - before)) -v n="$count" -v hz="$hz" \
            'BEGIN {printf "%.1f", c * 1e6 / hz / n}')
        grep non-2xx <<<"$out" || true
        echo "round $round $query: $rate requests/s, $micros µs server CPU per request"
        rps[$query]=$(awk -v a="${rps[$query]:-0}" -v b="$rate" 'BEGIN {print a + b / 3}')
        cpus[$query]=$(awk -v a="${cpus[$query]:-0}" -v b="$micros" 'BEGIN {print a + b / 3}')
    done
done
awk -v t="${rps[typename]}" -v b="${rps[budget]}" -v ct="${cpus[typename]}" -v cb="${cpus[budget]}" \
    'BEGIN {
        printf "mean: __typename %.0f/s, budget %.0f/s: ratio %.2f (target >= 0.8)\n", t, b, b / t
        printf "server CPU per request: __typename %.1f µs, budget %.1f µs: ratio %.2f\n", ct, cb, ct / cb
    }'
uptime
