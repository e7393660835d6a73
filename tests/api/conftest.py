"""API fixtures: the `/api/v1` app on SQLite and (marked) PostgreSQL, keys made through the
service, and a client that checks EVERY response it receives against the OpenAPI document (its
status must be documented for the route, its body must match the documented schema)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.routing import Match, Mount

from storesync import db
from storesync.api.app import PREFIX, build_api
from storesync.api.limits import LocalLimiter
from storesync.core.models import table_of
from storesync.settings import get_settings
from storesync.tenancy import api_keys
from storesync.tenancy.context import RequestContext
from tests.catalog.conftest import new_org


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "app_engine"
    return request.getfixturevalue(name)


@dataclass
class Checked:
    """Every (method, route, status) the suite saw, for the coverage check."""

    seen: set[tuple[str, str, int]] = field(default_factory=set)


SEEN = Checked()


class ApiClient:
    """A TestClient whose every response is checked against the OpenAPI document."""

    def __init__(self, app: FastAPI, key: str | None) -> None:
        self.app = app
        self.document = app.openapi()
        mounted = Starlette(routes=[Mount(PREFIX, app=app)])  # as the app server mounts it
        self.client = TestClient(mounted, base_url=f"http://testserver{PREFIX}")
        self.key = key

    def request(
        self, method: str, path: str, *, key: str | None = "default", **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        token = self.key if key == "default" else key
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        response = self.client.request(method, path, headers=headers, **kwargs)
        check_against_document(self.app, self.document, method, path, response)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


def route_of(app: FastAPI, method: str, path: str) -> str | None:
    bare = path.split("?", 1)[0]
    for route in app.router.routes:
        match, _ = route.matches({"type": "http", "path": bare, "method": method.upper()})
        if match is Match.FULL:
            return str(getattr(route, "path", ""))
    return None


def check_against_document(
    app: FastAPI, document: dict[str, Any], method: str, path: str, response: httpx.Response
) -> None:
    template = route_of(app, method, path)
    if template is None or template == "/docs" or template not in document["paths"]:
        return  # an unknown route (its 404 envelope is checked by its own test)
    operation = document["paths"][template][method.lower()]
    answers = operation["responses"]
    status = str(response.status_code)
    assert status in answers, (
        f"{method} {template} answered {status}, which its OpenAPI entry does not document "
        f"(documented: {sorted(answers)}): {response.text[:300]}"
    )
    SEEN.seen.add((method.upper(), template, response.status_code))
    media = response.headers.get("content-type", "").split(";")[0].strip()
    kinds = answers[status].get("content", {})
    assert not kinds or media in kinds, (
        f"{method} {template} answered {status} as {media!r}; documented: {sorted(kinds)}"
    )
    content = kinds.get("application/json")
    if content is None:
        return  # a body that is not JSON (CSV) is checked by its media type only
    schema = {**content["schema"], "components": document["components"]}
    jsonschema.Draft202012Validator(schema).validate(json.loads(response.text or "null"))


@dataclass
class ApiWorld:
    engine: Engine
    ctx: RequestContext
    app: FastAPI
    api: ApiClient
    limiter: LocalLimiter

    def count(self, model: type) -> int:
        """Rows of `model` in this world's organization."""
        table = table_of(model)
        with db.session_scope(self.ctx, engine=self.engine) as session:
            mine = table.c.organization_id == self.ctx.organization_id
            return int(session.execute(sa.select(sa.func.count()).where(mine)).scalar_one())

    def key(self, *scopes: str, role: str = "admin", ctx: RequestContext | None = None) -> str:
        owner = ctx or self.ctx
        with db.session_scope(owner, engine=self.engine) as session:
            made = api_keys.create_api_key(
                session, ctx=owner, name=f"key {uuid.uuid4().hex[:6]}", scopes=scopes, role=role
            )
        return made.secret


def make_world(engine: Engine, *, per_minute: int = 10_000) -> ApiWorld:
    ctx = new_org(engine)
    limiter = LocalLimiter(per_minute)
    app = build_api(get_settings(), limiter=limiter)
    world = ApiWorld(engine, ctx, app, ApiClient(app, None), limiter)
    world.api.key = world.key("read", "write")
    return world


@pytest.fixture
def world(engine: Engine) -> Iterator[ApiWorld]:
    db.use_engine(engine)
    try:
        yield make_world(engine)
    finally:
        db.use_engine(None)
