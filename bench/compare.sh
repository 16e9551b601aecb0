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
#   BENCH_RESULTS    the raw results file every run writes: all runs of every cell (not just the
#                    medians) plus the machine's facts (nproc, CPU, kernel, rustc, git revision);
#                    default bench/results/<YYYY-MM-DD>.json (-2, -3, … when it exists). Commit it
#                    with the table it produced: `python3 bench/table.py FILE` re-derives the table
#   BENCH_COMMIT     1: `git commit` the raw results file at the end (default 0)
#   BENCH_GENERATOR  switchboard (default): `switchboard bench` everywhere (raw hyper HTTP/1
#                    connections, one per virtual client, every reply checked); oha: the plain
#                    modern echo cells (tools/call echo over HTTP) are loaded by `oha` instead
#                    (same request bytes and headers; replies counted by status only), everything
#                    else by `switchboard bench`. When missing, oha is installed with
#                    `cargo install oha --locked --no-default-features --features native-tls` (oha
#                    1.16 does not build without a TLS feature; native-tls links the system's
#                    OpenSSL, libssl-dev, instead of compiling aws-lc)
#   BENCH_OHA        the oha binary (default: `oha` on PATH, or ~/.cargo/bin/oha)
#   BENCH_SHOP_CMD   the shop server, with {PORT}: its get_order_status on SQLite is measured as
#                    `call:get_order_status:$BENCH_SHOP_ARGS` (default: this repository's
#                    examples/shop/shop.yaml on a fresh SQLite file; set it empty to skip)
#   BENCH_SHOP_ARGS  default {"order_id":"ORD-20250204-1037"} (an order of the seed data)
#   BENCH_GATEWAY_CMD  "Switchboard behind Switchboard": a command with {PORT} (to listen on) and
#                    {UPSTREAM} (the two-tool server's URL), measured as peer "gateway" (default:
#                    this switchboard serving bench/gateway.yaml; set it empty to skip)
#   BENCH_SKIP_BUILD 1: use the binaries already built
#   BENCH_SWITCHBOARD the switchboard binary (default $CARGO_TARGET_DIR/release/switchboard, or
#                    target/release/switchboard)
#   BENCH_PEERS_BIN  where rmcp-echo and axum-echo are (default $CARGO_TARGET_DIR/release, or
#                    bench/peers/target/release)
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
SB="${BENCH_SWITCHBOARD:-${CARGO_TARGET_DIR:-$ROOT/target}/release/switchboard}"
PEERS_BIN="${BENCH_PEERS_BIN:-${CARGO_TARGET_DIR:-$ROOT/bench/peers/target}/release}"
GENERATOR="${BENCH_GENERATOR:-switchboard}"
RESULTS="${BENCH_RESULTS:-}"
if [[ -z "$RESULTS" ]]; then
  RESULTS="$ROOT/bench/results/$(date -u +%F).json"
  n=2; while [[ -e "$RESULTS" ]]; do RESULTS="$ROOT/bench/results/$(date -u +%F)-$n.json"; n=$((n + 1)); done
fi
SHOP_ARGS="${BENCH_SHOP_ARGS:-{\"order_id\":\"ORD-20250204-1037\"\}}"
# (The default is built apart: a `}` inside `${VAR-default}` would end the expansion at `{PORT}`.)
SHOP_DEFAULT="$SB serve --config $ROOT/examples/shop/shop.yaml --data-dir $OUT/shop-data --listen 127.0.0.1:{PORT} --log-level warn"
SHOP_CMD="${BENCH_SHOP_CMD-$SHOP_DEFAULT}"
GATEWAY_DEFAULT="env BENCH_UPSTREAM={UPSTREAM} $SB serve --config $ROOT/bench/gateway.yaml --data-dir $OUT/gateway-data --listen 127.0.0.1:{PORT} --log-level warn"
BENCH_GATEWAY_CMD="${BENCH_GATEWAY_CMD-$GATEWAY_DEFAULT}"
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
OHA=""
if [[ "$GENERATOR" == oha ]]; then
  OHA="${BENCH_OHA:-$(command -v oha || true)}"
  [[ -n "$OHA" || ! -x "$HOME/.cargo/bin/oha" ]] || OHA="$HOME/.cargo/bin/oha"
  if [[ -z "$OHA" ]]; then
    log "installing oha (cargo install oha --locked --no-default-features --features native-tls)"
    cargo install oha --locked --no-default-features --features native-tls -q
    OHA="$HOME/.cargo/bin/oha"
  fi
  # oha 1.x: --output-format json (newer) or -j/--json (older).
  if "$OHA" --help | grep -q -- '--output-format'; then OHA_JSON=(--output-format json); else OHA_JSON=(--json); fi
elif [[ "$GENERATOR" != switchboard ]]; then
  log "BENCH_GENERATOR must be switchboard or oha"; exit 2
fi
rm -rf "$OUT"; mkdir -p "$OUT"
# The machine's facts, kept with the raw results.
python3 - "$OUT/machine.json" <<PY
import json, os, subprocess, sys
def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd="$ROOT").stdout.strip()
    except OSError:
        return None
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), None)
json.dump({
    "nproc": os.cpu_count(), "cpu": cpu, "kernel": " ".join(os.uname()[i] for i in (0, 2)),
    "rustc": sh("rustc", "-V"), "git_rev": sh("git", "rev-parse", "HEAD"),
    "git_dirty": bool(sh("git", "status", "--porcelain", "--untracked-files=no")),
    "date": sh("date", "-u", "+%Y-%m-%dT%H:%MZ"), "runs": $RUNS, "duration_s": $DUR,
    "pinned": "${server_cpu[*]:-no}", "generator": "$GENERATOR" + (" (" + sh("$OHA", "--version") + ")" if "$OHA" else ""),
    "peers": "$PEERS", "connections": "$CONNS", "switchboard": "$SB",
}, open(sys.argv[1], "w"), indent=1)
PY

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
    rmcp)        echo "$PEERS_BIN/rmcp-echo 127.0.0.1:$2" ;;
    axum)        echo "$PEERS_BIN/axum-echo 127.0.0.1:$2" ;;
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

# The server's CPU ticks (user + system) and RSS, from /proc.
proc_usage() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }

# One oha run of a modern tools/call echo cell ($1 = connections, $2 = the report file): the same
# request `switchboard bench` sends (one fixed id and message: a modern request is stateless),
# converted to the shape of a `switchboard bench --json` report with "generator": "oha". Replies
# are counted by status (200), not checked.
oha_run() {
  local c="$1" file="$2" raw="$2.oha" t0 t1 r0
  local body='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"m1"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"oha","version":"1"}}}}'
  t0="$(proc_usage "$PID")"; r0="$(idle_rss "$PID")"
  "${bench_cpu[@]}" "$OHA" --no-tui "${OHA_JSON[@]}" -z "${DUR}s" -c "$c" -m POST \
    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
    -H 'mcp-protocol-version: 2026-07-28' -H 'mcp-method: tools/call' -H 'mcp-name: echo' \
    -d "$body" "$URL" >"$raw" || return 1
  t1="$(proc_usage "$PID")"
  python3 - "$raw" "$file" "$c" "$URL" "$PID" "$t0" "$t1" "$r0" "$(idle_rss "$PID")" "$LABEL" <<'PY'
import json, sys
raw, out, c, url, pid, t0, t1, r0, r1, label = sys.argv[1:]
o = json.load(open(raw))
s, p = o["summary"], o.get("latencyPercentiles", {})
ok = int(o.get("statusCodeDistribution", {}).get("200", 0))
secs = float(s["total"])
ms = lambda v: 1000.0 * float(v or 0)
cpu = (int(t1) - int(t0)) / 100.0
failures = {f"http {k}": {"count": int(v), "example": "oha"} for k, v in o.get("statusCodeDistribution", {}).items() if k != "200"}
# Requests still in flight when -z ends are "aborted due to deadline": cut off, not failed.
errors = {k: int(v) for k, v in o.get("errorDistribution", {}).items() if not k.startswith("aborted due to deadline")}
failures.update({k: {"count": v, "example": "oha"} for k, v in errors.items()})
json.dump({
    "label": label, "generator": "oha", "transport": "http", "target": url, "era": "modern", "scenario": "echo",
    "connections": int(c), "elapsed_s": secs, "ok": ok, "failed": sum(f["count"] for f in failures.values()), "throughput_rps": ok / secs if secs else 0.0,
    "latency_ms": {"p50": ms(p.get("p50")), "p90": ms(p.get("p90")), "p99": ms(p.get("p99")), "p99_9": ms(p.get("p99.9")),
                   "max": ms(s.get("slowest")), "mean": ms(s.get("average"))},
    "failures": failures,
    "server": {"pid": int(pid), "rss_start_kib": int(r0), "rss_end_kib": int(r1), "rss_peak_kib": max(int(r0), int(r1)),
               "cpu_seconds": cpu, "cpu_percent": 100.0 * cpu / secs if secs else 0.0},
    "machine": None, "idle_sessions": None,
}, open(out, "w"))
PY
}

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
    if [[ -n "$OHA" && "$name" =~ ^modern-echo-c([0-9]+)$ ]]; then
      LABEL="$label" oha_run "${BASH_REMATCH[1]}" "$file" 2>>"$OUT/bench-errors.log" \
        || log "  $label: $name failed under oha (see $OUT/bench-errors.log)"
    else
      "${bench_cpu[@]}" "$SB" bench --json --label "$label" --log-level warn "$@" \
        >"$file" 2>>"$OUT/bench-errors.log" || log "  $label: $name failed (see $OUT/bench-errors.log)"
    fi
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

# Every run's raw numbers and the machine's facts in one file, then the table derived from it.
python3 "$ROOT/bench/table.py" "$OUT" --save "$RESULTS"
if [[ "${BENCH_COMMIT:-0}" == 1 ]]; then
  git -C "$ROOT" add "$RESULTS"
  git -C "$ROOT" commit -q -m "bench: raw results of bench/compare.sh, $(basename "$RESULTS" .json)" -- "$RESULTS"
  log "committed $RESULTS"
else
  log "raw results in $RESULTS (commit them with the table: python3 bench/table.py $RESULTS)"
fi
