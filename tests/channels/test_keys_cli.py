"""`storesync keys rotate --generate`: a new key first in var/, every credential re-sealed."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

from storesync import migrate
from storesync.channels.models import Store
from storesync.channels.schemas import Credentials
from storesync.core.crypto import CredentialBox
from storesync.db import make_engine, session_scope
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_keys_rotate_generate_re_seals_every_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    migrate.upgrade(url=url)
    old_key = Fernet.generate_key().decode()
    (tmp_path / "fernet.keys").write_text(old_key + "\n")
    engine = make_engine(url)
    with session_scope(engine=engine) as session:
        user = tenancy.create_user(session, email="k@example.com", password="correct horse")
        org = tenancy.create_organization(session, name="Keys", owner_user_id=user.id)
    creds = Credentials(
        access_token="tok-a",
        refresh_token="tok-r",
        shop_id="42",
        access_expires_at=datetime.now(UTC) + timedelta(hours=4),
    )
    with session_scope(RequestContext.system(org.id), engine=engine) as session:
        session.add(
            Store(
                organization_id=org.id,
                platform="shopee",
                platform_store_id="42",
                name="S",
                credentials_encrypted=CredentialBox([old_key]).seal(creds.model_dump(mode="json")),
            )
        )

    result = subprocess.run(
        [sys.executable, "-m", "storesync.cli", "keys", "rotate", "--generate"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STORESYNC_DATABASE_URL": url, "STORESYNC_VAR_DIR": str(tmp_path)},
    )

    assert result.returncode == 0, result.stderr
    assert (
        "re-encrypted 1 store credential(s) in 1 organization(s) under the newest of 2 key(s)"
        in result.stdout
    )
    keys = (tmp_path / "fernet.keys").read_text().strip().split(",")
    assert len(keys) == 2 and keys[1] == old_key
    with session_scope(engine=engine) as session:
        sealed = session.execute(sa.select(Store.credentials_encrypted)).scalar_one()  # type: ignore[call-overload]
    assert CredentialBox([keys[0]]).open(sealed)["access_token"] == "tok-a"
    assert "tok-a" not in result.stdout + result.stderr
    engine.dispose()
