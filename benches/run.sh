#!/usr/bin/env bash
# Runs badgegate's benchmark suite on 127.0.0.1 and prints a results table.
# BENCHMARKS.md describes the method, the targets and the latest figures.
#
# Usage: benches/run.sh [--smoke] [--rounds N] [--duration SECS] [--only STEPS] [--out DIR]
#
#   --smoke          a few seconds per step on a debug build, with small data,
#                    to check that the suite still runs; its figures mean
#                    nothing, and it sets the rounds and durations itself
#   --rounds N       rounds of each throughput and latency comparison (default 3)
#   --duration SECS  length of each measured wrk run (default 10)
#   --only STEPS     comma-separated subset of hit,miss,memory,coalescing,micro
#   --out DIR        where results go (default target/bench-results/<UTC time>)
#
# The script exits non-zero only when a step cannot run or its responses are
# wrong (a failed build, a server that does not start, non-2xx responses, a
# missing badge). A figure that misses its target is reported, not failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

SMOKE=0
ROUNDS=3
DURATION=10
STEPS="hit,miss,memory,coalescing,micro"
OUT=""
# needs_value OPTION ARGUMENTS...: stops when OPTION has no value after it.
needs_value() {
    [ $# -ge 2 ] || { echo "error: $1 needs a value; see $0 --help" >&2; exit 2; }
}
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) SMOKE=1 ;;
        --rounds) needs_value "$@"; ROUNDS=$2; shift ;;
        --duration) needs_value "$@"; DURATION=$2; shift ;;
        --only) needs_value "$@"; STEPS=$2; shift ;;
        --out) needs_value "$@"; OUT=$2; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "error: unknown argument \`$1\`; see $0 --help" >&2; exit 2 ;;
    esac
    shift
done
for value in "$ROUNDS" "$DURATION"; do
    [[ "$value" =~ ^[1-9][0-9]*$ ]] || {
        echo "error: --rounds and --duration take a positive whole number, not \`$value\`" >&2
        exit 2
    }
done
for step in ${STEPS//,/ }; do
    case "$step" in
        hit|miss|memory|coalescing|micro) ;;
        *)
            echo "error: unknown step \`$step\` in --only; the steps are hit, miss, memory, coalescing and micro" >&2
            exit 2
            ;;
    esac
done

# Load shape of every throughput run, the same for badgegate and the baseline.
WRK_THREADS=2
WRK_CONNECTIONS=64
WARMUP=2
MEMORY_CONTACTS=200000
BURST=1000
MISS_CHECKS=200
PROFILE=release
if [ "$SMOKE" = 1 ]; then
    ROUNDS=1
    DURATION=1
    WRK_THREADS=1
    WRK_CONNECTIONS=4
    WARMUP=0
    MEMORY_CONTACTS=2000
    BURST=100
    MISS_CHECKS=20
    PROFILE=dev
fi
PROFILE_DIR=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
WORKERS=$(nproc)
SECRET="bench-secret"
# The gateways of the hit step, in the order odd rounds measure them after
# the baseline: at warn, at info, and at warn without signature checks.
HIT_GATEWAYS="gateway gateway-info gateway-unverified"
TOOL="python3 $ROOT/benches/scripts/benchtool.py"
LUA="$ROOT/benches/scripts/requests.lua"

OUT=${OUT:-$ROOT/target/bench-results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

step_enabled() { [[ ",$STEPS," == *",$1,"* ]]; }
log() { echo "== [${SECONDS} s] $*"; }
fail() {
    echo "error: $*" >&2
    exit 1
}

# --- processes --------------------------------------------------------------

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

# start_server LOG COMMAND...: starts COMMAND in the background with its
# standard error appended to LOG, and sets STARTED_PID.
start_server() {
    local log=$1
    shift
    "$@" >/dev/null 2>>"$log" &
    STARTED_PID=$!
    PIDS+=("$STARTED_PID")
}

stop_server() {
    local pid=$1 kept=() other
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for other in "${PIDS[@]}"; do
        [ "$other" = "$pid" ] || kept+=("$other")
    done
    PIDS=("${kept[@]}")
}

# wait_http URL PID LOG: waits up to 5 minutes for URL to send any HTTP
# response, failing at once if the process exits. Loading 200,000 contacts
# takes a while.
wait_http() {
    local url=$1 pid=$2 log=$3 attempt status
    for attempt in $(seq 3000); do
        status=$(curl -sS -o /dev/null -w '%{http_code}' "$url" 2>/dev/null || true)
        if [ -n "$status" ] && [ "$status" != 000 ]; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || fail "the server for $url exited; its log $log ends with:
$(tail -n 20 "$log")"
        sleep 0.1
    done
    fail "$url did not answer within 5 minutes; see $log"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

upstream_calls() {
    curl -fsS "http://127.0.0.1:$1/calls" | python3 -c 'import json, sys; print(json.load(sys.stdin)["calls"])'
}

# run_wrk TAGS REQUESTS URL THREADS CONNECTIONS SECONDS: one measured wrk run,
# appended to the results with TAGS (a JSON object).
run_wrk() {
    local tags=$1 requests=$2 url=$3 threads=$4 connections=$5 seconds=$6 output
    echo "  $tags"
    output=$(BENCH_REQUESTS=$requests BENCH_THREADS=$threads \
        wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency --timeout 5s -s "$LUA" "$url")
    printf '%s\n%s\n\n' "$tags" "$output" >>"$OUT/wrk.log"
    $TOOL record "$RESULTS" --tags "$tags" <<<"$output"
}

# warm_up REQUESTS URL THREADS CONNECTIONS: an unrecorded wrk run of WARMUP seconds.
warm_up() {
    [ "$WARMUP" -gt 0 ] || return 0
    BENCH_REQUESTS=$1 BENCH_THREADS=$3 \
        wrk -t"$3" -c"$4" -d"${WARMUP}s" --timeout 5s -s "$LUA" "$2" >/dev/null
}

# write_config FILE PORT LEVEL TABLES [JUSTCALL_KEYS] [LOG_KEYS]: a gateway
# config listening on PORT with the replay window and the admin listener off.
# TABLES (sources, cache) is appended; the optional key lines go into the
# [justcall] and [log] tables.
write_config() {
    local file=$1 port=$2 level=$3 tables=$4 justcall_keys=${5:-} log_keys=${6:-}
    cat >"$file" <<EOF
# Written by benches/run.sh.
[server]
listen = "127.0.0.1:$port"

[justcall]
secrets = ["$SECRET"]
# The benchmark signs its requests once, before wrk replays them for minutes.
timestamp_tolerance_secs = 0
$justcall_keys

[log]
level = "$level"
$log_keys

[admin]
listen = ""

$tables
EOF
}

# --- prerequisites and builds -----------------------------------------------

if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi
for tool in wrk curl python3 cargo; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is not installed"
done

log "building badgegate ($PROFILE profile)"
cargo build --profile "$PROFILE" --locked --bin badgegate
log "building the baseline, the mock upstream and the relay ($PROFILE profile)"
cargo build --profile "$PROFILE" --locked --manifest-path benches/Cargo.toml --target-dir target/bench-tools
GATEWAY=$ROOT/target/$PROFILE_DIR/badgegate
BASELINE=$ROOT/target/bench-tools/$PROFILE_DIR/baseline
MOCK=$ROOT/target/bench-tools/$PROFILE_DIR/mock-upstream
RELAY=$ROOT/target/bench-tools/$PROFILE_DIR/relay

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores available"
    echo "memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "os: $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r) $(uname -m)"
    echo "rustc: $(rustc --version)"
    echo "wrk: $(wrk --version 2>&1 | head -n 1)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "source: commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(git status --porcelain 2>/dev/null | wc -l) paths changed or untracked"
    echo "profile: $PROFILE; rounds: $ROUNDS; wrk: -t$WRK_THREADS -c$WRK_CONNECTIONS -d${DURATION}s; server workers: $WORKERS"
} | tee "$OUT/machine.txt"

# --- 1. cache-hit throughput and latency against the baseline ---------------

if step_enabled hit; then
    log "cache hits: badgegate against the bare actix-web baseline"
    port_baseline=$(free_port)
    start_server "$OUT/baseline.log" "$BASELINE" --listen "127.0.0.1:$port_baseline" --workers "$WORKERS"
    pid_baseline=$STARTED_PID

    sources="[[sources]]
name = \"contacts\"
type = \"file\"
path = \"$ROOT/examples/contacts.csv\""
    # gateway-unverified checks no signature: the difference from gateway is
    # what verifying costs, which the baseline does not do.
    declare -A hit_port hit_pid hit_requests
    for server in $HIT_GATEWAYS; do
        level=$([ "$server" = gateway-info ] && echo info || echo warn)
        justcall_keys=$([ "$server" = gateway-unverified ] && echo "verify_signatures = false" || true)
        hit_port[$server]=$(free_port)
        write_config "$OUT/$server.toml" "${hit_port[$server]}" "$level" "$sources" "$justcall_keys"
        start_server "$OUT/$server.log" "$GATEWAY" serve --config "$OUT/$server.toml"
        hit_pid[$server]=$STARTED_PID
        # The first sample contact, Ada Lovelace, with the number as JustCall sends it.
        hit_requests[$server]=$OUT/hit-$server.txt
        $TOOL requests --url "http://127.0.0.1:${hit_port[$server]}/justcall/contact-badge" \
            --secret "$SECRET" --count 1 --number 14155550123 --out "${hit_requests[$server]}"
    done
    wait_http "http://127.0.0.1:$port_baseline/justcall/contact-badge" "$pid_baseline" "$OUT/baseline.log"
    for server in $HIT_GATEWAYS; do
        wait_http "http://127.0.0.1:${hit_port[$server]}/healthz" "${hit_pid[$server]}" "$OUT/$server.log"
        check=$($TOOL send "${hit_requests[$server]}" --port "${hit_port[$server]}" --connections 1)
        [[ "$check" == *'"found": 1'* ]] || fail "$server did not answer the signed request with a badge: $check"
    done

    declare -A url
    url[baseline]=http://127.0.0.1:$port_baseline/justcall/contact-badge
    for server in $HIT_GATEWAYS; do
        url[$server]=http://127.0.0.1:${hit_port[$server]}/justcall/contact-badge
    done
    for round in $(seq "$ROUNDS"); do
        # Odd rounds measure the baseline first and even rounds last, so a
        # drift in the machine's speed during a round favours neither. The
        # headline comparison, baseline against gateway, runs back to back.
        order="baseline $HIT_GATEWAYS"
        [ $((round % 2)) = 0 ] && order="$(echo "$HIT_GATEWAYS" | tr ' ' '\n' | tac | tr '\n' ' ')baseline"
        for server in $order; do
            # The baseline verifies nothing, so it gets the gateway's request as is.
            requests=${hit_requests[gateway]}
            [ "$server" = baseline ] || requests=${hit_requests[$server]}
            warm_up "$requests" "${url[$server]}" "$WRK_THREADS" "$WRK_CONNECTIONS"
            run_wrk "{\"test\": \"hit\", \"server\": \"$server\", \"round\": $round}" "$requests" \
                "${url[$server]}" "$WRK_THREADS" "$WRK_CONNECTIONS" "$DURATION"
            if [ "$server" = gateway-info ]; then
                # Keeps the info-level log from filling the disk; it is opened for appending.
                : >"$OUT/gateway-info.log"
            fi
        done
    done
    stop_server "$pid_baseline"
    for server in $HIT_GATEWAYS; do
        stop_server "${hit_pid[$server]}"
    done
fi

# The HubSpot source of the miss and coalescing steps, pointed at the mock.
hubspot_source() {
    cat <<EOF
[[sources]]
name = "hubspot"
type = "hubspot"
access_token = "bench-token"
base_url = "http://127.0.0.1:$1"
portal_id = 44237313
# HubSpot's default of 4 calls per second would throttle the benchmark.
rate_limit_per_sec = 0
EOF
}

# --- 2. cache-miss overhead over a 5 ms upstream ------------------------------

if step_enabled miss; then
    log "cache misses: end-to-end latency through badgegate against the upstream alone, one connection"
    port_mock=$(free_port)
    start_server "$OUT/mock-upstream.log" "$MOCK" --listen "127.0.0.1:$port_mock" --latency-ms 5
    pid_mock=$STARTED_PID
    # A bare TCP relay in front of the mock: what any proxy adds.
    port_relay=$(free_port)
    start_server "$OUT/relay.log" "$RELAY" --listen "127.0.0.1:$port_relay" --upstream "127.0.0.1:$port_mock"
    pid_relay=$STARTED_PID
    port=$(free_port)
    write_config "$OUT/gateway-miss.toml" "$port" warn "$(hubspot_source "$port_mock")"
    start_server "$OUT/gateway-miss.log" "$GATEWAY" serve --config "$OUT/gateway-miss.toml"
    pid=$STARTED_PID
    wait_http "http://127.0.0.1:$port_mock/calls" "$pid_mock" "$OUT/mock-upstream.log"
    wait_http "http://127.0.0.1:$port/healthz" "$pid" "$OUT/gateway-miss.log"

    gateway_url=http://127.0.0.1:$port/justcall/contact-badge
    direct_url=http://127.0.0.1:$port_mock/crm/v3/objects/contacts/search
    relay_url=http://127.0.0.1:$port_relay/crm/v3/objects/contacts/search
    $TOOL search-body --index 4000000 --out "$OUT/miss-direct.txt"
    # Every request asks for a number no earlier request asked for, at about
    # 200 requests per second on one connection; 1,000 per second of run
    # leaves room.
    per_round=$((DURATION * 1000 + 1000))
    $TOOL requests --url "$gateway_url" --secret "$SECRET" --count "$MISS_CHECKS" --first 3000000 \
        --salt 98 --out "$OUT/miss-check.txt"
    check=$($TOOL send "$OUT/miss-check.txt" --port "$port" --connections 1)
    [[ "$check" == *"\"found\": $MISS_CHECKS,"* ]] || fail "badgegate did not answer uncached numbers with badges: $check"
    $TOOL requests --url "$gateway_url" --secret "$SECRET" --count 2000 --first 4000000 --salt 99 \
        --out "$OUT/miss-warmup.txt"
    warm_up "$OUT/miss-direct.txt" "$direct_url" 1 1
    warm_up "$OUT/miss-direct.txt" "$relay_url" 1 1
    warm_up "$OUT/miss-warmup.txt" "$gateway_url" 1 1
    # Two conditions: "idle", where the cores sleep between requests as
    # they would on a quiet host, and "awake", where one busy loop per core
    # at the lowest priority keeps them from sleeping. On a virtual machine a
    # core woken from sleep can take tens of microseconds to run the woken
    # thread, and a proxy adds two such wake-ups per request. The difference
    # between the conditions shows how much of the overhead that is.
    for cpus in idle awake; do
        spinners=()
        if [ "$cpus" = awake ]; then
            for _ in $(seq "$WORKERS"); do
                nice -n 19 sh -c 'while :; do :; done' &
                spinners+=("$!")
                PIDS+=("$!")
            done
        fi
        for round in $(seq "$ROUNDS"); do
            run_wrk "{\"test\": \"miss\", \"cpus\": \"$cpus\", \"server\": \"upstream-direct\", \"round\": $round}" \
                "$OUT/miss-direct.txt" "$direct_url" 1 1 "$DURATION"
            run_wrk "{\"test\": \"miss\", \"cpus\": \"$cpus\", \"server\": \"relay\", \"round\": $round}" \
                "$OUT/miss-direct.txt" "$relay_url" 1 1 "$DURATION"
            requests=$OUT/miss-$cpus-round-$round.txt
            first=$((5000000 + round * 100000 + $([ "$cpus" = awake ] && echo 50000 || echo 0)))
            $TOOL requests --url "$gateway_url" --secret "$SECRET" --count "$per_round" \
                --first "$first" --salt "$round" --out "$requests"
            before=$(upstream_calls "$port_mock")
            run_wrk "{\"test\": \"miss\", \"cpus\": \"$cpus\", \"server\": \"gateway\", \"round\": $round}" \
                "$requests" "$gateway_url" 1 1 "$DURATION"
            calls=$(($(upstream_calls "$port_mock") - before))
            answered=$(tail -n 1 "$RESULTS" | python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])')
            echo "  upstream calls during the run: $calls for $answered answered requests"
            # wrk does not count a request still in flight when the run ends.
            [ "$calls" -ge "$answered" ] || fail "$answered requests made only $calls upstream calls, so some were not misses"
        done
        for spinner in "${spinners[@]}"; do
            stop_server "$spinner"
        done
    done
    if grep -q "source lookup failed" "$OUT/gateway-miss.log"; then
        fail "upstream calls failed during the miss step; see $OUT/gateway-miss.log"
    fi
    stop_server "$pid"
    stop_server "$pid_relay"
    stop_server "$pid_mock"
fi

# --- 3. memory per cached contact ---------------------------------------------

if step_enabled memory; then
    log "memory: RSS growth for $MEMORY_CONTACTS cached contacts"
    $TOOL contacts --count "$MEMORY_CONTACTS" --out "$OUT/contacts.csv" | tee "$OUT/contacts-stats.json"
    for variant in signed unverified; do
        port=$(free_port)
        tables="[cache]
# Room for every contact, so none is evicted.
max_entries = $((MEMORY_CONTACTS * 2))

[[sources]]
name = \"contacts\"
type = \"file\"
path = \"$OUT/contacts.csv\""
        justcall_keys=""
        unsigned_flag=()
        if [ "$variant" = unverified ]; then
            justcall_keys="verify_signatures = false"
            unsigned_flag=(--unsigned)
        fi
        write_config "$OUT/gateway-memory-$variant.toml" "$port" warn "$tables" "$justcall_keys"
        url=http://127.0.0.1:$port/justcall/contact-badge
        $TOOL requests --url "$url" --secret "$SECRET" --count "$MEMORY_CONTACTS" --salt 7 \
            "${unsigned_flag[@]}" --out "$OUT/memory-fill-$variant.txt"
        # The warm-up asks 2,000 times for one number outside the file, so it
        # adds one "not found" entry and leaves the connections and buffers in use.
        $TOOL requests --url "$url" --secret "$SECRET" --count 2000 --first "$((MEMORY_CONTACTS + 1))" \
            --same --salt 8 "${unsigned_flag[@]}" --out "$OUT/memory-warmup-$variant.txt"

        # mimalloc returns freed pages only after a delay, at its next call
        # on the thread that freed them. So the pages left over from loading
        # the contacts file would leave at a random moment of the
        # measurement. With no delay they leave at once.
        start_server "$OUT/gateway-memory-$variant.log" env MIMALLOC_PURGE_DELAY=0 \
            "$GATEWAY" serve --config "$OUT/gateway-memory-$variant.toml"
        pid=$STARTED_PID
        wait_http "http://127.0.0.1:$port/healthz" "$pid" "$OUT/gateway-memory-$variant.log"
        rss_loaded=$(rss_kib "$pid")
        $TOOL send "$OUT/memory-warmup-$variant.txt" --port "$port" >/dev/null
        sleep 1
        rss_before=$(rss_kib "$pid")
        if [ "$variant" = unverified ]; then
            # Cache hits on the warm-up number add no entry, so growth here is
            # per request. They run before the fill, because memory freed by
            # the fill's misses would hide it. Unsigned requests keep the
            # replay memory out of it.
            $TOOL requests --url "$url" --secret "$SECRET" --count "$MEMORY_CONTACTS" \
                --first "$((MEMORY_CONTACTS + 1))" --same --salt 9 --unsigned --out "$OUT/memory-hits.txt"
            hits=$($TOOL send "$OUT/memory-hits.txt" --port "$port")
            [[ "$hits" == *"\"statuses\": {\"200\": $MEMORY_CONTACTS}"* ]] || fail "not every cache hit was answered: $hits"
            sleep 1
            rss_hits=$(rss_kib "$pid")
            result=$(python3 -c "
import json
growth = $rss_hits - $rss_before
print(json.dumps({'test': 'memory-hits', 'requests': $MEMORY_CONTACTS, 'rss_growth_kib': growth,
                  'bytes_per_request': growth * 1024 / $MEMORY_CONTACTS}))")
            echo "  $result"
            $TOOL add "$RESULTS" --json "$result"
            rss_before=$rss_hits
        fi
        fill=$($TOOL send "$OUT/memory-fill-$variant.txt" --port "$port")
        echo "  $fill"
        [[ "$fill" == *"\"found\": $MEMORY_CONTACTS,"* ]] || fail "not every contact was found: $fill"
        sleep 2
        rss_after=$(rss_kib "$pid")
        result=$(python3 -c "
import json
growth = $rss_after - $rss_before
print(json.dumps({'test': 'memory', 'variant': '$variant', 'entries': $MEMORY_CONTACTS,
                  'rss_loaded_kib': $rss_loaded, 'rss_before_kib': $rss_before,
                  'rss_after_kib': $rss_after, 'rss_growth_kib': growth,
                  'bytes_per_entry': growth * 1024 / $MEMORY_CONTACTS}))")
        echo "  $result"
        $TOOL add "$RESULTS" --json "$result"
        stop_server "$pid"
    done
fi

# --- 4. coalescing of concurrent misses ---------------------------------------

if step_enabled coalescing; then
    log "coalescing: $BURST concurrent requests for one uncached number"
    port_mock=$(free_port)
    # A slow upstream keeps the one run in flight while the burst arrives.
    start_server "$OUT/mock-upstream-slow.log" "$MOCK" --listen "127.0.0.1:$port_mock" --latency-ms 300
    pid_mock=$STARTED_PID
    port=$(free_port)
    # JSON log lines at info level say whether each answer was a cache hit or miss.
    write_config "$OUT/gateway-coalescing.toml" "$port" info "$(hubspot_source "$port_mock")" "" \
        'format = "json"'
    : >"$OUT/gateway-coalescing.log"
    start_server "$OUT/gateway-coalescing.log" "$GATEWAY" serve --config "$OUT/gateway-coalescing.toml"
    pid=$STARTED_PID
    wait_http "http://127.0.0.1:$port_mock/calls" "$pid_mock" "$OUT/mock-upstream-slow.log"
    wait_http "http://127.0.0.1:$port/healthz" "$pid" "$OUT/gateway-coalescing.log"
    $TOOL requests --url "http://127.0.0.1:$port/justcall/contact-badge" --secret "$SECRET" \
        --count "$BURST" --number 13125550199 --salt 11 --out "$OUT/burst.txt"
    before=$(upstream_calls "$port_mock")
    burst=$($TOOL burst "$OUT/burst.txt" --port "$port")
    calls=$(($(upstream_calls "$port_mock") - before))
    sleep 0.5
    labels=$($TOOL count-log "$OUT/gateway-coalescing.log")
    echo "  $burst"
    echo "  upstream calls: $calls; answered by cache status: $labels"
    [[ "$burst" == *"\"statuses\": {\"200\": $BURST}"* ]] || fail "not every burst request was answered 200: $burst"
    result=$(python3 -c "
import json
burst = json.loads('''$burst''')
print(json.dumps({'test': 'coalescing', 'requests': $BURST, 'upstream_calls': $calls,
                  'found': burst['found'], 'seconds': burst['seconds'], 'cache_labels': $labels}))")
    $TOOL add "$RESULTS" --json "$result"
    stop_server "$pid"
    stop_server "$pid_mock"
fi

# --- 5. criterion micro-benchmarks --------------------------------------------

if step_enabled micro; then
    if [ "$SMOKE" = 1 ]; then
        log "micro-benchmarks: each run once as a test"
        cargo test --locked --bench signature --bench phone_parsing --bench cache_lookup
    else
        log "micro-benchmarks (criterion)"
        CRITERION_HOME=$OUT/criterion cargo bench --locked \
            --bench signature --bench phone_parsing --bench cache_lookup -- --noplot
        $TOOL criterion "$RESULTS" --home "$OUT/criterion"
    fi
fi

# --- results --------------------------------------------------------------------

log "results (medians over $ROUNDS round$([ "$ROUNDS" = 1 ] || echo s); raw runs in $RESULTS)"
if [ "$SMOKE" = 1 ]; then
    echo "This was a smoke run on a debug build with 1-second runs: its figures are not measurements."
fi
$TOOL report "$RESULTS" | tee "$OUT/results.md"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
