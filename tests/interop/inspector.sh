#!/usr/bin/env bash
# Run the MCP Inspector CLI (2.x, from .peers/node) against an MCP server.
#
# Usage:
#   tests/interop/inspector.sh [--era legacy|auto|modern] --stdio "<server command line>" <inspector args...>
#   tests/interop/inspector.sh [--era legacy|auto|modern] --http <url>                 <inspector args...>
#
# Examples:
#   tests/interop/inspector.sh --era modern --stdio "target/debug/demo" --method tools/list
#   tests/interop/inspector.sh --era legacy --stdio "target/debug/demo" \
#       --method tools/call --tool-name echo --tool-arg message=hi
#   tests/interop/inspector.sh --era auto --http http://127.0.0.1:8080/mcp --method resources/read --uri demo://x
#
# Output: ONE JSON object on stdout (`--format json -q`):
#   success: {"result": <the MCP result object exactly as received, incl. _meta>}
#   failure: nothing on stdout; {"error":{"code":"...","message":"..."}} on stderr, exit != 0
#   tools/call returning isError:true: {"result":...} on stdout, {"error":{"code":"tool_is_error"}}
#   on stderr, exit 5. Other exit codes: 1 generic error (e.g. era negotiation failed),
#   4 unreachable/connect timeout (15 s default; --connect-timeout <ms>).
#
# Defaults: --era legacy (the Inspector's own default for ad-hoc targets is legacy too).
# Needs Node >= 22.19: uses .peers/node22/bin/node (run scripts/install-peers.sh first).
# HOME is pointed at a scratch dir so the Inspector's ~/.mcp-inspector catalog/auth
# state never touches the real home directory.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
PEERS="$REPO_ROOT/.peers"
NODE="$PEERS/node22/bin/node"
INSPECTOR="$PEERS/node/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
[[ -x "$NODE" && -f "$INSPECTOR" ]] || { echo "inspector.sh: run scripts/install-peers.sh first" >&2; exit 2; }

era=legacy target=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --era) era="$2"; shift 2 ;;
    --stdio)
      # shellcheck disable=SC2206  # deliberate word splitting of the command line
      read -r -a cmd <<<"$2"; target=(--transport stdio -- "${cmd[@]}"); shift 2 ;;
    --http) target=(--transport http --server-url "$2"); shift 2 ;;
    *) break ;;
  esac
done
[[ ${#target[@]} -gt 0 ]] || { echo "inspector.sh: need --stdio CMD or --http URL" >&2; exit 2; }

export HOME="${INSPECTOR_HOME:-${TMPDIR:-/tmp}/switchboard-inspector-home}"
mkdir -p "$HOME"

if [[ "${target[0]}" == --transport && "${target[1]}" == stdio ]]; then
  # Options first, then `--`, then the server command (so server flags are not
  # parsed as Inspector options, and variadic options like --tool-arg cannot
  # swallow the command).
  exec "$NODE" "$INSPECTOR" --cli --protocol-era "$era" --format json -q "$@" "${target[@]}"
else
  exec "$NODE" "$INSPECTOR" --cli --protocol-era "$era" --format json -q "${target[@]}" "$@"
fi
