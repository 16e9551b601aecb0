#!/usr/bin/env bash
# Switchboard side by side with rmcp, the official TypeScript and Python SDKs, and a bare axum
# JSON echo: builds what is needed (release), installs the SDK peers from the registries, starts
# each server in turn on a free loopback port, loads it with `switchboard bench` (every reply
# checked), stops it, and prints ONE markdown table (throughput and p99 per peer, server CPU per
# request, Switchboard's ratio to each) followed by the issue's targets.
#
#   bench/compare.sh                                  # everything, ~30 minutes on 2 cores
#   BENCH_RUNS=1 BENCH_DURATION=3 bench/compare.sh    # a quick look, ~5 minutes
#   BENCH_PEERS="switchboard axum" bench/compare.sh
#
# Environment:
#   BENCH_DURATION   seconds per run of a cell (default 10)
#   BENCH_RUNS       runs per cell; the table shows the median (default 3)
#   BENCH_PEERS      subset of: switchboard rmcp ts python axum (default: all)
#   BENCH_CONNS      connection counts for tools/call (default "1 16 64 256")
#   BENCH_SESSIONS   idle legacy sessions for the memory cell (default 10000)
#   BENCH_PIN        1 (default): server on CPU 0, load generator on CPU 1 (taskset), so the two
#                    never compete for a core; 0: no pinning
#   BENCH_QUIET      1 (default): before each run wait until no compiler (rustc, cc, ld) runs on
#                    the machine, and redo a run during which one started (up to 3 times; a run
#                    still disturbed is kept and flagged); 0: never wait
#   BENCH_OUT        where the per-run JSON reports go (default target/bench)
#   BENCH_SHOP_CMD   the shop server, with {PORT}: its get_order_status on SQLite is measured as
#                    `call:get_order_status:$BENCH_SHOP_ARGS` (default: this repository's
#                    examples/shop/shop.yaml on a fresh SQLite file; set it empty to skip)
#   BENCH_SHOP_ARGS  default {"order_id":"ORD-20250204-1037"} (an order of the seed data)
#   BENCH_GATEWAY_CMD  hook for "Switchboard behind Switchboard" once the gateway can proxy: a
#                    command with {PORT} (to listen on) and {UPSTREAM} (the two-tool server's
#                    URL); measured as peer "gateway" when set
#   BENCH_SKIP_BUILD 1: use the binaries already built
#   BENCH_SWITCHBOARD the switchboard binary (default target/release/switchboard)
# Only loopback addresses are used.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DUR="${BENCH_DURATION:-10}"
RUNS="${BENCH_RUNS:-3}"
PEERS="${BENCH_PEERS:-switchboard rmcp ts python axum}"
CONNS="${BENCH_CONNS:-1 16 64 256}"
SESSIONS="${BENCH_SESSIONS:-10000}"
PIN="${BENCH_PIN:-1}"
QUIET="${BENCH_QUIET:-1}"
OUT="${BENCH_OUT:-$ROOT/target/bench}"
SB="${BENCH_SWITCHBOARD:-$ROOT/target/release/switchboard}"
SHOP_ARGS="${BENCH_SHOP_ARGS:-{\"order_id\":\"ORD-20250204-1037\"\}}"
# (The default is built apart: a `}` inside `${VAR-default}` would end the expansion at `{PORT}`.)
SHOP_DEFAULT="$SB serve --config $ROOT/examples/shop/shop.yaml --data-dir $OUT/shop-data --listen 127.0.0.1:{PORT} --log-level warn"
SHOP_CMD="${BENCH_SHOP_CMD-$SHOP_DEFAULT}"
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
{
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ); runs per cell: $RUNS x ${DUR}s; pinned: ${server_cpu[*]:-no}"
} >"$OUT/machine.txt"

# ---------------------------------------------------------------- quiet machine
compiling() { pgrep -x rustc >/dev/null || pgrep -x cc >/dev/null || pgrep -x cc1 >/dev/null || pgrep -x ld >/dev/null; }
wait_quiet() {
  [[ "$QUIET" == 1 ]] || return 0
  if compiling; then
    log "  waiting for the compiler(s) running on this machine to finish"
    while compiling; do sleep 10; done
  fi
}
MONITOR=""
start_monitor() {  # touches $1 if a compiler runs while the cell runs
  rm -f "$1"
  [[ "$QUIET" == 1 ]] || return 0
  ( while sleep 0.5; do compiling && { touch "$1"; exit 0; }; done ) &
  MONITOR=$!
}
stop_monitor() { [[ -z "$MONITOR" ]] || { kill "$MONITOR" 2>/dev/null || true; wait "$MONITOR" 2>/dev/null || true; MONITOR=""; }; }

# ---------------------------------------------------------------- peers
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

peer_cmd() {  # $1 = peer, $2 = port
  case "$1" in
    # The two tools the peers serve, so tools/list compares like with like.
    switchboard) echo "$SB serve --demo --demo-basic --listen 127.0.0.1:$2 --log-level warn" ;;
    switchboard-demo) echo "$SB serve --demo --listen 127.0.0.1:$2 --log-level warn" ;;
    rmcp)        echo "$ROOT/bench/peers/target/release/rmcp-echo 127.0.0.1:$2" ;;
    axum)        echo "$ROOT/bench/peers/target/release/axum-echo 127.0.0.1:$2" ;;
    ts)          echo "$NODE $ROOT/bench/peers/ts-echo.mjs 127.0.0.1:$2" ;;
    python)      echo "$PY $ROOT/bench/peers/py_echo.py 127.0.0.1:$2" ;;
    gateway)     echo "${BENCH_GATEWAY_CMD//\{PORT\}/$2}" ;;
    shop)        echo "${SHOP_CMD//\{PORT\}/$2}" ;;
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
  for _ in $(seq 1 300); do
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
trap 'stop_monitor; stop_peer' EXIT

# One cell: RUNS runs of `switchboard bench` against the running server, each written to
# $OUT/<label>--<name>.r<N>.json (table.py takes the median). A run disturbed by a compiler is
# redone up to 3 times.
cell() {  # $1 = label (the table column), $2 = cell name, rest = bench flags
  local label="$1" name="$2" run=1 tries=0 file; shift 2
  while [[ $run -le $RUNS ]]; do
    wait_quiet
    file="$OUT/$label--$name.r$run.json"
    log "  $label: $name (run $run of $RUNS)"
    start_monitor "$OUT/.disturbed"
    "${bench_cpu[@]}" "$SB" bench --json --label "$label" --log-level warn "$@" \
      >"$file" 2>>"$OUT/bench-errors.log" || log "  $label: $name failed (see $OUT/bench-errors.log)"
    stop_monitor
    if [[ -e "$OUT/.disturbed" ]]; then
      tries=$((tries + 1))
      if [[ $tries -le 3 ]]; then log "  a compiler ran during the run: redoing it"; continue; fi
      log "  still disturbed after 3 tries: keeping it, flagged"
      python3 -c 'import json,sys; f=sys.argv[1]; r=json.load(open(f)); r["disturbed"]=True; json.dump(r,open(f,"w"))' "$file" || true
    fi
    tries=0; run=$((run + 1))
  done
}

ws_url() { local u="${URL#http://}"; echo "ws://${u%/mcp}/ws"; }

idle_rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
record_idle() {  # $1 = label, $2 = cell name
  sleep 1
  echo "{\"label\":\"$1\",\"idle_rss_kib\":$(idle_rss "$PID")}" >"$OUT/$1--$2.json"
}
warm_up() { "${bench_cpu[@]}" "$SB" bench --url "$URL" --era legacy -c 4 -d 1 --log-level warn >/dev/null 2>&1 || true; }

for peer in $PEERS ${BENCH_GATEWAY_CMD:+gateway}; do
  if [[ "$peer" == gateway ]]; then
    start_peer switchboard; UPSTREAM="$URL"; UPSTREAM_PID="$PID"; PID=""
  fi
  start_peer "$peer" || continue
  record_idle "$peer" idle
  # A warm-up so lazy initialization (JIT, pools, allocator) is not measured.
  warm_up
  for c in $CONNS; do
    [[ "$peer" == ts ]] || cell "$peer" "modern-echo-c$c" --pid "$PID" --url "$URL" --era modern -c "$c" -d "$DUR"
    cell "$peer" "legacy-echo-c$c" --pid "$PID" --url "$URL" --era legacy -c "$c" -d "$DUR"
  done
  cell "$peer" "legacy-list-c64" --pid "$PID" --url "$URL" --era legacy -c 64 -d "$DUR" --scenario list
  [[ "$peer" == ts ]] || cell "$peer" "modern-list-c64" --pid "$PID" --url "$URL" --era modern -c 64 -d "$DUR" --scenario list
  if [[ "$peer" == switchboard ]]; then
    cell "$peer" "ws-modern-echo-c64" --pid "$PID" --ws "$(ws_url)" --era modern -c 64 -d "$DUR"
  fi
  stop_peer
  if [[ "$peer" == switchboard ]]; then
    # On a fresh process, so memory kept from the load cells does not hide the sessions' cost.
    if start_peer switchboard; then
      sleep 1
      wait_quiet
      "${bench_cpu[@]}" "$SB" bench --json --label switchboard --pid "$PID" --log-level warn --url "$URL" \
        --era legacy -c 64 --idle-sessions "$SESSIONS" >"$OUT/switchboard--idle-sessions.json" \
        2>>"$OUT/bench-errors.log" || log "  idle sessions failed"
      stop_peer
    fi
    # The whole demonstration toolset (39 tools, resources, prompts), for its idle memory.
    start_peer switchboard-demo && record_idle switchboard idle-demo
    stop_peer
  fi
  if [[ "$peer" == gateway ]]; then PID="$UPSTREAM_PID"; stop_peer; fi
done

if [[ " $PEERS " == *" switchboard "* ]]; then
  for c in 1 64; do
    cell switchboard "stdio-echo-c$c" -c "$c" -d "$DUR" \
      --stdio "$SB serve --stdio --demo --demo-basic --log-level warn"
  done
  if [[ -n "$SHOP_CMD" ]]; then
    rm -rf "$OUT/shop-data"
    if start_peer shop; then
      warm_up
      for c in 1 64; do
        cell switchboard "shop-order-status-c$c" --pid "$PID" --url "$URL" --era modern -c "$c" -d "$DUR" \
          --scenario "call:get_order_status:$SHOP_ARGS"
      done
      stop_peer
    fi
  fi
fi

python3 "$ROOT/bench/table.py" "$OUT"
