#!/usr/bin/env bash
# Start the local services the test suite talks to, if they are not already running:
# PostgreSQL (127.0.0.1:5432, db `test`), MariaDB (127.0.0.1:3306, db `test`), Redis (6379).
# Idempotent and quiet when everything is up. Fails loudly when a service cannot be started,
# because tests that need a service must fail, never skip.
set -euo pipefail

log() { printf '[services] %s\n' "$*" >&2; }

wait_for() {  # $1 = name, $2.. = probe command
  local name="$1"; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$name did not come up"; return 1
}

postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then return; fi
  command -v pg_ctlcluster >/dev/null || { log "PostgreSQL is not installed"; return 1; }
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432
  psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null
}

mariadb() {
  if mysqladmin -h 127.0.0.1 -P 3306 -u root ping >/dev/null 2>&1; then return; fi
  command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || { log "MariaDB is not installed"; return 1; }
  log "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB mysqladmin -h 127.0.0.1 -P 3306 -u root ping
  mysql -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS test" >/dev/null
}

redis() {
  if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  command -v redis-server >/dev/null || { log "Redis is not installed"; return 1; }
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
}

postgres
mariadb
redis
log "PostgreSQL, MariaDB and Redis are up"
