#!/usr/bin/env bash
# Start a throwaway PostgreSQL on loopback, run the whole suite against it and SQLite, stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/var/numba_cache}"
DATABASE_URL_PG="$(scripts/pg-test-server.sh start | tail -n 1)"
export DATABASE_URL_PG
trap 'scripts/pg-test-server.sh stop >/dev/null 2>&1 || true' EXIT
.venv/bin/python -m pytest "$@"
