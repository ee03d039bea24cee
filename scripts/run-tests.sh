#!/usr/bin/env bash
# Start a throwaway PostgreSQL on loopback, run the whole suite against it and SQLite, stop it.
# Without arguments the browser tests run in a second pytest process of their own: in one long
# process with everything else, a Chromium test hung twice (renderer spinning), never alone.
set -euo pipefail
cd "$(dirname "$0")/.."
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/var/numba_cache}"
DATABASE_URL_PG="$(scripts/pg-test-server.sh start | tail -n 1)"
export DATABASE_URL_PG
trap 'scripts/pg-test-server.sh stop >/dev/null 2>&1 || true' EXIT
if [ $# -gt 0 ]; then
  .venv/bin/python -m pytest "$@"
  exit $?
fi
status=0
# Two workers (pytest-xdist) for everything but the browser: the retrain and real-recording checks
# alone take ~12 min serially on this 2-core machine.
# The PostgreSQL tests share one server database (one of them drops the schema to test the
# migrations), so they run serially after the rest.
.venv/bin/python -m pytest -n 2 -m "not browser and not postgres" || status=$?
.venv/bin/python -m pytest -m "postgres and not browser" || status=$?
.venv/bin/python -m pytest -m browser || status=$?
exit $status
