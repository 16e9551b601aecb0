#!/usr/bin/env bash
# The gateway cell against the floor of any HTTP proxy on this machine: the demonstration server
# called directly, through HAProxy (a plain L7 HTTP proxy, one thread, connections reused),
# through bench/peers/bare-proxy (hyper's server and hyper-util's pooled client forwarding bytes:
# the floor of a tokio/hyper proxy), and through Switchboard's gateway (bench/gateway.yaml). Both servers and the proxy run on CPU 0, the
# load generator on CPU 1; modern `tools/call echo`, one connection, the three cells alternated.
# With FLOOR_FASTMCP=<a python with PyPI's fastmcp>, a published gateway joins them: FastMCP's
# proxy (bench/peers/fastmcp_proxy.py, one shared backend session). Prints each run's throughput and latency, then each proxy's CPU per call (`perf stat`, when
# perf is installed; the direct row is the server's own, the floor under the gateway's server half) and writes all of it to $FLOOR_RESULTS.
#
#   bench/gateway_floor.sh                        # release build of this checkout
#   FLOOR_BIN=target/prof/release/switchboard FLOOR_RUNS=3 bench/gateway_floor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${FLOOR_BIN:-target/release/switchboard}
RUNS=${FLOOR_RUNS:-2}
SECS=${FLOOR_DURATION:-4}
OUT=${FLOOR_RESULTS:-bench/results/$(date +%F)-gateway-floor.txt}
command -v haproxy >/dev/null || { echo "haproxy is needed (apt-get install haproxy)" >&2; exit 2; }
# shellcheck source=bench/lib.sh
. bench/lib.sh
BARE=${FLOOR_BARE:-${CARGO_TARGET_DIR:-bench/peers/target}/release/bare-proxy}
[ -x "$BARE" ] || (cd bench/peers && cargo build --release -q -p bare-proxy)
UP=$(free_port); HAP=$(free_port); BP=$(free_port); GW=$(free_port); FM=$(free_port)

taskset -c 0 "$BIN" serve --demo --demo-basic --listen "127.0.0.1:$UP" --log-level warn >"$work/up.log" 2>&1 &
pids+=($!); UP_PID=$!
cat >"$work/haproxy.cfg" <<EOF
global
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    http-reuse always
frontend fe
    bind 127.0.0.1:$HAP
    default_backend be
backend be
    server up 127.0.0.1:$UP
EOF
taskset -c 0 haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
pids+=($!); HAP_PID=$!
taskset -c 0 "$BARE" "127.0.0.1:$BP" "http://127.0.0.1:$UP/mcp" >"$work/bare.log" 2>&1 &
pids+=($!); BP_PID=$!
BENCH_UPSTREAM="http://127.0.0.1:$UP/mcp" taskset -c 0 "$BIN" serve --config bench/gateway.yaml \
    --data-dir "$work/data" --listen "127.0.0.1:$GW" --log-level warn >"$work/gw.log" 2>&1 &
pids+=($!); GW_PID=$!
ports=("$UP" "$GW")
if [ -n "${FLOOR_FASTMCP:-}" ]; then
    taskset -c 0 "$FLOOR_FASTMCP" bench/peers/fastmcp_proxy.py "$FM" "http://127.0.0.1:$UP/mcp" shared \
        >"$work/fastmcp.log" 2>&1 &
    pids+=($!); FM_PID=$!
fi
for port in "${ports[@]}"; do wait_up "$port"; done
if [ -n "${FLOOR_FASTMCP:-}" ]; then # no /healthz: any HTTP answer means it listens
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$FM/mcp" && break; sleep 0.2; done
fi

run() { # label port
    taskset -c 1 "$BIN" bench --url "http://127.0.0.1:$2/mcp" --era modern -c 1 -d "$SECS" 2>&1 |
        grep -E "throughput|p50" | tr -s ' ' | tr '\n' ' ' | sed "s/^/$1: /"
    echo
}
cpu() { # label port pid: the process's CPU time per call during a run
    command -v perf >/dev/null || return 0
    taskset -c 1 "$BIN" bench --url "http://127.0.0.1:$2/mcp" --era modern -c 1 -d $((SECS + 2)) >"$work/cpu.log" 2>&1 &
    local bench=$!
    sleep 1
    local ms
    ms=$(perf stat -x, -e task-clock -p "$3" -- sleep "$SECS" 2>&1 | awk -F, '/task-clock/ {print $1}')
    wait $bench
    local rate
    rate=$(awk '/throughput/ {print $2}' "$work/cpu.log")
    echo "$1: CPU per call $(python3 -c "print(f'{$ms * 1000 / ($rate * $SECS):.1f}')") µs (task-clock $ms ms over ${SECS} s at $rate calls/s)"
}
{
    echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $BIN, $(nproc) cores, $(uname -r)"
    for _ in $(seq "$RUNS"); do
        run direct "$UP"
        run haproxy "$HAP"
        run bare-proxy "$BP"
        run gateway "$GW"
        if [ -n "${FLOOR_FASTMCP:-}" ]; then run fastmcp-proxy "$FM"; fi
    done
    cpu direct "$UP" "$UP_PID"
    cpu haproxy "$HAP" "$HAP_PID"
    cpu bare-proxy "$BP" "$BP_PID"
    cpu gateway "$GW" "$GW_PID"
    if [ -n "${FLOOR_FASTMCP:-}" ]; then cpu fastmcp-proxy "$FM" "$FM_PID"; fi
} | tee "$OUT"
