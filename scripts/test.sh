#!/usr/bin/env bash
# Set up and run every check: lint, format, types, layer rules, and the whole test suite
# (unit, integration against real PostgreSQL / Label Studio / ffmpeg / yt-dlp, end to end).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
VENV=${AVEL_VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
export AVEL_PROGRESS=false

# A real PostgreSQL for the store tests: start the local cluster and make a test role.
if [ -z "${AVEL_TEST_PG_URL:-}" ] && ! command -v pg_ctlcluster >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "test: installing PostgreSQL (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
if [ -z "${AVEL_TEST_PG_URL:-}" ] && command -v pg_ctlcluster >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
    if [ -n "$version" ]; then
      pg_ctlcluster "$version" main start 2>/dev/null || true
      for _ in $(seq 1 30); do su postgres -c "pg_isready -q" && break; sleep 1; done
      su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='avel_test'\"" | grep -q 1 ||
        su postgres -c "psql -qc \"CREATE ROLE avel_test LOGIN CREATEDB PASSWORD 'avel_test'\""
      su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='avel_test'\"" | grep -q 1 ||
        su postgres -c "psql -qc 'CREATE DATABASE avel_test OWNER avel_test'"
      export AVEL_TEST_PG_URL="postgresql://avel_test:avel_test@127.0.0.1/avel_test"
    fi
  fi
fi
if [ -n "${CI:-}" ]; then
  # CI: a test skipped for a missing part (PostgreSQL, Label Studio, ../shared, ffmpeg) fails
  export AVEL_REQUIRE_PG=1 AVEL_REQUIRE_LS=1 AVEL_NO_SKIPS=1
fi

echo "== ruff";        ruff check . && ruff format --check .
echo "== mypy";        mypy
echo "== import rules"; lint-imports
echo "== pytest";      python -m pytest "$@"
