#!/usr/bin/env bash
# A throwaway PostgreSQL for the store tests, on loopback only.
#   scripts/pg-test-server.sh start   -> initdb if needed, start, create role + database,
#                                        print the SQLAlchemy URL as the LAST line of output
#   scripts/pg-test-server.sh stop    -> stop it (the data stays in $PDLENS_PG_DIR for next time)
#   scripts/pg-test-server.sh url     -> print the URL
#   scripts/pg-test-server.sh scratch [NAME]  -> start if needed, (re)create an EMPTY database NAME
#                                        (default pdlens_bench) owned by the same role, print its URL
#                                        last (bench/patient_list.py --url needs an empty one)
# Needs the Debian package `postgresql` (any version: the newest under /usr/lib/postgresql is used).
# As root the server runs as the `postgres` user, as PostgreSQL refuses to run as root.
# Settings: PDLENS_PG_DIR (default /tmp/pdlens-pg-test), PDLENS_PG_PORT (default 5433).
set -euo pipefail

PGDIR="${PDLENS_PG_DIR:-/tmp/pdlens-pg-test}"
PORT="${PDLENS_PG_PORT:-5433}"
ROLE=pdlens
PASSWORD=pdlens
DB=pdlens_test
URL="postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DB"

BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$BIN" ] || [ ! -x "$BIN/pg_ctl" ]; then
  echo "PostgreSQL server binaries not found under /usr/lib/postgresql: apt-get install -y postgresql" >&2
  exit 1
fi

as_owner() {  # run a command as the user owning the cluster
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
  else
    "$@"
  fi
}

psql_admin() {
  as_owner "$BIN/psql" -h "$PGDIR" -p "$PORT" -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

start() {
  if [ ! -s "$PGDIR/data/PG_VERSION" ]; then
    mkdir -p "$PGDIR"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PGDIR"
    as_owner "$BIN/initdb" -D "$PGDIR/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$PGDIR/initdb.log" 2>&1 \
      || { cat "$PGDIR/initdb.log" >&2; exit 1; }
  fi
  if ! as_owner "$BIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
    # loopback TCP only; the unix socket lives in $PGDIR (no /var/run/postgresql needed)
    as_owner "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null || { tail -n 20 "$PGDIR/server.log" >&2; exit 1; }
  fi
  if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
    psql_admin -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'"
  fi
  if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
    psql_admin -c "CREATE DATABASE $DB OWNER $ROLE"
  fi
  echo "PostgreSQL $(basename "$(dirname "$BIN")") running on 127.0.0.1:$PORT (data in $PGDIR/data)" >&2
  echo "$URL"
}

stop() {
  if [ -s "$PGDIR/data/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$PGDIR/data" status >/dev/null 2>&1; then
    as_owner "$BIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null
    echo "PostgreSQL on port $PORT stopped" >&2
  fi
}

scratch() {
  local name="${1:-pdlens_bench}"
  case "$name" in
    *[!a-z0-9_]*|"") echo "scratch database name: lower-case letters, digits and _ only" >&2; exit 2 ;;
  esac
  start >/dev/null
  psql_admin -c "DROP DATABASE IF EXISTS $name"
  psql_admin -c "CREATE DATABASE $name OWNER $ROLE"
  echo "postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$name"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$URL" ;;
  scratch) scratch "${2:-}" ;;
  *) echo "usage: $0 start|stop|url|scratch [NAME]" >&2; exit 2 ;;
esac
