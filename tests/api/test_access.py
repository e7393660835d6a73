"""Who may call what: keys, scopes, roles, organizations, rate limits, body size, idempotency,
the error envelope for anything malformed, and the OpenAPI document and its docs page."""

from __future__ import annotations

import re
import threading
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from storesync.catalog.models import Product
from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.tenancy import api_keys
from storesync.tenancy.models import ApiKey, ApiRequest
from tests.api.conftest import ApiWorld, make_world
from tests.catalog.conftest import new_org


def _products(world: ApiWorld) -> int:
    table = table_of(Product)
    with session_scope(world.ctx, engine=world.engine) as session:
        return int(session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_missing_malformed_unknown_or_revoked_key_is_401(world: ApiWorld) -> None:
    revoked = world.key("read")
    prefix = revoked.split("_")[1]
    with session_scope(world.ctx, engine=world.engine) as session:
        key_id = session.execute(
            sa.select(table_of(ApiKey).c.id).where(table_of(ApiKey).c.prefix == prefix)
        ).scalar_one()
        api_keys.revoke_api_key(session, ctx=world.ctx, key_id=key_id)
    forged = world.api.key[:-4] + "AAAA"  # the right prefix, a wrong secret

    answers = [
        world.api.get("/products", key=None),
        world.api.get("/products", key="not-a-key"),
        world.api.get("/products", key=forged),
        world.api.get("/products", key=revoked),
        world.api.get("/products", headers={"Authorization": f"Basic {world.api.key}"}, key=None),
    ]

    assert [a.status_code for a in answers] == [401] * 5
    assert {a.json()["code"] for a in answers} == {"invalid_api_key"}
    assert world.api.get("/products").status_code == 200  # the live key still works


def test_a_key_without_the_scope_is_403_and_changes_nothing(world: ApiWorld) -> None:
    read_only = world.key("read")
    orders_only = world.key("orders:write")

    create = world.api.post("/products", json={"handle": "a", "title": "A"}, key=read_only)
    listing = world.api.get("/products", key=orders_only)

    assert (create.status_code, create.json()["code"]) == (403, "scope_missing")
    assert create.json()["details"] == {"scope": "products:write"}
    assert (listing.status_code, listing.json()["details"]["scope"]) == (403, "products:read")
    assert world.api.get("/products", key=read_only).status_code == 200  # read is granted
    assert _products(world) == 0


def test_a_viewer_key_with_write_scope_is_still_refused_by_the_role(world: ApiWorld) -> None:
    viewer = world.key("write", role="viewer")

    refused = world.api.post("/products", json={"handle": "a", "title": "A"}, key=viewer)

    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    assert _products(world) == 0


@pytest.mark.postgres
def test_one_organizations_key_never_reads_or_changes_anothers_data(app_engine: Engine) -> None:
    from storesync import db

    db.use_engine(app_engine)
    try:
        ours, theirs = make_world(app_engine), make_world(app_engine)
        made = theirs.api.post("/products", json={"handle": "secret", "title": "Secret"}).json()

        listed = ours.api.get("/products")
        got = ours.api.get(f"/products/{made['id']}")
        changed = ours.api.patch(f"/products/{made['id']}", json={"title": "Mine now"})
        deleted = ours.api.delete(f"/products/{made['id']}")
        theirs_after = theirs.api.get(f"/products/{made['id']}").json()
    finally:
        db.use_engine(None)

    assert listed.json()["items"] == []
    assert [got.status_code, changed.status_code, deleted.status_code] == [404, 404, 404]
    assert (theirs_after["title"], theirs_after["deleted_at"]) == ("Secret", None)


def test_past_the_rate_limit_the_key_gets_429_with_retry_after(engine: Engine) -> None:
    from storesync import db

    db.use_engine(engine)
    try:
        world = make_world(engine, per_minute=3)
        answers = [world.api.get("/products") for _ in range(4)]
        other_key = world.api.get("/products", key=world.key("read"))
    finally:
        db.use_engine(None)

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert limited.json()["code"] == "rate_limited" and limited.json()["retryable"] is True
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert other_key.status_code == 200  # the limit is per key


def test_an_idempotent_replay_returns_the_first_answer_and_creates_nothing_twice(
    world: ApiWorld,
) -> None:
    body = {"handle": "once", "title": "Once"}
    first = world.api.post("/products", json=body, headers={"Idempotency-Key": "k-1"})
    again = world.api.post("/products", json=body, headers={"Idempotency-Key": "k-1"})
    other_body = world.api.post(
        "/products", json={**body, "title": "Twice"}, headers={"Idempotency-Key": "k-1"}
    )
    conflict_replay = world.api.post("/products", json=body, headers={"Idempotency-Key": "k-2"})
    conflict_again = world.api.post("/products", json=body, headers={"Idempotency-Key": "k-2"})

    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["idempotent-replayed"] == "true"
    assert (other_body.status_code, other_body.json()["code"]) == (422, "idempotency_key_reused")
    # a refused request is an answer too: its repeat gets the same refusal, nothing more
    assert conflict_replay.status_code == 409
    assert (conflict_again.status_code, conflict_again.json()) == (409, conflict_replay.json())
    assert _products(world) == 1


def test_the_same_idempotent_request_sent_at_once_is_applied_once(world: ApiWorld) -> None:
    body = {"handle": "race", "title": "Race"}
    answers: list[int] = []

    def send() -> None:
        response = world.api.post("/products", json=body, headers={"Idempotency-Key": "race-1"})
        answers.append(response.status_code)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert _products(world) == 1
    assert set(answers) <= {201, 409} and 201 in answers
    with session_scope(world.ctx, engine=world.engine) as session:
        stored = session.execute(sa.select(table_of(ApiRequest).c.status_code)).scalars().all()
    assert stored == [201]


def test_a_body_over_the_cap_is_413_and_nothing_is_written(world: ApiWorld) -> None:
    huge = {"handle": "big", "title": "Big", "description": "x" * (1 << 20)}

    answer = world.api.post("/products", json=huge)

    assert (answer.status_code, answer.json()["code"]) == (413, "body_too_large")
    assert _products(world) == 0


def test_an_unknown_route_and_method_answer_in_the_envelope(world: ApiWorld) -> None:
    missing = world.api.get("/nowhere")
    wrong_method = world.api.request("PUT", "/products")

    assert (missing.status_code, missing.json()["code"]) == (404, "route_not_found")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "method_not_allowed")
    assert set(missing.json()) == {"type", "code", "message", "details", "retryable", "timestamp"}


def test_a_key_records_its_last_use(world: ApiWorld) -> None:
    key = world.key("read")
    prefix = key.split("_")[1]
    keys = table_of(ApiKey)

    world.api.get("/products", key=key)

    with session_scope(world.ctx, engine=world.engine) as session:
        used = session.execute(
            sa.select(keys.c.last_used_at).where(keys.c.prefix == prefix)
        ).scalar_one()
    assert used is not None


def test_the_openapi_document_and_docs_page_describe_every_route(world: ApiWorld) -> None:
    document = world.api.client.get("/openapi.json").json()
    page = world.api.client.get("/docs")

    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "/api/v1"}]
    assert "apiKey" in document["components"]["securitySchemes"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status in ("401", "403", "422", "429"):
                assert status in operation["responses"], (method, path, status)
            assert f"<code>/api/v1{path}</code>" in page.text
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_keys_are_validated_and_shown_once(engine: Engine) -> None:
    ctx = new_org(engine)
    with session_scope(ctx, engine=engine) as session:
        made = api_keys.create_api_key(session, ctx=ctx, name=" ERP ", scopes=["orders:write"])
        listed = api_keys.list_api_keys(session, ctx=ctx)
        with pytest.raises(Exception) as bad_scope:
            api_keys.create_api_key(session, ctx=ctx, name="x", scopes=["products:delete"])
        with pytest.raises(Exception) as bad_role:
            api_keys.create_api_key(session, ctx=ctx, name="x", role="owner")

    assert made.secret.startswith(f"ssk_{made.key.prefix}_")
    assert (made.key.name, made.key.scopes) == ("ERP", ["orders:write"])
    assert [k.id for k in listed] == [made.key.id]
    assert made.secret not in listed[0].model_dump_json()
    assert getattr(bad_scope.value, "details", {}).get("field") == "scopes"
    assert getattr(bad_role.value, "details", {}).get("field") == "role"
    assert uuid.UUID(str(made.key.id))


def test_every_request_is_answered_with_its_request_id(world: ApiWorld) -> None:
    given = world.api.get("/products", headers={"X-Request-Id": "erp-sync-42.7"})
    made = world.api.get("/products")
    refused = world.api.get("/products", headers={"X-Request-Id": "no spaces, please"})
    unauthenticated = world.api.get("/products", key=None, headers={"X-Request-Id": "erp-1"})

    assert given.headers["x-request-id"] == "erp-sync-42.7"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", refused.headers["x-request-id"])
    assert (unauthenticated.status_code, unauthenticated.headers["x-request-id"]) == (401, "erp-1")
