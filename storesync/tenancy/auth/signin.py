"""Signing in, throttled: at most `throttle.SIGNIN_ACCOUNT` wrong passwords per account and
`throttle.SIGNIN_ADDRESS` per client address a minute; past that, attempts are refused before
any password is checked (each check is an argon2 hash: the limit also caps the CPU an attacker
can burn). Unknown emails count and answer exactly like wrong passwords."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from storesync.core.errors import AuthenticationFailed
from storesync.db import session_scope, writing
from storesync.tenancy import service as tenancy
from storesync.tenancy.auth import sessions
from storesync.tenancy.auth.throttle import SignInGuard


def sign_in(
    *,
    email: str,
    password: str,
    client_address: str,
    guard: SignInGuard,
    user_agent: str = "",
    engine: Engine | None = None,
) -> str:
    """Check the password and start a pending session in the organization the user last
    worked in; returns the session's one-time ticket (`sessions.activate`). Raises
    `TooManyAttempts` when throttled, `AuthenticationFailed` for a wrong email or password."""
    email = email[:320]
    guard.check(email, client_address)
    try:
        with writing(engine=engine) as session:
            user = tenancy.authenticate(session, email=email, password=password)
    except AuthenticationFailed:
        guard.failure(email, client_address)
        raise
    guard.success(email)
    with session_scope(user_id=user.id, engine=engine) as session:
        memberships = [
            m.organization_id for m in tenancy.list_memberships(session, user_id=user.id)
        ]
    if not memberships:
        raise AuthenticationFailed(
            "no_organization", "this account does not belong to any organization"
        )
    with writing(engine=engine) as session:
        return sessions.start_session(
            session,
            user_id=user.id,
            organization_id=sessions.last_organization(
                session, user_id=user.id, memberships=memberships
            ),
            client_address=client_address,
            user_agent=user_agent,
        )
