#!/usr/bin/env bash
# Profiles badgegate's cache-hit path on the release build and prints where
# the work goes. BENCHMARKS.md quotes its output.
#
# Usage: benches/profile.sh [--requests N] [--out DIR]
#
# 1. callgrind: the gateway runs under valgrind with instrumentation off. After a
#    warm-up, instrumentation is switched on for exactly N signed cache-hit
#    requests (default 20,000). They repeat the request that wrk replays in
#    run.sh. The script prints instructions per request and the top functions by
#    exclusive and inclusive instruction count. Instruction counts do not
#    depend on what else the machine is doing.
# 2. perf: when `perf record -e cpu-clock` works here, the gateway runs
#    natively under wrk load (-t2 -c64, as in run.sh) for 10 s while perf
#    samples it, and the script prints the top symbols by CPU time, kernel
#    included.
#
# Run benches/run.sh --only hit once first if target/release/badgegate is
# missing; this script builds nothing but the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

REQUESTS=20000
OUT=""
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) REQUESTS=$2; shift ;;
        --out) OUT=$2; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument \`$1\`; see $0 --help" >&2; exit 2 ;;
    esac
    shift
done
OUT=${OUT:-$ROOT/target/bench-results/profile-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
TOOL="python3 $ROOT/benches/scripts/benchtool.py"
SECRET="bench-secret"

fail() {
    echo "error: $*" >&2
    exit 1
}
for tool in valgrind callgrind_control callgrind_annotate curl python3 wrk; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done

cargo build --release --locked --bin badgegate
GATEWAY=$ROOT/target/release/badgegate

PID=""
cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$OUT/gateway.toml" <<EOF
# Written by benches/profile.sh: the cache-hit configuration of benches/run.sh.
[server]
listen = "127.0.0.1:$port"

[justcall]
secrets = ["$SECRET"]
timestamp_tolerance_secs = 0

[log]
level = "warn"

[admin]
listen = ""

[[sources]]
name = "contacts"
type = "file"
path = "$ROOT/examples/contacts.csv"
EOF
url=http://127.0.0.1:$port/justcall/contact-badge
$TOOL requests --url "$url" --secret "$SECRET" --count 1 --number 14155550123 --out "$OUT/hit.txt"
# The same signed request N times, as wrk sends it.
yes "$(cat "$OUT/hit.txt")" | head -n "$REQUESTS" >"$OUT/hits.txt" || true
yes "$(cat "$OUT/hit.txt")" | head -n 2000 >"$OUT/warmup.txt" || true

wait_ready() {
    local attempt
    for attempt in $(seq 1200); do
        curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && return 0
        kill -0 "$PID" 2>/dev/null || fail "the gateway exited; see $OUT/gateway.log"
        sleep 0.25
    done
    fail "the gateway did not start within 5 minutes"
}

echo "== callgrind: $REQUESTS cache hits"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out" \
    "$GATEWAY" serve --config "$OUT/gateway.toml" >/dev/null 2>"$OUT/gateway.log" &
PID=$!
wait_ready
$TOOL send "$OUT/warmup.txt" --port "$port" --connections 4 >/dev/null
callgrind_control -i on "$PID" >/dev/null
sent=$($TOOL send "$OUT/hits.txt" --port "$port" --connections 4)
callgrind_control -i off "$PID" >/dev/null
echo "  $sent"
[[ "$sent" == *"\"found\": $REQUESTS,"* ]] || fail "not every request was answered with a badge: $sent"
kill -INT "$PID"
wait "$PID" 2>/dev/null || true
PID=""

callgrind_annotate --inclusive=no "$OUT/callgrind.out" >"$OUT/callgrind-exclusive.txt"
callgrind_annotate --inclusive=yes "$OUT/callgrind.out" >"$OUT/callgrind-inclusive.txt"
total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$OUT/callgrind-exclusive.txt")
echo "  instructions: $total in all, $((total / REQUESTS)) per request"
echo "  top functions by exclusive instructions (full list: $OUT/callgrind-exclusive.txt):"
grep -E '^ *[0-9,]+ \([ 0-9.]+%\)' "$OUT/callgrind-exclusive.txt" | head -n 25 | cut -c1-200
echo "  top functions by inclusive instructions (full list: $OUT/callgrind-inclusive.txt):"
grep -E '^ *[0-9,]+ \([ 0-9.]+%\)' "$OUT/callgrind-inclusive.txt" | head -n 40 | cut -c1-200

if perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1; then
    echo "== perf: CPU time by symbol under wrk -t2 -c64 for 10 s"
    "$GATEWAY" serve --config "$OUT/gateway.toml" >/dev/null 2>"$OUT/gateway-perf.log" &
    PID=$!
    wait_ready
    $TOOL send "$OUT/hit.txt" --port "$port" --connections 1 >/dev/null
    BENCH_REQUESTS=$OUT/hit.txt BENCH_THREADS=2 \
        wrk -t2 -c64 -d12s --latency -s "$ROOT/benches/scripts/requests.lua" "$url" >"$OUT/wrk-perf.txt" &
    wrk_pid=$!
    sleep 1
    perf record -e cpu-clock -F 2000 -p "$PID" -o "$OUT/perf.data" -- sleep 10 >/dev/null 2>&1
    wait "$wrk_pid"
    perf report -i "$OUT/perf.data" --stdio --no-children --sort symbol 2>/dev/null \
        | grep -v '^#' | grep -v '^$' >"$OUT/perf-symbols.txt" || true
    echo "  top symbols by CPU samples (full list: $OUT/perf-symbols.txt):"
    head -n 30 "$OUT/perf-symbols.txt" | cut -c1-160
else
    echo "== perf: skipped, because perf record -e cpu-clock does not work on this machine"
fi
