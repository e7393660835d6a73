"""The audit log: who changed what, newest first, filtered by actor, action, entity and date;
keyset pages. Needs the `audit:read` scope (or `read`) and a key whose role is admin (staff and
viewer keys are refused, as staff and viewers are in the app)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from storesync.api.auth import reader
from storesync.api.errors import documented
from storesync.core.pagination import MAX_PAGE_SIZE, Page
from storesync.db import session_scope
from storesync.tenancy.api_keys import ApiCaller
from storesync.tenancy.audit import queries as audit
from storesync.tenancy.audit.queries import AuditEntryDTO

router = APIRouter(prefix="/audit", tags=["audit"])
Read = Annotated[ApiCaller, reader("audit")]
Text = Annotated[str | None, Query(max_length=audit.MAX_TEXT)]
DATES = (
    "A day (2026-03-01, in the organization's time zone) or an ISO 8601 datetime (with an "
    "offset, or read in the organization's time zone)"
)


@router.get("", response_model=Page[AuditEntryDTO], responses=documented())
def list_audit(
    caller: Read,
    actor: Annotated[
        str | None,
        Query(max_length=audit.MAX_TEXT, description="Text in the actor (email or key name)"),
    ] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=audit.MAX_TEXT,
            description="An action (stock.adjust) or its family (stock)",
        ),
    ] = None,
    entity_type: Text = None,
    entity_id: Text = None,
    date_from: Annotated[
        str | None, Query(alias="from", max_length=40, description=f"From (inclusive): {DATES}")
    ] = None,
    date_to: Annotated[
        str | None,
        Query(
            alias="to",
            max_length=40,
            description=f"To: {DATES}; a day includes that whole day, a datetime is exclusive",
        ),
    ] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> Page[AuditEntryDTO]:
    """Changes made by people and API keys, newest first, each with the changed fields' values
    before and after; `next_cursor` fetches older ones."""
    with session_scope(caller.ctx) as session:
        where = audit.audit_filter(
            session,
            ctx=caller.ctx,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            date_from=date_from,
            date_to=date_to,
        )
        return audit.list_entries(session, ctx=caller.ctx, where=where, limit=limit, cursor=cursor)
