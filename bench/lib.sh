# Sourced by bench/gateway_floor.sh and bench/gateway_instructions.sh: a work directory removed on
# exit with every process started into `pids`, a free loopback port, and a wait for `/healthz`.
# Expects BIN (the switchboard binary; built in release when missing).
[ -x "$BIN" ] || cargo build --release -p switchboard
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { # port: until its /healthz answers (at most 30 s)
    for _ in $(seq 150); do curl -fsS "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return; sleep 0.2; done
}
