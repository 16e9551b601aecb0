#!/usr/bin/env bash
# User-space instructions per modern `tools/call echo`, counted by callgrind: for the
# demonstration server called directly, and for the gateway (bench/gateway.yaml) in front of it.
# Unlike time, an instruction count repeats to within a few hundredths of a percent on this VM,
# whatever the host is doing, so it shows a change of 1 % that timed runs cannot. It counts no
# kernel time (bench/gateway_floor.sh has that). Each process is run twice under callgrind, with
# N1 and N2 calls; (count₂ − count₁) ÷ (N2 − N1) removes start-up and shutdown.
#
#   bench/gateway_instructions.sh                 # release build of this checkout
#   INSN_BIN=target/prof/release/switchboard INSN_RESULTS=bench/results/x.txt bench/gateway_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${INSN_BIN:-target/release/switchboard}
N1=${INSN_N1:-500}
N2=${INSN_N2:-2500}
OUT=${INSN_RESULTS:-bench/results/$(date +%F)-gateway-instructions.txt}
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
# shellcheck source=bench/lib.sh
. bench/lib.sh

UP=$(free_port)
"$BIN" serve --demo --demo-basic --listen "127.0.0.1:$UP" --log-level warn >"$work/up.log" 2>&1 &
pids+=($!)
wait_up "$UP"
export BENCH_UPSTREAM="http://127.0.0.1:$UP/mcp"

count() { # label calls command...: instructions the command's process ran while serving `calls`
    local label=$1 calls=$2 port
    shift 2
    port=$(free_port)
    valgrind --tool=callgrind --callgrind-out-file="$work/$label.$calls.cg" "$@" --listen "127.0.0.1:$port" \
        --data-dir "$work/data-$label-$calls" --log-level warn >"$work/$label.$calls.log" 2>&1 &
    local pid=$!
    wait_up "$port"
    "$BIN" bench --url "http://127.0.0.1:$port/mcp" --era modern -c 1 -n "$calls" >"$work/bench.log" 2>&1 ||
        { cat "$work/bench.log" >&2; exit 1; }
    grep -q "$calls ok, 0 failed" "$work/bench.log" || { cat "$work/bench.log" >&2; exit 1; }
    kill -INT "$pid"
    wait "$pid" || true
    callgrind_annotate "$work/$label.$calls.cg" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}
per_call() { # label command...
    local label=$1 a b
    shift
    a=$(count "$label" "$N1" "$@")
    b=$(count "$label" "$N2" "$@")
    echo "$label: $(((b - a) / (N2 - N1))) instructions per call ($N1 calls: $a, $N2 calls: $b)"
}
{
    echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $BIN, $(valgrind --version)"
    per_call direct "$BIN" serve --demo --demo-basic
    per_call gateway "$BIN" serve --config bench/gateway.yaml
} | tee "$OUT"
