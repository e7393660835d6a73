#!/usr/bin/env bash
# The whole test suite: lint (ruff), types (mypy), import contracts (import-linter), then pytest on SQLite, PostgreSQL, Redis and a
# real headless Chromium. Under CI=true a test whose service is unreachable fails, never skips.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="$PWD/.tools/node_modules/.bin:$PATH"

if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing Debian chromium for the browser tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy"
.venv/bin/mypy
echo "==> import contracts (lint-imports)"
.venv/bin/lint-imports --no-cache
echo "==> pytest (${STORESYNC_TEST_PROCESSES:-2} processes)"
exec .venv/bin/pytest -n "${STORESYNC_TEST_PROCESSES:-2}" "$@"
