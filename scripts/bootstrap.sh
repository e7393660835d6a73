#!/usr/bin/env bash
# Installs what StoreSync needs into the project folder: .venv (Python packages) and .tools (bun,
# from the npm registry, as Reflex's own bun download cannot reach the internet here; axe-core,
# which the browser tests inject to check every page against WCAG 2.1 AA).
# Re-running is cheap: each step is skipped when its inputs have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
BUN_VERSION=1.4.4
AXE_VERSION=4.14.1

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.storesync-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing Python packages (log: .venv/pip-install.log)"
  if ! { .venv/bin/python -m pip install --upgrade pip \
         && .venv/bin/python -m pip install -e ".[dev]"; } > .venv/pip-install.log 2>&1; then
    tail -n 40 .venv/pip-install.log >&2
    echo "pip install failed: see .venv/pip-install.log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

if [ ! -x .tools/node_modules/.bin/bun ] || [ "$(.tools/node_modules/.bin/bun --version)" != "$BUN_VERSION" ]; then
  echo "==> installing bun $BUN_VERSION from the npm registry"
  npm install --silent --no-fund --no-audit --prefix .tools "bun@$BUN_VERSION"
fi

axe=.tools/node_modules/axe-core
if [ ! -f "$axe/axe.min.js" ] || [ "$(node -p "require('./$axe/package.json').version")" != "$AXE_VERSION" ]; then
  echo "==> installing axe-core $AXE_VERSION from the npm registry"
  npm install --silent --no-fund --no-audit --prefix .tools "axe-core@$AXE_VERSION"
fi
