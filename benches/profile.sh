#!/usr/bin/env bash
# Profiles badgegate's cache-hit path, or with --miss its cache-miss path, on
# the release build and prints where the work goes. BENCHMARKS.md quotes its
# output.
#
# Usage: benches/profile.sh [--miss] [--requests N] [--log-level LEVEL] [--out DIR]
#
# 1. callgrind: the gateway runs under valgrind with instrumentation off. After a
#    warm-up, instrumentation is switched on for exactly N signed requests. For
#    hits (default N 20,000) they repeat the request that wrk replays in run.sh.
#    For misses (default N 300) each sends a number no earlier request sent,
#    and the HubSpot source calls benches/mock-upstream, which responds at
#    once. The script prints instructions per request and the top functions by
#    exclusive and inclusive instruction count. Instruction counts do not
#    depend on what else the machine is doing. For hits, the baseline of
#    run.sh then gets the same requests under callgrind, for its count.
#    valgrind hides the CPU's SHA instructions, so the gateway's SHA-256 runs
#    its portable code there; its share is printed apart.
# 2. perf: when `perf record -e cpu-clock` works here, the gateway runs
#    natively under wrk for 10 s while perf samples it, and the script prints
#    the top symbols by CPU time, kernel included. Hits: -t2 -c64, as in
#    run.sh. Misses: -t1 -c1 against the mock with its 5 ms latency, as in
#    run.sh's miss step.
#
# --log-level sets the gateway's log.level (default warn, as in run.sh's
# headline figures; info writes a line per request).
#
# This script builds the release binary, the baseline (hits) or the mock
# upstream (misses), and nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

REQUESTS=""
MISS=false
LEVEL=warn
OUT=""
# needs_value OPTION ARGUMENTS...: stops when OPTION has no value after it.
needs_value() {
    [ $# -ge 2 ] || { echo "error: $1 needs a value; see $0 --help" >&2; exit 2; }
}
while [ $# -gt 0 ]; do
    case "$1" in
        --miss) MISS=true ;;
        --requests) needs_value "$@"; REQUESTS=$2; shift ;;
        --log-level) needs_value "$@"; LEVEL=$2; shift ;;
        --out) needs_value "$@"; OUT=$2; shift ;;
        -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument \`$1\`; see $0 --help" >&2; exit 2 ;;
    esac
    shift
done

fail() {
    echo "error: $*" >&2
    exit 1
}
if [ -z "$REQUESTS" ]; then
    REQUESTS=$([ "$MISS" = true ] && echo 300 || echo 20000)
fi
[[ "$REQUESTS" =~ ^[1-9][0-9]*$ ]] || fail "--requests must be a positive whole number, not \`$REQUESTS\`"
case "$LEVEL" in
    trace|debug|info|warn|error) ;;
    *) fail "--log-level must be trace, debug, info, warn or error, not \`$LEVEL\`" ;;
esac
for tool in valgrind callgrind_control callgrind_annotate curl python3 wrk; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done

OUT=${OUT:-$ROOT/target/bench-results/profile-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
TOOL="python3 $ROOT/benches/scripts/benchtool.py"
SECRET="bench-secret"

cargo build --release --locked --bin badgegate
GATEWAY=$ROOT/target/release/badgegate
MOCK=""
BASELINE=""
if [ "$MISS" = true ]; then
    cargo build --release --locked --manifest-path benches/Cargo.toml --target-dir target/bench-tools \
        --bin mock-upstream
    MOCK=$ROOT/target/bench-tools/release/mock-upstream
else
    cargo build --release --locked --manifest-path benches/Cargo.toml --target-dir target/bench-tools \
        --bin baseline
    BASELINE=$ROOT/target/bench-tools/release/baseline
fi

PID=""
MOCK_PID=""
cleanup() {
    for pid in "$PID" "$MOCK_PID"; do
        if [ -n "$pid" ]; then
            kill "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port=$(free_port)
url=http://127.0.0.1:$port/justcall/contact-badge
if [ "$MISS" = true ]; then
    mock_port=$(free_port)
    kind="cache misses"
    source_table="[[sources]]
name = \"hubspot\"
type = \"hubspot\"
access_token = \"bench-token\"
base_url = \"http://127.0.0.1:$mock_port\"
portal_id = 44237313
# HubSpot's default of 4 calls per second would throttle the profile.
rate_limit_per_sec = 0"
else
    kind="cache hits"
    source_table="[[sources]]
name = \"contacts\"
type = \"file\"
path = \"$ROOT/examples/contacts.csv\""
fi
printf '%s\n' \
    "# Written by benches/profile.sh: the configuration of benches/run.sh for $kind." \
    "[server]" "listen = \"127.0.0.1:$port\"" "" \
    "[justcall]" "secrets = [\"$SECRET\"]" "timestamp_tolerance_secs = 0" "" \
    "[log]" "level = \"$LEVEL\"" "" \
    "[admin]" "listen = \"\"" "" \
    "$source_table" >"$OUT/gateway.toml"

if [ "$MISS" = true ]; then
    # Numbers no other request sends, so every request is a miss.
    $TOOL requests --url "$url" --secret "$SECRET" --count 200 --first 7000000 --salt 1 \
        --out "$OUT/warmup.txt"
    $TOOL requests --url "$url" --secret "$SECRET" --count "$REQUESTS" --first 7100000 --salt 2 \
        --out "$OUT/measured.txt"
    $TOOL requests --url "$url" --secret "$SECRET" --count 20000 --first 7500000 --salt 3 \
        --out "$OUT/wrk.txt"
    connections=1
else
    $TOOL requests --url "$url" --secret "$SECRET" --count 1 --number 14155550123 --out "$OUT/wrk.txt"
    # The same signed request N times, as wrk sends it.
    yes "$(cat "$OUT/wrk.txt")" | head -n "$REQUESTS" >"$OUT/measured.txt" || true
    yes "$(cat "$OUT/wrk.txt")" | head -n 2000 >"$OUT/warmup.txt" || true
    connections=4
fi

# wait_http URL PID NAME LOG: waits until URL responds, failing when the
# process PID exits or 5 minutes pass. Under valgrind the gateway starts
# slowly.
wait_http() {
    local attempt
    for attempt in $(seq 1200); do
        curl -s -o /dev/null "$1" && return 0
        kill -0 "$2" 2>/dev/null || fail "$3 exited; see $4"
        sleep 0.25
    done
    fail "$3 did not start within 5 minutes"
}

wait_ready() {
    wait_http "http://127.0.0.1:$port/healthz" "$PID" "the gateway" "$OUT/gateway.log"
}

# start_mock LATENCY_MS: the mock HubSpot search of the miss profile.
start_mock() {
    "$MOCK" --listen "127.0.0.1:$mock_port" --latency-ms "$1" >"$OUT/mock-upstream.log" 2>&1 &
    MOCK_PID=$!
    wait_http "http://127.0.0.1:$mock_port/calls" "$MOCK_PID" "the mock upstream" "$OUT/mock-upstream.log"
}

stop_mock() {
    if [ -n "$MOCK_PID" ]; then
        kill "$MOCK_PID" 2>/dev/null || true
        wait "$MOCK_PID" 2>/dev/null || true
        MOCK_PID=""
    fi
}

# count_requests PORT NAME: sends the warm-up requests to the server PID
# listening on PORT, then the measured ones with callgrind's instrumentation
# on, checks that each got a badge, and stops the server.
count_requests() {
    local sent
    $TOOL send "$OUT/warmup.txt" --port "$1" --connections "$connections" >/dev/null
    callgrind_control -i on "$PID" >/dev/null
    sent=$($TOOL send "$OUT/measured.txt" --port "$1" --connections "$connections")
    callgrind_control -i off "$PID" >/dev/null
    echo "  $sent"
    [[ "$sent" == *"\"found\": $REQUESTS,"* ]] || fail "$2 did not answer every request with a badge: $sent"
    kill -INT "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
}

echo "== callgrind: $REQUESTS $kind"
if [ "$MISS" = true ]; then
    start_mock 0
fi
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.out" \
    "$GATEWAY" serve --config "$OUT/gateway.toml" >/dev/null 2>"$OUT/gateway.log" &
PID=$!
wait_ready
count_requests "$port" "the gateway"
stop_mock

callgrind_annotate --inclusive=no "$OUT/callgrind.out" >"$OUT/callgrind-exclusive.txt"
callgrind_annotate --inclusive=yes "$OUT/callgrind.out" >"$OUT/callgrind-inclusive.txt"
total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$OUT/callgrind-exclusive.txt")
echo "  instructions: $total in all, $((total / REQUESTS)) per request"
echo "  top functions by exclusive instructions (full list: $OUT/callgrind-exclusive.txt):"
grep -E -m 25 '^ *[0-9,]+ \([ 0-9.]+%\)' "$OUT/callgrind-exclusive.txt" | cut -c1-200
echo "  top functions by inclusive instructions (full list: $OUT/callgrind-inclusive.txt):"
grep -E -m 40 '^ *[0-9,]+ \([ 0-9.]+%\)' "$OUT/callgrind-inclusive.txt" | cut -c1-200
sha=$(awk '/sha2::sha256::compress256/ { gsub(",", "", $1); sum += $1 } END { print sum + 0 }' \
    "$OUT/callgrind-exclusive.txt")
echo "  of which SHA-256's portable code (the CPU's SHA instructions natively): $((sha / REQUESTS)) per request"

if [ "$MISS" = false ]; then
    echo "== callgrind: the baseline answering the same $REQUESTS requests"
    base_port=$(free_port)
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind-baseline.out" \
        "$BASELINE" --listen "127.0.0.1:$base_port" --workers 2 >/dev/null 2>"$OUT/baseline.log" &
    PID=$!
    wait_http "http://127.0.0.1:$base_port/justcall/contact-badge" "$PID" "the baseline" "$OUT/baseline.log"
    count_requests "$base_port" "the baseline"
    callgrind_annotate --inclusive=no "$OUT/callgrind-baseline.out" >"$OUT/callgrind-baseline.txt"
    base_total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$OUT/callgrind-baseline.txt")
    echo "  instructions: $base_total in all, $((base_total / REQUESTS)) per request (full list: $OUT/callgrind-baseline.txt)"
    echo "  the gateway minus the baseline: $(((total - base_total) / REQUESTS)) per request," \
        "$(((total - sha - base_total) / REQUESTS)) without SHA-256's portable code"
fi

if perf record -e cpu-clock -o /dev/null -- true >/dev/null 2>&1; then
    if [ "$MISS" = true ]; then
        echo "== perf: CPU time by symbol under wrk -t1 -c1 for 10 s, the mock answering after 5 ms"
        start_mock 5
        wrk_threads=1
        wrk_connections=1
    else
        echo "== perf: CPU time by symbol under wrk -t2 -c64 for 10 s"
        wrk_threads=2
        wrk_connections=64
    fi
    "$GATEWAY" serve --config "$OUT/gateway.toml" >/dev/null 2>"$OUT/gateway-perf.log" &
    PID=$!
    wait_ready
    if [ "$MISS" = false ]; then
        $TOOL send "$OUT/wrk.txt" --port "$port" --connections 1 >/dev/null
    fi
    BENCH_REQUESTS=$OUT/wrk.txt BENCH_THREADS=$wrk_threads \
        wrk -t"$wrk_threads" -c"$wrk_connections" -d12s --latency \
        -s "$ROOT/benches/scripts/requests.lua" "$url" >"$OUT/wrk-perf.txt" &
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
