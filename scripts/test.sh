#!/usr/bin/env bash
# The whole test suite, from a fresh clone: starts the services, installs the interop peers,
# checks formatting and lints, then runs every test. Safe to run again and again.
#
#   scripts/test.sh            everything
#   scripts/test.sh -- FILTER  pass FILTER on to `cargo test`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "services"
bash scripts/services.sh

step "interop peers (.peers/)"
bash scripts/install-peers.sh

step "promtool (checks deploy/prometheus/alerts.yml)"
if ! command -v promtool >/dev/null; then
  # Debian's prometheus package carries promtool; no daemon is started in a container.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null
fi

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
shift_args=()
if [[ "${1:-}" == "--" ]]; then shift; shift_args=("$@"); fi
cargo test --workspace --locked --no-fail-fast -- "${shift_args[@]}"
