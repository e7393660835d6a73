#!/usr/bin/env bash
# Runs StoreSync embedded: SQLite under var/, demo data, one port (default 3000).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
exec .venv/bin/storesync run "$@"
