"""API keys: an organization's other systems (ERP, accounting, warehouse) call the API with one.

A key is `ssk_<prefix>_<secret>`: the prefix (12 hex characters) finds it, the SHA-256 of the
whole key proves it. The key itself is shown once, at creation, and never stored. Scopes limit
what it may touch: `read` / `write` for every resource, or `<resource>:read` / `<resource>:write`
for one (`write` includes `read`). On top of its scopes a key acts with a role (admin at most:
a key never manages members), under the same permission checks and row-level security as a
member of its organization. Its changes are logged in the audit log as "API key <name>" with
the address it called from.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from storesync.core.clock import utcnow
from storesync.core.errors import AuthenticationFailed, NotFound, ValidationFailed
from storesync.core.models import table_of
from storesync.core.schemas import DTO
from storesync.db import set_tenant
from storesync.tenancy.audit.record import record
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import ApiKey
from storesync.tenancy.permissions import Permission, Role

RESOURCES = (
    "products",
    "inventory",
    "orders",
    "stores",
    "listings",
    "jobs",
    "notifications",
    "webhooks",
    "audit",
)
ACCESS = ("read", "write")
DEFAULT_SCOPES = ("read",)
KEY_PATTERN = re.compile(r"^ssk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
MAX_NAME = 100
# last_used_at is written at most this often per key (not one write per request).
LAST_USED_EVERY = timedelta(minutes=1)
_KEY_ROLES = (Role.ADMIN, Role.STAFF, Role.VIEWER)
KEYS = table_of(ApiKey)


class ApiKeyDTO(DTO):
    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    role: str
    created_by: uuid.UUID | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewApiKeyDTO(DTO):
    """A key just created: `secret` is the whole key, shown this once."""

    key: ApiKeyDTO
    secret: str


@dataclass(frozen=True, slots=True)
class ApiCaller:
    """Who a request made with a key acts as."""

    key_id: uuid.UUID
    ctx: RequestContext
    scopes: frozenset[str]
    last_used_at: datetime | None

    def allows(self, resource: str, access: str) -> bool:
        return scopes_allow(self.scopes, resource, access)

    def calling_from(self, client_address: str) -> ApiCaller:
        """This caller with the address its request came from (the audit log records it)."""
        return replace(self, ctx=replace(self.ctx, client_address=client_address[:64]))


def scopes_allow(scopes: Iterable[str], resource: str, access: str) -> bool:
    """Whether `scopes` grant `access` ("read" or "write") to `resource`."""
    wanted = {access, f"{resource}:{access}"}
    if access == "read":
        wanted |= {"write", f"{resource}:write"}
    return not wanted.isdisjoint(scopes)


def clean_scopes(values: Iterable[str]) -> list[str]:
    """Validated, de-duplicated, sorted scopes; none given means read-only."""
    scopes = sorted({v.strip().lower() for v in values if v.strip()}) or list(DEFAULT_SCOPES)
    for scope in scopes:
        resource, _, access = scope.rpartition(":")
        if access not in ACCESS or (resource and resource not in RESOURCES):
            raise ValidationFailed(
                "scopes",
                f"unknown scope {scope!r}: use read, write, or <resource>:read|write with a "
                f"resource among {', '.join(RESOURCES)}",
            )
    return scopes


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(
    session: Session,
    *,
    ctx: RequestContext,
    name: str,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    role: Role | str = Role.ADMIN,
) -> NewApiKeyDTO:
    """A new key for the organization, with `scopes` and `role` (at most admin, and at most the
    creator's own role). Needs MANAGE_SETTINGS (owners and admins)."""
    ctx.require(Permission.MANAGE_SETTINGS)
    clean_name = name.strip()
    if not clean_name:
        raise ValidationFailed("name", "must not be empty")
    if len(clean_name) > MAX_NAME:
        raise ValidationFailed("name", f"must be at most {MAX_NAME} characters")
    try:
        key_role = Role(role)
    except ValueError:
        raise ValidationFailed("role", "must be admin, staff or viewer") from None
    if key_role not in _KEY_ROLES:
        raise ValidationFailed("role", "must be admin, staff or viewer (keys never manage members)")
    if _KEY_ROLES.index(key_role) < _KEY_ROLES.index(_capped(ctx.role)):
        raise ValidationFailed("role", f"may not exceed your own role ({ctx.role.value})")
    prefix = secrets.token_hex(6)
    secret = f"ssk_{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        organization_id=ctx.organization_id,
        name=clean_name,
        prefix=prefix,
        key_hash=_hash(secret),
        scopes=clean_scopes(scopes),
        role=key_role.value,
        created_by=ctx.user_id,
    )
    session.add(row)
    session.flush()
    record(
        session,
        ctx=ctx,
        action="api_key.create",
        entity_type="api_key",
        entity_id=row.id,
        after={"name": row.name, "scopes": row.scopes, "role": row.role, "prefix": row.prefix},
    )
    return NewApiKeyDTO(key=ApiKeyDTO.model_validate(row), secret=secret)


def _capped(role: Role) -> Role:
    return Role.ADMIN if role is Role.OWNER else role


def list_api_keys(session: Session, *, ctx: RequestContext) -> list[ApiKeyDTO]:
    """The organization's keys, newest first, revoked ones included. Needs MANAGE_SETTINGS."""
    ctx.require(Permission.MANAGE_SETTINGS)
    rows = session.exec(
        select(ApiKey)
        .where(ApiKey.organization_id == ctx.organization_id)
        .order_by(col(ApiKey.created_at).desc(), col(ApiKey.id).desc())
    ).all()
    return [ApiKeyDTO.model_validate(row) for row in rows]


def revoke_api_key(session: Session, *, ctx: RequestContext, key_id: uuid.UUID) -> ApiKeyDTO:
    """Refuse the key from now on (idempotent). Needs MANAGE_SETTINGS."""
    ctx.require(Permission.MANAGE_SETTINGS)
    row = session.exec(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.organization_id == ctx.organization_id)
    ).first()
    if row is None:
        raise NotFound("api_key", key_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record(
            session,
            ctx=ctx,
            action="api_key.revoke",
            entity_type="api_key",
            entity_id=row.id,
            before={"revoked_at": None},
            after={"revoked_at": row.revoked_at, "name": row.name},
        )
        session.flush()
    return ApiKeyDTO.model_validate(row)


def _refused() -> AuthenticationFailed:
    return AuthenticationFailed(
        "invalid_api_key", "missing, unknown or revoked API key: send Authorization: Bearer <key>"
    )


def authenticate_api_key(session: Session, *, key: str, client_address: str = "") -> ApiCaller:
    """The caller a key stands for, before any tenant context exists (on PostgreSQL through a
    SECURITY DEFINER function). A malformed, unknown or revoked key is `invalid_api_key`; all
    three answer alike and take the same path. Its context names the key ("API key <name>")
    and `client_address` for the audit log; the session then acts for the key's organization."""
    match = KEY_PATTERN.match(key.strip())
    if match is None:
        raise _refused()
    prefix = match.group(1)
    if session.get_bind().dialect.name == "postgresql":
        found = session.execute(
            sa.text(
                "SELECT id, organization_id, key_hash, scopes, role, revoked_at, last_used_at "
                "FROM storesync_find_api_key(:prefix)"
            ),
            {"prefix": prefix},
        ).first()
    else:
        found = session.execute(
            sa.select(
                KEYS.c.id,
                KEYS.c.organization_id,
                KEYS.c.key_hash,
                KEYS.c.scopes,
                KEYS.c.role,
                KEYS.c.revoked_at,
                KEYS.c.last_used_at,
            ).where(KEYS.c.prefix == prefix)
        ).first()
    expected = found[2] if found else _hash("ssk_000000000000_" + "x" * 43)
    if not hmac.compare_digest(expected, _hash(key.strip())) or found is None or found[5]:
        raise _refused()
    key_id, organization_id = uuid.UUID(str(found[0])), uuid.UUID(str(found[1]))
    set_tenant(session, organization_id=organization_id)
    name = session.execute(
        sa.select(KEYS.c.name).where(KEYS.c.id == key_id, KEYS.c.organization_id == organization_id)
    ).scalar_one()
    ctx = RequestContext(
        user_id=None,
        organization_id=organization_id,
        role=Role(found[4]),
        api_key_id=key_id,
        actor=f"API key {name}",
        client_address=client_address[:64],
    )
    return ApiCaller(
        key_id=key_id, ctx=ctx, scopes=frozenset(found[3] or ()), last_used_at=found[6]
    )


def note_key_used(session: Session, *, caller: ApiCaller) -> None:
    """Record the key's last use, at most once a minute (a write per request would cost more
    than the request)."""
    now = utcnow()
    session.execute(
        sa.update(KEYS)
        .where(
            KEYS.c.id == caller.key_id,
            KEYS.c.organization_id == caller.ctx.organization_id,
            sa.or_(KEYS.c.last_used_at.is_(None), KEYS.c.last_used_at < now - LAST_USED_EVERY),
        )
        .values(last_used_at=now)
    )


def is_used_recently(caller: ApiCaller) -> bool:
    """Whether the key's last use is recorded recently enough to skip recording this one."""
    return caller.last_used_at is not None and caller.last_used_at > utcnow() - LAST_USED_EVERY
