"""Write one audit row in the caller's transaction: it commits or rolls back with the change."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from storesync.tenancy.context import RequestContext
from storesync.tenancy.models import AuditLog

MAX_VALUE_CHARS = 500  # a long description is cut in the log, not stored twice


def record(
    session: Session,
    *,
    ctx: RequestContext,
    action: str,
    entity_type: str,
    entity_id: object = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Log `action` on an entity by the person or API key in `ctx` (system work is not logged:
    it acts for someone whose change was logged, or for a marketplace). With both `before` and
    `after`, only the fields that changed are kept; a change that changed nothing is not logged."""
    if not ctx.is_person_or_key:
        return
    old, new = _plain(before or {}), _plain(after or {})
    if before is not None and after is not None:
        changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
        if not changed:
            return
        old = {k: old[k] for k in changed if k in old}
        new = {k: new[k] for k in changed if k in new}
    session.add(
        AuditLog(
            organization_id=ctx.organization_id,
            actor_user_id=ctx.user_id,
            actor_api_key_id=ctx.api_key_id,
            actor=ctx.actor[:320],
            client_address=ctx.client_address[:64],
            action=action[:64],
            entity_type=entity_type[:64],
            entity_id=str(entity_id)[:64],
            data={"before": old, "after": new},
        )
    )


def _plain(values: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _value(v) for k, v in values.items()}


def _value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal):  # 59000.0000 from the database and 59000 typed are one value
        return format(value.normalize(), "f") if value.is_finite() else str(value)
    if isinstance(value, Enum):
        return _value(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [_value(v) for v in value]
    if isinstance(value, Mapping):
        return _plain(value)
    return str(value)[:MAX_VALUE_CHARS]
