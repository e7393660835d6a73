"""What the API checks before any route runs: the body's size (413 past the cap), and
`Idempotency-Key` on POST: the first request with a key is recorded with its body's hash and,
once answered, its response; a repeat with the same body gets that response again
(`Idempotent-Replayed: true`) and changes nothing twice, the same key with another body or
route is refused (422), and a repeat while the first is still running waits its turn (409).

A pure ASGI middleware: it reads the body once and hands it on, and records the response as it
streams out."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storesync.api.auth import AUTHENTICATED
from storesync.api.errors import envelope
from storesync.core.errors import AppError, ErrorType
from storesync.core.ids import new_id
from storesync.core.logs import bound
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.tenancy.api_keys import ApiCaller, authenticate_api_key
from storesync.tenancy.models import ApiRequest

REQUESTS = table_of(ApiRequest)
MAX_IDEMPOTENCY_KEY = 200
WRITES = ("POST", "PUT", "PATCH", "DELETE")
PENDING = 0  # status_code of a request still running


class ApiGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        body = await self._body(headers, receive)
        if body is None:
            await _answer(send, 413, _error("body_too_large", self._too_large()))
            return
        replay = _replaying(body)
        idempotency_key = headers.get("idempotency-key")
        if scope["method"] != "POST" or idempotency_key is None:
            await self.app(scope, replay, send)
            return
        if not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY or not idempotency_key.isprintable():
            problem = AppError(
                ErrorType.VALIDATION,
                "invalid_field",
                f"Idempotency-Key: must be 1-{MAX_IDEMPOTENCY_KEY} printable characters",
                details={"field": "Idempotency-Key"},
            )
            await _answer(send, 422, envelope(problem))
            return
        caller = await run_in_threadpool(_caller, headers)
        if caller is None:  # the route answers 401 itself
            await self.app(scope, replay, send)
            return
        scope.setdefault("state", {})[AUTHENTICATED] = caller  # the route's auth reuses it
        await self._idempotent(scope, replay, send, caller, idempotency_key, body)

    def _too_large(self) -> str:
        return f"body: larger than {self.max_body_bytes} bytes"

    async def _body(self, headers: Headers, receive: Receive) -> bytes | None:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _idempotent(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        caller: ApiCaller,
        idempotency_key: str,
        body: bytes,
    ) -> None:
        fingerprint = hashlib.sha256(body).hexdigest()
        path = str(scope["path"])[:500]
        claim = await run_in_threadpool(
            _claim, caller, idempotency_key, scope["method"], path, fingerprint
        )
        if isinstance(claim, tuple):
            status, stored = claim
            await _answer(send, status, stored, replayed=True)
            return
        if isinstance(claim, AppError):
            await _answer(
                send, 422 if claim.code == "idempotency_key_reused" else 409, envelope(claim)
            )
            return
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                started["status"] = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, recording)
        except BaseException:
            await run_in_threadpool(_release, caller, claim)
            raise
        status = int(started.get("status", 500))
        if status >= 500 or status == 429:  # not an answer to keep: the client may try again
            await run_in_threadpool(_release, caller, claim)
        else:
            await run_in_threadpool(_keep, caller, claim, status, b"".join(chunks))


def _replaying(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _error(code: str, message: str) -> dict[str, Any]:
    return envelope(AppError(ErrorType.VALIDATION, code, message, details={"field": "body"}))


async def _answer(send: Send, status: int, payload: Any, *, replayed: bool = False) -> None:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    if replayed:
        headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


def _caller(headers: Headers) -> ApiCaller | None:
    scheme, _, key = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    try:
        with session_scope() as session:
            return authenticate_api_key(session, key=key)
    except AppError:
        return None


_INSERTS: dict[str, Any] = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def _claim(
    caller: ApiCaller, idempotency_key: str, method: str, path: str, fingerprint: str
) -> uuid.UUID | tuple[int, Any] | AppError:
    """A new request's row id; the stored (status, body) of a finished repeat; or the reason a
    repeat is refused."""
    row_id = new_id()
    with session_scope(caller.ctx, write_lock=True) as session:
        insert = _INSERTS[session.get_bind().dialect.name]
        inserted = session.execute(
            insert(REQUESTS)
            .values(
                id=row_id,
                organization_id=caller.ctx.organization_id,
                key_id=caller.key_id,
                idempotency_key=idempotency_key,
                method=method,
                path=path,
                body_hash=fingerprint,
                status_code=PENDING,
                response={},
            )
            .on_conflict_do_nothing(index_elements=["key_id", "idempotency_key"])
            .returning(REQUESTS.c.id)
        ).first()
        if inserted is not None:
            return row_id
        first = session.execute(
            sa.select(REQUESTS).where(
                REQUESTS.c.key_id == caller.key_id,
                REQUESTS.c.idempotency_key == idempotency_key,
            )
        ).one()
    if (first.method, first.path, first.body_hash) != (method, path, fingerprint):
        return AppError(
            ErrorType.VALIDATION,
            "idempotency_key_reused",
            "Idempotency-Key: already used for another request (other route or body)",
            details={"field": "Idempotency-Key"},
        )
    if first.status_code == PENDING:
        return AppError(
            ErrorType.CONFLICT,
            "idempotency_in_progress",
            "Idempotency-Key: the first request with this key is still running; retry shortly",
            details={"field": "Idempotency-Key"},
            retryable=True,
        )
    return int(first.status_code), first.response.get("body")


def _keep(caller: ApiCaller, row_id: uuid.UUID, status: int, raw: bytes) -> None:
    try:
        payload: Any = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode(errors="replace")
    with session_scope(caller.ctx, write_lock=True) as session:
        session.execute(
            sa.update(REQUESTS)
            .where(REQUESTS.c.id == row_id)
            .values(status_code=status, response={"body": payload})
        )


def _release(caller: ApiCaller, row_id: uuid.UUID) -> None:
    with session_scope(caller.ctx, write_lock=True) as session:
        session.execute(sa.delete(REQUESTS).where(REQUESTS.c.id == row_id))


REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestIds:
    """Every API request gets an id, the caller's `X-Request-Id` when it is a plain token (else
    a new one), answered in `X-Request-Id` and named by every log line written for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if REQUEST_ID.fullmatch(given) else new_id().hex

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            await send(message)

        with bound(request_id=request_id):
            await self.app(scope, receive, answer)
