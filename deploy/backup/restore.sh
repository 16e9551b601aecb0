#!/usr/bin/env bash
# Restores a backup made by backup.sh into a PostgreSQL database.
#
#   deploy/backup/restore.sh FILE DATABASE_URL [--force]
#
# Into an empty database (create it first: createdb NAME) the restore just runs. A database that
# already has tables is live data: the restore refuses unless --force is given, and with --force it
# replaces every table the backup holds. Either way it runs in one transaction: it lands whole or
# not at all. Stop the replicas first when overwriting, or they keep writing during the restore.
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
force=0
args=()
for a in "$@"; do
  case $a in
    --force) force=1 ;;
    -h|--help) usage ;;
    *) args+=("$a") ;;
  esac
done
[[ ${#args[@]} -eq 2 ]] || usage
file=${args[0]}
url=${args[1]}
[[ -r $file ]] || { echo "restore: cannot read $file" >&2; exit 2; }
pg_restore --list "$file" >/dev/null || { echo "restore: $file is not a pg_dump custom-format backup" >&2; exit 2; }

db=$(psql "$url" -XAtqc 'SELECT current_database()')
tables=$(psql "$url" -XAtqc "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()")
if [[ $tables -gt 0 && $force -ne 1 ]]; then
  echo "restore: database $db already has $tables tables; refusing to overwrite it (pass --force to replace them)" >&2
  exit 1
fi

clean=()
[[ $tables -gt 0 ]] && clean=(--clean --if-exists)
pg_restore --no-owner --no-privileges --single-transaction --exit-on-error "${clean[@]}" --dbname="$url" "$file"
restored=$(psql "$url" -XAtqc "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()")
echo "restored $file into database $db ($restored tables)"
