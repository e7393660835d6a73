"""Contexts for work no signed-in user starts (CLI, workers): they act as the owner."""

from __future__ import annotations

from sqlmodel import Session

from storesync.core.errors import ValidationFailed
from storesync.tenancy.context import RequestContext
from storesync.tenancy.service import find_organization_id, list_organization_ids


def system_context(session: Session, *, org_ref: str | None) -> RequestContext:
    """The owner-level context of the organization named by slug or id; with no reference, the
    only organization there is (an error when there are several)."""
    if org_ref:
        return RequestContext.system(find_organization_id(session, ref=org_ref))
    ids = list_organization_ids(session)
    if len(ids) != 1:
        raise ValidationFailed(
            "org", f"{len(ids)} organizations exist: pass --org SLUG to choose one"
        )
    return RequestContext.system(ids[0])
