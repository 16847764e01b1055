#!/usr/bin/env bash
# Reproduces the "Webhook intake" numbers in BENCHMARKS.md.
#
# For each concurrency in $CONCURRENCIES and each of $RUNS runs: starts the
# release server on a fresh SQLite database, lets switchboard-loadgen create
# a team and three online agents, fires $MESSAGES messages with 10 %
# redeliveries, checks the database for exactly-once storage, and stops the
# server (SIGTERM to the pid this script started, nothing else). Prints a
# table of medians at the end; every run's JSON stays in $OUT.
#
# Usage (from anywhere; builds first):
#   crates/loadgen/bench.sh                         # 8, 64, 256 workers, 3 runs each
#   CONCURRENCIES=64 RUNS=1 crates/loadgen/bench.sh --batch-max 4
#   SERVER_BIN=/path/to/switchboard crates/loadgen/bench.sh   # a pinned build
# Extra arguments go to switchboard-loadgen. Needs python3 for the table.
# Client and server share the machine: run nothing else meanwhile.
set -euo pipefail

cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
CONCURRENCIES=${CONCURRENCIES:-"8 64 256"}
MESSAGES=${MESSAGES:-50000}
PORT=${PORT:-18080}
OUT=${OUT:-/tmp/sb-load}
SECRET=load
ADMIN=load-admin

# SERVER_BIN pins the server (e.g. one built from a clean checkout of a
# commit); otherwise the working tree's server is built and measured.
if [[ -n "${SERVER_BIN:-}" ]]; then
    cargo build --release -p switchboard-loadgen
else
    cargo build --release -p switchboard-cli -p switchboard-loadgen
    SERVER_BIN=target/release/switchboard
fi
mkdir -p "$OUT"

server_pid=""
stop_server() {
    if [[ -n "$server_pid" ]]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
trap stop_server EXIT

results=()
for c in $CONCURRENCIES; do
    for r in $(seq 1 "$RUNS"); do
        dir="$OUT/c$c-r$r"
        rm -rf "$dir"
        mkdir -p "$dir"
        SWITCHBOARD_APP_SECRET=$SECRET SWITCHBOARD_ADMIN_TOKEN=$ADMIN \
            SWITCHBOARD_DATABASE_URL="sqlite://$dir/load.db" \
            SWITCHBOARD_LISTEN="127.0.0.1:$PORT" SWITCHBOARD_LOG=warn \
            "$SERVER_BIN" serve 2>"$dir/server.log" &
        server_pid=$!
        status=0
        target/release/switchboard-loadgen --url "http://127.0.0.1:$PORT" \
            --secret "$SECRET" --admin-token "$ADMIN" --setup-agents \
            --messages "$MESSAGES" --concurrency "$c" --redelivery-rate 0.1 \
            --seed "$r" --database-url "sqlite://$dir/load.db" --json "$@" \
            >"$dir/result.json" 2>"$dir/loadgen.log" || status=$?
        # Server CPU time (utime + stime) and its metrics (group-commit batch
        # sizes), read before it stops: they show where the time went.
        if [[ -r /proc/$server_pid/stat ]]; then
            awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' \
                "/proc/$server_pid/stat" >"$dir/server_cpu_s"
        fi
        if command -v curl >/dev/null; then
            curl -s "http://127.0.0.1:$PORT/metrics" >"$dir/metrics.txt" || true
        fi
        stop_server
        echo "concurrency $c run $r: exit $status ($dir/result.json)"
        results+=("$dir/result.json")
    done
done

python3 "$(dirname "$0")/summarize.py" "${results[@]}"
