"""`storesync inventory check` exits 0 when the ledger adds up and 1 when it does not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from storesync.db import session_scope
from storesync.inventory import service as inventory
from tests.inventory.conftest import build_world

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _check(url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STORESYNC_DATABASE_URL": url, "STORESYNC_VAR_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "storesync.cli", "inventory", "check"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_inventory_check_reports_drift_with_a_non_zero_exit(
    sqlite_url: str,
    sqlite_engine,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    w = build_world(sqlite_engine, on_hand=7)

    healthy = _check(sqlite_url, tmp_path)
    with session_scope(w.ctx, engine=sqlite_engine) as session:
        session.execute(sa.update(inventory.ITEMS).values(on_hand=9))
    drifted = _check(sqlite_url, tmp_path)

    assert healthy.returncode == 0, healthy.stderr
    assert healthy.stdout.strip().endswith("checked 1 organization(s): 0 mismatch(es)")
    assert drifted.returncode == 1
    assert "on_hand 9 (ledger 7), reserved 0 (ledger 0)" in drifted.stdout
