"""Demo data for the embedded run: one organization and its owner, created once."""

from __future__ import annotations

from sqlmodel import Session, select

from storesync.tenancy import service as tenancy
from storesync.tenancy.models import User
from storesync.tenancy.schemas import OrganizationDTO

DEMO_ORGANIZATION = "Demo Merchant"


def seed_demo(session: Session, *, email: str, password: str) -> OrganizationDTO | None:
    """Create the demo owner and organization unless the demo user exists; idempotent."""
    address = tenancy.normalise_email(email)
    if session.exec(select(User.id).where(User.email == address)).first() is not None:
        return None
    user = tenancy.create_user(session, email=address, password=password, full_name="Demo Owner")
    return tenancy.create_organization(session, name=DEMO_ORGANIZATION, owner_user_id=user.id)
