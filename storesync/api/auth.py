"""Who calls: `Authorization: Bearer <API key>` → the key's organization, role and scopes, after
its rate limit. Routes depend on `allowed(resource, access)`; the services then check the key's
role like a member's, and PostgreSQL's row-level security limits every statement to the key's
organization."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import OperationalError

from storesync.api.errors import RateLimited
from storesync.core.errors import AppError, ErrorType
from storesync.db import session_scope
from storesync.tenancy.api_keys import (
    ApiCaller,
    authenticate_api_key,
    is_used_recently,
    note_key_used,
    scopes_allow,
)

log = logging.getLogger(__name__)
AUTHENTICATED = "authenticated_caller"  # request.state: the caller the guard found

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key (Settings → API keys, or `storesync apikey create`)",
)


def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiCaller:
    """The caller of this request; 401 without a valid key, 429 over the key's rate. A key the
    guard already authenticated (an idempotent POST) is not looked up again. Its context carries
    the key's name and the client's address (the audit log's actor)."""
    address = request.client.host if request.client else ""
    caller = getattr(request.state, AUTHENTICATED, None)
    if isinstance(caller, ApiCaller):
        caller = caller.calling_from(address)
    else:
        key = credentials.credentials if credentials is not None else ""
        with session_scope() as session:
            caller = authenticate_api_key(session, key=key, client_address=address)
    retry_after = request.app.state.limiter.hit(str(caller.key_id))
    if retry_after is not None:
        raise RateLimited(retry_after)
    if not is_used_recently(caller):
        try:
            with session_scope(caller.ctx) as session:
                note_key_used(session, caller=caller)
        except OperationalError:  # SQLite busy: the last-used time is best effort
            log.info("could not record the use of API key %s now", caller.key_id)
    return caller


def allowed(resource: str, access: str) -> Callable[[ApiCaller], ApiCaller]:
    """A dependency: the caller, when its key's scopes grant `access` to `resource`."""

    def dependency(caller: Annotated[ApiCaller, Depends(current_caller)]) -> ApiCaller:
        if not scopes_allow(caller.scopes, resource, access):
            raise AppError(
                ErrorType.AUTHORIZATION,
                "scope_missing",
                f"this API key lacks the {resource}:{access} scope",
                details={"scope": f"{resource}:{access}"},
            )
        return caller

    return dependency


def reader(resource: str) -> object:
    return Depends(allowed(resource, "read"))


def writer(resource: str) -> object:
    return Depends(allowed(resource, "write"))
