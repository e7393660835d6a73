"""Passwords: set, checked and changed apart from the user row. On PostgreSQL the app role
cannot select `user_credential.password_hash`; sign-in reads it by email through the SECURITY
DEFINER function `storesync_login`, and nothing else reads it at all."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, select

from storesync.core.clock import utcnow
from storesync.core.errors import ValidationFailed
from storesync.core.models import table_of
from storesync.tenancy.auth.models import UserCredential
from storesync.tenancy.models import User
from storesync.tenancy.passwords import hash_password, needs_rehash, verify_password

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256  # argon2 takes anything; a megabyte "password" is a CPU attack
# Checked when the email has no login, so an unknown email takes as long as a wrong password.
_DUMMY_HASH = hash_password("storesync-timing-equaliser")


@dataclass(frozen=True, slots=True)
class Login:
    user_id: uuid.UUID
    password_hash: str
    is_active: bool


def check_new_password(password: str, *, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(field, f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(field, f"must be at most {MAX_PASSWORD_LENGTH} characters")


def user_id_for_email(session: Session, address: str) -> uuid.UUID | None:
    """Whether a (normalised) email has a login, whoever asks (RLS hides other users' rows)."""
    if _postgres(session):
        found = session.execute(
            sa.text("SELECT storesync_user_id(:email)"), {"email": address}
        ).scalar_one()
        return uuid.UUID(str(found)) if found is not None else None
    return session.exec(select(User.id).where(User.email == address)).first()


def _login(session: Session, address: str) -> Login | None:
    if _postgres(session):
        row = session.execute(
            sa.text("SELECT user_id, password_hash, is_active FROM storesync_login(:email)"),
            {"email": address},
        ).first()
    else:
        row = session.execute(
            sa.select(
                table_of(User).c.id,
                table_of(UserCredential).c.password_hash,
                table_of(User).c.is_active,
            )
            .join(
                table_of(UserCredential), table_of(UserCredential).c.user_id == table_of(User).c.id
            )
            .where(table_of(User).c.email == address)
        ).first()
    return Login(uuid.UUID(str(row[0])), row[1], bool(row[2])) if row is not None else None


def verify_login(session: Session, *, address: str, password: str) -> uuid.UUID | None:
    """The id of the active login with this email and password, or None. The work is the same
    whether or not the email has a login (one argon2 verification either way)."""
    if len(password) > MAX_PASSWORD_LENGTH:
        verify_password(_DUMMY_HASH, "x")
        return None
    login = _login(session, address)
    if login is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(login.password_hash, password) or not login.is_active:
        return None
    if needs_rehash(login.password_hash):
        store_password(session, user_id=login.user_id, password=password, new=False)
    return login.user_id


def store_password(session: Session, *, user_id: uuid.UUID, password: str, new: bool) -> None:
    """Hash and write a login's password (the caller checked it: `check_new_password`). The
    current user of the transaction must be `user_id` on PostgreSQL (row-level security)."""
    table = table_of(UserCredential)
    values = {"password_hash": hash_password(password), "changed_at": utcnow()}
    if new:
        session.execute(sa.insert(table).values(user_id=user_id, **values))
    else:
        session.execute(sa.update(table).where(table.c.user_id == user_id).values(**values))


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"
