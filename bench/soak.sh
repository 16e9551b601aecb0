#!/usr/bin/env bash
# Soak (a script, not CI): 10,000 live legacy sessions and 1,000 modern clients against one
# `switchboard serve --demo` on loopback for 10 minutes, the server's RSS sampled every 10 s.
# It passes when there is no unexpected error and the RSS plateaus: the highest sample of the
# last third of the run is at most 10 % above the highest of the middle third.
#
#   bench/soak.sh                         # the full run (about 12 minutes, plus a build if needed)
#   SOAK_SECS=60 bench/soak.sh            # a quick trial
#
# Knobs (environment): SOAK_SECS (600), SOAK_SAMPLE (10 s), SOAK_LEGACY (10000 sessions),
# SOAK_MODERN (1000 clients), SOAK_LEGACY_RPS / SOAK_MODERN_RPS (200 calls/s each, in total),
# SOAK_LEGACY_CONNS (256 pooled connections carry the legacy sessions), SOAK_PLATEAU_PCT (10),
# SOAK_PROVOKE_EVERY (500: every 500th call provokes an error on purpose, counted apart),
# SOAK_DELETE (1: DELETE every session at the end and sample once more), SOAK_NOTE (free text
# kept in the results), SOAK_SERVER_ARGS (more `serve` flags), SOAK_LEGACY_MIX / SOAK_MODERN_MIX
# (comma-separated call kinds replacing the default mixes, e.g. echo,echo,echo-big,list),
# SOAK_SKIP_BUILD=1, SOAK_SWITCHBOARD (the binary), SOAK_RESULTS (default
# bench/results/<date>-soak.json), SOAK_VENV (default .peers/soak: a venv with aiohttp, made on
# first use).
# The load generator is bench/soak.py (Python asyncio + aiohttp); see its docstring for the mix.
# Exit status: 0 passed, 1 failed (errors or no plateau), other: could not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SB="${SOAK_SWITCHBOARD:-${CARGO_TARGET_DIR:-$ROOT/target}/release/switchboard}"
OUT="${SOAK_RESULTS:-$ROOT/bench/results/$(date +%F)-soak.json}"
VENV="${SOAK_VENV:-$ROOT/.peers/soak}"
AIOHTTP_VERSION="3.14.5"
WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "soak: $*" >&2; }

# The release binary: rebuilt when a source, manifest or the lock file is newer than it.
if [[ "${SOAK_SKIP_BUILD:-0}" != 1 ]]; then
  if [[ ! -x "$SB" ]] || [[ -n "$(find crates Cargo.toml Cargo.lock -newer "$SB" \( -name '*.rs' -o -name '*.toml' -o -name Cargo.lock \) -print -quit 2>/dev/null)" ]]; then
    log "building the release binary (flock /tmp/cargo.lock: one build at a time on this machine)"
    flock /tmp/cargo.lock cargo build --release -p switchboard --locked
  else
    log "release binary is up to date: $SB"
  fi
fi
[[ -x "$SB" ]] || { log "no binary at $SB"; exit 2; }

# The load generator's venv.
if ! "$VENV/bin/python" -c "import aiohttp" 2>/dev/null; then
  log "creating $VENV with aiohttp $AIOHTTP_VERSION"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "aiohttp==$AIOHTTP_VERSION"
fi

# 10,000 sessions over a few hundred connections, 1,000 modern connections: raise the
# descriptor limit for both processes (the hard limit is the ceiling).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log "ulimit -n $(ulimit -n)"

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# shellcheck disable=SC2206
EXTRA=(${SOAK_SERVER_ARGS:-})
SERVER_ARGS=(serve --demo --listen "127.0.0.1:$PORT" --max-sessions 20000 --max-connections 20000 "${EXTRA[@]}")
log "starting: $SB ${SERVER_ARGS[*]} --log-level warn"
"$SB" "${SERVER_ARGS[@]}" --log-level warn >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
  curl -s -o /dev/null -m 1 "http://127.0.0.1:$PORT/healthz" && break
  sleep 0.1
done
curl -s -o /dev/null -m 1 "http://127.0.0.1:$PORT/healthz" || { log "server did not start"; cat "$WORK/server.log" >&2; exit 2; }

set +e
SOAK_SERVER_ARGS="${SERVER_ARGS[*]}" SOAK_BINARY="$SB" "$VENV/bin/python" "$ROOT/bench/soak.py" "http://127.0.0.1:$PORT/mcp" "$SERVER_PID" "$OUT"
STATUS=$?
set -e

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  log "the server died during the soak"
  STATUS=1
fi
LINES=$(grep -c -E ' (WARN|ERROR) ' "$WORK/server.log" || true)
log "server log: $LINES WARN/ERROR lines"
if [[ "$LINES" != 0 ]]; then
  grep -E ' (WARN|ERROR) ' "$WORK/server.log" | sort | uniq -c | sort -rn | head -20 >&2
fi
# The server's log summary goes into the results too.
if [[ -f "$OUT" ]]; then
  python3 - "$OUT" "$WORK/server.log" <<'PY'
import json, sys
out, logf = sys.argv[1], sys.argv[2]
doc = json.load(open(out))
lines = [l.rstrip("\n") for l in open(logf, errors="replace")]
doc["server_log"] = {"warn_or_error_lines": sum(1 for l in lines if " WARN " in l or " ERROR " in l),
                     "first_lines": lines[:20]}
json.dump(doc, open(out, "w"), indent=1)
open(out, "a").write("\n")
PY
fi
exit "$STATUS"
