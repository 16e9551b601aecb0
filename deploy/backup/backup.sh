#!/usr/bin/env bash
# Backs up a Switchboard PostgreSQL database (business data, audit rows, conversations, migration
# records) with pg_dump's custom format: compressed, restorable table by table, consistent (one
# snapshot) while replicas keep writing.
#
#   deploy/backup/backup.sh DATABASE_URL [FILE]
#
# FILE defaults to switchboard-<database>-<UTC time>.dump in the current directory. The URL may
# hold a password: it is passed to pg_dump in the environment, never printed.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || "$1" == -h || "$1" == --help ]]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
url=$1
db=$(psql "$url" -XAtqc 'SELECT current_database()')
file=${2:-switchboard-$db-$(date -u +%Y%m%dT%H%M%SZ).dump}

pg_dump --format=custom --no-owner --no-privileges --file="$file.partial" "$url"
# Only a complete dump gets the final name: a crash leaves *.partial, never a truncated backup.
mv "$file.partial" "$file"
tables=$(pg_restore --list "$file" | grep -c ' TABLE DATA ' || true)
echo "backed up database $db ($tables tables) to $file"
