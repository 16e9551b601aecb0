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

step "deployment checkers and the load balancer (Debian packages)"
# promtool checks deploy/prometheus, docker-compose (v1, Python) checks deploy/compose.yaml against
# the Compose schema without an engine, haproxy checks deploy/haproxy and fronts the cluster test.
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v haproxy >/dev/null || missing+=(haproxy)
if [[ ${#missing[@]} -gt 0 ]]; then
  # No daemon is started in a container; the packages only bring their binaries.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
# podman builds deploy/Dockerfile and runs the image (with its recommended networking and storage
# helpers), under runc: crun refuses machines with hybrid cgroup hierarchies (v1 controllers and
# a v2 mount that has controllers too), runc runs on both. debootstrap makes the runtime base
# image, since no image registry is reachable.
if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null || ! command -v runc >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y podman debootstrap runc >/dev/null
fi

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
shift_args=()
if [[ "${1:-}" == "--" ]]; then shift; shift_args=("$@"); fi
cargo test --workspace --locked --no-fail-fast -- "${shift_args[@]}"
