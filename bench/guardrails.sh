#!/usr/bin/env bash
# What the guardrail chain costs: the same `echo` served bare (`serve --demo --demo-basic`) and
# behind every guardrail (bench/guardrails.yaml: API key, role, rate limit, timeout, audit log,
# metrics), modern tools/call at 16 and 64 connections, BENCH_RUNS x BENCH_DURATION s each,
# server on CPU 0 and load generator on CPU 1. Prints the medians; writes every run to
# bench/results/<YYYY-MM-DD>-guardrails.json. Needs a release build (cargo build --release -p switchboard).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SB="${BENCH_SWITCHBOARD:-${CARGO_TARGET_DIR:-$ROOT/target}/release/switchboard}"
RUNS="${BENCH_RUNS:-3}"
DUR="${BENCH_DURATION:-10}"
OUT="${BENCH_RESULTS:-$ROOT/bench/results/$(date -u +%Y-%m-%d)-guardrails.json}"
WORK="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run_cell() { # name, server args...
  local name="$1"; shift
  local port; port="$(free_port)"
  taskset -c 0 "$SB" serve "$@" --listen "127.0.0.1:$port" --log-level warn >"$WORK/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" -m 1 && break; sleep 0.1; done
  local key=()
  [[ "$name" == guardrails* ]] && key=(-H "X-API-Key: bench-key")
  for c in 16 64; do
    for r in $(seq "$RUNS"); do
      taskset -c 1 "$SB" bench --url "http://127.0.0.1:$port/mcp" "${key[@]}" --era modern -c "$c" -d "$DUR" \
        --pid "$pid" --json --label "$name" >"$WORK/$name-c$c-r$r.json"
    done
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_cell bare --demo --demo-basic
run_cell guardrails --config "$ROOT/bench/guardrails.yaml" --data-dir "$WORK/data"

python3 - "$WORK" "$OUT" <<'PY'
import glob, json, os, statistics, sys, subprocess, datetime
work, out = sys.argv[1], sys.argv[2]
runs = []
for f in sorted(glob.glob(os.path.join(work, "*-c*-r*.json"))):
    name = os.path.basename(f)[:-5]
    cell, c, r = name.rsplit("-", 2)
    runs.append({"peer": cell, "cell": f"modern-echo-{c}", "run": int(r[1:]), "report": json.load(open(f))})
doc = {"format": "switchboard-bench-results/1",
       "machine": {"nproc": os.cpu_count(), "date": datetime.datetime.utcnow().isoformat(timespec="minutes") + "Z",
                   "commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()},
       "runs": runs}
json.dump(doc, open(out, "w"), indent=1)
def med(peer, cell, f):
    return statistics.median(f(r["report"]) for r in runs if r["peer"] == peer and r["cell"] == cell)
for c in ("c16", "c64"):
    cell = f"modern-echo-{c}"
    tput = {p: med(p, cell, lambda r: r["throughput_rps"]) for p in ("bare", "guardrails")}
    cpu = {p: med(p, cell, lambda r: r["server"]["cpu_seconds"] * 1e6 / r["ok"]) for p in ("bare", "guardrails")}
    p99 = {p: med(p, cell, lambda r: r["latency_ms"]["p99"]) for p in ("bare", "guardrails")}
    print(f"{cell}: bare {tput['bare']:,.0f}/s ({cpu['bare']:.1f} us CPU/call, p99 {p99['bare']:.2f} ms); "
          f"guardrails {tput['guardrails']:,.0f}/s ({cpu['guardrails']:.1f} us CPU/call, p99 {p99['guardrails']:.2f} ms); "
          f"throughput cost {100 * (1 - tput['guardrails'] / tput['bare']):.1f} %, CPU per call x{cpu['guardrails'] / cpu['bare']:.2f}")
print(f"raw results: {out}")
PY
