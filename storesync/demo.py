"""Demo data for the embedded run: one organization and its owner, created once; on first start
its stores are connected to the sandbox and its products imported, so the demo is alive."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from storesync.core.errors import AppError
from storesync.db import session_scope
from storesync.settings import Settings
from storesync.stores import service as stores
from storesync.sync.jobs import service as jobs
from storesync.tenancy import service as tenancy
from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import User
from storesync.tenancy.permissions import Role
from storesync.tenancy.schemas import OrganizationDTO

if TYPE_CHECKING:
    from storesync.sandbox.app import Sandbox

log = logging.getLogger(__name__)
DEMO_ORGANIZATION = "Demo Merchant"
DEMO_SLUG = "demo"  # `storesync apikey create --organization demo`


def seed_demo(session: Session, *, email: str, password: str) -> OrganizationDTO | None:
    """Create the demo owner and organization unless the demo user exists; idempotent."""
    address = tenancy.normalise_email(email)
    if session.exec(select(User.id).where(User.email == address)).first() is not None:
        return None
    user = tenancy.create_user(session, email=address, password=password, full_name="Demo Owner")
    return tenancy.create_organization(
        session, name=DEMO_ORGANIZATION, owner_user_id=user.id, slug=DEMO_SLUG
    )


async def bring_demo_alive(
    sandbox: Sandbox, *, email: str, settings: Settings, engine: Engine | None = None
) -> list[uuid.UUID]:
    """First start of the embedded demo: connect the demo organization to the sandbox's first
    shop of each platform (the OAuth code is issued by the in-process sandbox, the exchange goes
    over HTTP like any merchant's) and queue a products import with master products for each.
    Idempotent: nothing happens once the demo organization has a store, and a shop connected to
    another organization is left alone. Returns the stores connected now."""
    ctx = _demo_context(email, engine)
    if ctx is None:
        return []
    with session_scope(ctx, engine=engine) as session:
        if stores.list_stores(session, ctx=ctx):
            return []
    connected: list[uuid.UUID] = []
    for platform in ("shopee", "tiktok"):
        shops = sandbox.state.shops_of(platform)
        if not shops:
            continue
        code = sandbox.state.issue_code(platform, shops[0].id)
        try:
            with session_scope(ctx, engine=engine) as session:
                store = await stores.complete_connect(
                    session,
                    ctx=ctx,
                    platform=platform,
                    code=code.code,
                    shop_id=shops[0].id,
                    settings=settings,
                )
        except AppError as error:
            log.warning("demo: %s not connected: %s", platform, error.message)
            continue
        connected.append(store.id)
    # Imports start once every store is connected: on SQLite an import holds the write lock
    # while it runs, and a connection made meanwhile would wait for it.
    with session_scope(ctx, engine=engine) as session:
        for store_id in connected:
            jobs.start_job(
                session,
                ctx=ctx,
                store_id=store_id,
                kind="products",
                params={"create_products": True},
            )
    return connected


def _demo_context(email: str, engine: Engine | None) -> RequestContext | None:
    address = tenancy.normalise_email(email)
    with session_scope(engine=engine) as session:
        user_id = session.exec(select(User.id).where(User.email == address)).first()
    if user_id is None:
        return None
    with session_scope(user_id=user_id, engine=engine) as session:
        memberships = tenancy.list_memberships(session, user_id=user_id)
    if not memberships:
        return None
    return RequestContext(
        user_id=user_id, organization_id=memberships[0].organization_id, role=Role.OWNER
    )
