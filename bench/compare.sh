#!/usr/bin/env bash
# Switchboard side by side with rmcp, the official TypeScript and Python SDKs, and a bare axum
# JSON echo: builds what is needed (release), installs the SDK peers from the registries, starts
# each server in turn on a free loopback port, loads it with `switchboard bench`, stops it, and
# prints ONE markdown table (throughput and p99 per peer, Switchboard's ratio to each).
#
#   bench/compare.sh                     # the whole run, ~8 minutes on 2 cores
#   BENCH_DURATION=2 BENCH_PEERS="switchboard axum" bench/compare.sh
#
# Environment:
#   BENCH_DURATION   seconds per cell (default 5)
#   BENCH_PEERS      subset of: switchboard rmcp ts python axum (default: all)
#   BENCH_CONNS      connection counts for tools/call (default "1 16 64 256")
#   BENCH_SESSIONS   idle legacy sessions for the memory cell (default 10000)
#   BENCH_PIN        1 (default): server on CPU 0, load generator on CPU 1 (taskset), so the two
#                    never compete for a core; 0: no pinning
#   BENCH_OUT        where the per-cell JSON reports go (default target/bench)
#   BENCH_GATEWAY_CMD  hook for "Switchboard behind Switchboard" once the gateway exists: a command
#                    with {PORT} (to listen on) and {UPSTREAM} (the demo server's URL); measured
#                    as peer "gateway" when set
#   BENCH_SHOP_CMD   hook for the shop's get_order_status on SQLite: a server command with {PORT};
#                    when set, adds the cell `call:get_order_status:$BENCH_SHOP_ARGS`
#   BENCH_SKIP_BUILD 1: use the binaries already built
#   BENCH_SWITCHBOARD the switchboard binary (default target/release/switchboard)
# Only loopback addresses are used.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DUR="${BENCH_DURATION:-5}"
PEERS="${BENCH_PEERS:-switchboard rmcp ts python axum}"
CONNS="${BENCH_CONNS:-1 16 64 256}"
SESSIONS="${BENCH_SESSIONS:-10000}"
PIN="${BENCH_PIN:-1}"
OUT="${BENCH_OUT:-$ROOT/target/bench}"
SHOP_ARGS="${BENCH_SHOP_ARGS:-{\"order_id\":1\}}"
SB="${BENCH_SWITCHBOARD:-$ROOT/target/release/switchboard}"
NODE="$ROOT/.peers/node22/bin/node"
PY="$ROOT/.peers/py2/bin/python"
log() { printf '[compare] %s\n' "$*" >&2; }

server_cpu=(); bench_cpu=()
if [[ "$PIN" == 1 && "$(nproc)" -ge 2 ]] && command -v taskset >/dev/null; then
  server_cpu=(taskset -c 0); bench_cpu=(taskset -c 1)
fi

# ---------------------------------------------------------------- build and install
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  log "building switchboard (release)"
  cargo build --release -q -p switchboard
fi
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]] && [[ " $PEERS " == *" rmcp "* || " $PEERS " == *" axum "* ]]; then
  log "building bench/peers (rmcp-echo, axum-echo; release)"
  (cd bench/peers && cargo build --release -q)
fi
if [[ " $PEERS " == *" ts "* || " $PEERS " == *" python "* ]]; then
  log "installing the SDK peers (scripts/install-peers.sh)"
  PEERS_ONLY="py2 node" scripts/install-peers.sh
fi
rm -rf "$OUT"; mkdir -p "$OUT"

# ---------------------------------------------------------------- peers
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

peer_cmd() {  # $1 = peer, $2 = port
  case "$1" in
    switchboard) echo "$SB serve --demo --listen 127.0.0.1:$2 --log-level warn" ;;
    rmcp)        echo "$ROOT/bench/peers/target/release/rmcp-echo 127.0.0.1:$2" ;;
    axum)        echo "$ROOT/bench/peers/target/release/axum-echo 127.0.0.1:$2" ;;
    ts)          echo "$NODE $ROOT/bench/peers/ts-echo.mjs 127.0.0.1:$2" ;;
    python)      echo "$PY $ROOT/bench/peers/py_echo.py 127.0.0.1:$2" ;;
    gateway)     echo "${BENCH_GATEWAY_CMD//\{PORT\}/$2}" ;;
    shop)        echo "${BENCH_SHOP_CMD//\{PORT\}/$2}" ;;
  esac
}

PID=""
start_peer() {  # $1 = peer; sets PID and URL
  local port cmd
  port="$(free_port)"
  cmd="$(peer_cmd "$1" "$port")"
  cmd="${cmd//\{UPSTREAM\}/${UPSTREAM:-}}"
  log "starting $1: $cmd"
  # shellcheck disable=SC2086
  "${server_cpu[@]}" $cmd >"$OUT/$1.log" 2>&1 &
  PID=$!
  URL="http://127.0.0.1:$port/mcp"
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$PID" 2>/dev/null || { log "$1 exited: $(tail -5 "$OUT/$1.log")"; return 1; }
    sleep 0.1
  done
  log "$1 did not open port $port"; return 1
}

stop_peer() {
  [[ -n "$PID" ]] || return 0
  kill "$PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}
trap stop_peer EXIT

cell() {  # $1 = peer, $2 = cell name, rest = bench flags
  local peer="$1" name="$2"; shift 2
  log "  $peer: $name"
  "${bench_cpu[@]}" "$SB" bench --json --label "$peer" --pid "$PID" --log-level warn "$@" \
    >"$OUT/$peer--$name.json" 2>>"$OUT/bench-errors.log" || log "  $peer: $name failed (see $OUT/bench-errors.log)"
}

ws_url() { local u="${URL#http://}"; echo "ws://${u%/mcp}/ws"; }

idle_rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

for peer in $PEERS ${BENCH_GATEWAY_CMD:+gateway}; do
  if [[ "$peer" == gateway ]]; then
    start_peer switchboard; UPSTREAM="$URL"; UPSTREAM_PID="$PID"; PID=""
  fi
  start_peer "$peer" || continue
  sleep 0.5
  echo "{\"label\":\"$peer\",\"idle_rss_kib\":$(idle_rss "$PID")}" >"$OUT/$peer--idle.json"
  # A warm-up so lazy initialization (JIT, pools, allocator) is not measured.
  "${bench_cpu[@]}" "$SB" bench --url "$URL" --era legacy -c 4 -d 1 --log-level warn >/dev/null 2>&1 || true
  for c in $CONNS; do
    [[ "$peer" == ts ]] || cell "$peer" "modern-echo-c$c" --url "$URL" --era modern -c "$c" -d "$DUR"
    cell "$peer" "legacy-echo-c$c" --url "$URL" --era legacy -c "$c" -d "$DUR"
  done
  cell "$peer" "legacy-list-c64" --url "$URL" --era legacy -c 64 -d "$DUR" --scenario list
  [[ "$peer" == ts ]] || cell "$peer" "modern-list-c64" --url "$URL" --era modern -c 64 -d "$DUR" --scenario list
  if [[ "$peer" == switchboard ]]; then
    cell "$peer" "ws-modern-echo-c64" --ws "$(ws_url)" --era modern -c 64 -d "$DUR"
  fi
  stop_peer
  if [[ "$peer" == switchboard ]]; then
    # On a fresh process, so memory kept from the load cells does not hide the sessions' cost.
    start_peer switchboard && sleep 0.5
    cell "$peer" "idle-sessions" --url "$URL" --era legacy -c 64 --idle-sessions "$SESSIONS"
    stop_peer
  fi
  if [[ "$peer" == gateway ]]; then PID="$UPSTREAM_PID"; stop_peer; fi
done

if [[ " $PEERS " == *" switchboard "* ]]; then
  for c in 1 64; do
    log "  switchboard: stdio pipelined, depth $c"
    "${bench_cpu[@]}" "$SB" bench --json --label switchboard --log-level warn -c "$c" -d "$DUR" \
      --stdio "$SB serve --stdio --demo --log-level warn" >"$OUT/switchboard--stdio-echo-c$c.json" \
      2>>"$OUT/bench-errors.log" || log "  stdio depth $c failed"
  done
fi
if [[ -n "${BENCH_SHOP_CMD:-}" ]]; then
  start_peer shop && cell shop "shop-order-status-c64" --url "$URL" --era modern -c 64 -d "$DUR" \
    --scenario "call:get_order_status:$SHOP_ARGS"
  stop_peer
fi

python3 "$ROOT/bench/table.py" "$OUT"
