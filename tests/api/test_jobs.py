"""Sync jobs and notifications through the API: the job service the UI uses (start, history,
progress, cancel, retry; one active job of a kind per store) and the notification bell's list,
count and mark-read. No worker is connected here: a started job stays queued."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from storesync.core.models import table_of
from storesync.db import session_scope
from storesync.notifications.models import Notification
from storesync.notifications.service import notify
from storesync.sync.models import SyncJob
from tests.api.conftest import ApiWorld, make_world
from tests.api.test_stores import add_store

JOBS = table_of(SyncJob)
NOTES = table_of(Notification)


def _jobs(world: ApiWorld) -> list[Any]:
    with session_scope(world.ctx, engine=world.engine) as session:
        return list(
            session.execute(
                sa.select(JOBS)
                .where(JOBS.c.organization_id == world.ctx.organization_id)
                .order_by(JOBS.c.created_at, JOBS.c.id)
            ).all()
        )


def _status(world: ApiWorld, job_id: str) -> str:
    with session_scope(world.ctx, engine=world.engine) as session:
        return str(
            session.execute(
                sa.select(JOBS.c.status).where(JOBS.c.id == uuid.UUID(job_id))
            ).scalar_one()
        )


def _set_status(world: ApiWorld, job_id: str, status: str) -> None:
    with session_scope(world.ctx, engine=world.engine) as session:
        session.execute(sa.update(JOBS).where(JOBS.c.id == uuid.UUID(job_id)).values(status=status))


# -- jobs ----------------------------------------------------------------------------------------


def test_start_get_list_cancel_and_retry_a_job(world: ApiWorld) -> None:
    store = add_store(world, "Toko")
    since = "2024-05-01T00:00:00+07:00"

    started = world.api.post(
        "/jobs", json={"store_id": str(store), "kind": "orders", "params": {"since": since}}
    )
    assert started.status_code == 201, started.text
    job = started.json()
    assert (job["store_id"], job["kind"], job["status"]) == (str(store), "orders", "queued")
    assert job["params"] == {"since": since} and job["retries"] == 0

    got = world.api.get(f"/jobs/{job['id']}")
    assert got.status_code == 200
    assert {k: got.json()[k] for k in ("status", "phase", "done", "total", "failed")} == {
        "status": "queued",
        "phase": "",
        "done": 0,
        "total": 0,
        "failed": 0,
    }
    assert [j["id"] for j in world.api.get("/jobs").json()["items"]] == [job["id"]]

    cancelled = world.api.post(f"/jobs/{job['id']}/cancel")
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert (body["status"], body["cancel_requested"]) == ("cancelled", True)
    assert body["finished_at"] is not None
    assert _status(world, job["id"]) == "cancelled"
    again = world.api.post(f"/jobs/{job['id']}/cancel")  # nothing more to do: the same answer
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")

    retried = world.api.post(f"/jobs/{job['id']}/retry")
    assert retried.status_code == 201
    new = retried.json()
    assert new["id"] != job["id"]
    assert (new["status"], new["kind"], new["retries"]) == ("queued", "orders", 1)
    assert (new["store_id"], new["params"]) == (str(store), {"since": since})
    assert _status(world, job["id"]) == "cancelled"  # the old job stays as it ended

    newest_first = world.api.get("/jobs").json()["items"]
    by_status = world.api.get("/jobs", params={"status": "cancelled"}).json()["items"]
    by_kind = world.api.get("/jobs", params={"kind": "products"}).json()["items"]
    by_store = world.api.get("/jobs", params={"store_id": str(uuid.uuid4())}).json()["items"]
    assert [j["id"] for j in newest_first] == [new["id"], job["id"]]
    assert [j["id"] for j in by_status] == [job["id"]]
    assert by_kind == [] and by_store == []
    assert [(r.status, r.retries) for r in _jobs(world)] == [("cancelled", 0), ("queued", 1)]


def test_keyset_pages_walk_the_history_once(world: ApiWorld) -> None:
    store = add_store(world, "Toko")
    made = []
    for kind in ("products", "inventory", "orders", "reconcile"):
        answer = world.api.post("/jobs", json={"store_id": str(store), "kind": kind})
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["id"])

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = world.api.get("/jobs", params=params).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == list(reversed(made))


def test_a_second_job_of_the_same_kind_for_a_store_is_a_conflict(world: ApiWorld) -> None:
    store = add_store(world, "Toko")
    other_store = add_store(world, "Toko Dua")

    first = world.api.post("/jobs", json={"store_id": str(store), "kind": "products"})
    second = world.api.post("/jobs", json={"store_id": str(store), "kind": "products"})
    other_kind = world.api.post("/jobs", json={"store_id": str(store), "kind": "inventory"})
    other_store_same_kind = world.api.post(
        "/jobs", json={"store_id": str(other_store), "kind": "products"}
    )

    assert first.status_code == 201
    assert (second.status_code, second.json()["code"]) == (409, "sync_job_active")
    assert second.json()["details"]["job_id"] == first.json()["id"]
    assert [other_kind.status_code, other_store_same_kind.status_code] == [201, 201]
    assert len(_jobs(world)) == 3

    # a queued job cannot be retried; a cancelled one cannot while another of its kind runs
    not_retryable = world.api.post(f"/jobs/{first.json()['id']}/retry")
    assert (not_retryable.status_code, not_retryable.json()["code"]) == (
        409,
        "sync_job_not_retryable",
    )
    world.api.post(f"/jobs/{first.json()['id']}/cancel")
    replacement = world.api.post("/jobs", json={"store_id": str(store), "kind": "products"})
    assert replacement.status_code == 201
    busy = world.api.post(f"/jobs/{first.json()['id']}/retry")
    assert (busy.status_code, busy.json()["code"]) == (409, "sync_job_active")

    # a job that already ended cannot be cancelled
    _set_status(world, other_kind.json()["id"], "succeeded")
    finished = world.api.post(f"/jobs/{other_kind.json()['id']}/cancel")
    assert (finished.status_code, finished.json()["code"]) == (409, "sync_job_finished")
    assert _status(world, other_kind.json()["id"]) == "succeeded"
    assert len(_jobs(world)) == 4


def test_a_store_that_is_not_connected_gets_no_job(world: ApiWorld) -> None:
    store = add_store(world, "Toko", status="reauth_required")

    refused = world.api.post("/jobs", json={"store_id": str(store), "kind": "orders"})

    assert (refused.status_code, refused.json()["code"]) == (409, "store_not_connected")
    assert refused.json()["details"]["status"] == "reauth_required"
    assert _jobs(world) == []


def test_bad_input_names_the_field_and_queues_nothing(world: ApiWorld) -> None:
    store = str(add_store(world, "Toko"))
    bodies = {
        "kind": {"store_id": store, "kind": "everything"},
        "params.since": {"store_id": store, "kind": "orders", "params": {"since": "yesterday"}},
        "params.colour": {"store_id": store, "kind": "orders", "params": {"colour": "red"}},
        "params.until": {
            "store_id": store,
            "kind": "backfill",
            "params": {"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"},
        },
        "params.create_products": {
            "store_id": store,
            "kind": "products",
            "params": {"create_products": "yes"},
        },
        "store_id": {"store_id": "toko", "kind": "orders"},
        "priority": {"store_id": store, "kind": "orders", "priority": 1},
    }
    answers = {field: world.api.post("/jobs", json=body) for field, body in bodies.items()}
    missing = world.api.post("/jobs", json={"kind": "orders"})
    broken = world.api.post(
        "/jobs", content=b'{"kind": ', headers={"Content-Type": "application/json"}
    )
    filters = {
        "status": world.api.get("/jobs", params={"status": "done"}),
        "kind": world.api.get("/jobs", params={"kind": "everything"}),
        "cursor": world.api.get("/jobs", params={"cursor": "nope"}),
        "limit": world.api.get("/jobs", params={"limit": 0}),
        "store_id": world.api.get("/jobs", params={"store_id": "toko"}),
        "job_id": world.api.get("/jobs/not-a-uuid"),
    }

    for field, answer in {**answers, **filters}.items():
        assert (answer.status_code, answer.json()["details"]["field"]) == (422, field), field
    assert (missing.status_code, missing.json()["details"]["field"]) == (422, "store_id")
    assert (broken.status_code, broken.json()["code"]) == (400, "malformed_json")
    assert _jobs(world) == []


def test_an_unknown_or_another_organizations_store_or_job_is_404(world: ApiWorld) -> None:
    theirs = make_world(world.engine)
    their_store = add_store(theirs, "Theirs")
    their_job = theirs.api.post("/jobs", json={"store_id": str(their_store), "kind": "orders"})
    assert their_job.status_code == 201
    job_id = their_job.json()["id"]

    starts = [
        world.api.post("/jobs", json={"store_id": str(store), "kind": "orders"})
        for store in (their_store, uuid.uuid4())
    ]
    touched = [
        answer
        for job in (job_id, uuid.uuid4())
        for answer in (
            world.api.get(f"/jobs/{job}"),
            world.api.post(f"/jobs/{job}/cancel"),
            world.api.post(f"/jobs/{job}/retry"),
        )
    ]

    assert [a.status_code for a in starts + touched] == [404] * 8
    assert {a.json()["type"] for a in starts + touched} == {"not_found"}
    assert world.api.get("/jobs").json()["items"] == []
    assert world.api.get("/jobs", params={"store_id": str(their_store)}).json()["items"] == []
    assert _status(theirs, job_id) == "queued"
    assert _jobs(world) == []


def test_a_key_without_the_scope_or_role_is_403_and_nothing_changes(world: ApiWorld) -> None:
    store = add_store(world, "Toko")
    job = world.api.post("/jobs", json={"store_id": str(store), "kind": "orders"}).json()
    read_only = world.key("jobs:read")
    stores_only = world.key("stores:write")
    viewer = world.key("write", role="viewer")

    started = world.api.post(
        "/jobs", json={"store_id": str(store), "kind": "inventory"}, key=read_only
    )
    cancelled = world.api.post(f"/jobs/{job['id']}/cancel", key=read_only)
    listed = world.api.get("/jobs", key=stores_only)
    by_viewer = world.api.post(f"/jobs/{job['id']}/cancel", key=viewer)
    viewer_start = world.api.post(
        "/jobs", json={"store_id": str(store), "kind": "reconcile"}, key=viewer
    )

    assert (started.status_code, started.json()["details"]) == (403, {"scope": "jobs:write"})
    assert (cancelled.status_code, cancelled.json()["code"]) == (403, "scope_missing")
    assert (listed.status_code, listed.json()["details"]) == (403, {"scope": "jobs:read"})
    assert (by_viewer.status_code, by_viewer.json()["code"]) == (403, "permission_denied")
    assert (viewer_start.status_code, viewer_start.json()["code"]) == (403, "permission_denied")
    assert world.api.get(f"/jobs/{job['id']}", key=read_only).json()["status"] == "queued"
    assert [(r.kind, r.status) for r in _jobs(world)] == [("orders", "queued")]


# -- notifications -------------------------------------------------------------------------------


def _notify(world: ApiWorld, *titles: str) -> None:
    for title in titles:  # one transaction each: newest first is then the reverse
        with session_scope(world.ctx, engine=world.engine) as session:
            notify(
                session,
                organization_id=world.ctx.organization_id,
                kind="sync_failed",
                title=title,
                severity="error",
            )


def _unread_rows(world: ApiWorld) -> int:
    with session_scope(world.ctx, engine=world.engine) as session:
        return int(
            session.execute(
                sa.select(sa.func.count()).where(
                    NOTES.c.organization_id == world.ctx.organization_id,
                    NOTES.c.read_at.is_(None),
                )
            ).scalar_one()
        )


def test_list_count_and_mark_notifications_read(world: ApiWorld) -> None:
    _notify(world, "first", "second", "third")
    theirs = make_world(world.engine)
    _notify(theirs, "theirs")

    listed = world.api.get("/notifications")
    limited = world.api.get("/notifications", params={"limit": 2})
    count = world.api.get("/notifications/unread-count")

    assert listed.status_code == 200
    assert [(n["title"], n["severity"], n["read_at"]) for n in listed.json()] == [
        ("third", "error", None),
        ("second", "error", None),
        ("first", "error", None),
    ]
    assert [n["title"] for n in limited.json()] == ["third", "second"]
    assert (count.status_code, count.json()) == (200, {"unread": 3})

    marked = world.api.post("/notifications/read")

    assert (marked.status_code, marked.json()) == (200, {"marked": 3})
    assert world.api.get("/notifications/unread-count").json() == {"unread": 0}
    assert world.api.get("/notifications", params={"unread_only": True}).json() == []
    assert all(n["read_at"] is not None for n in world.api.get("/notifications").json())
    assert _unread_rows(world) == 0
    assert world.api.post("/notifications/read").json() == {"marked": 0}
    # the other organization's notification is neither listed nor marked
    assert theirs.api.get("/notifications/unread-count").json() == {"unread": 1}
    assert _unread_rows(theirs) == 1


def test_notifications_need_their_scope_and_a_valid_limit(world: ApiWorld) -> None:
    _notify(world, "one")
    read_only = world.key("notifications:read")
    jobs_only = world.key("jobs:write")

    marked = world.api.post("/notifications/read", key=read_only)
    listed = world.api.get("/notifications", key=jobs_only)
    counted = world.api.get("/notifications/unread-count", key=jobs_only)
    too_many = world.api.get("/notifications", params={"limit": 101})

    assert (marked.status_code, marked.json()["details"]) == (
        403,
        {"scope": "notifications:write"},
    )
    assert [listed.status_code, counted.status_code] == [403, 403]
    assert listed.json()["details"] == {"scope": "notifications:read"}
    assert (too_many.status_code, too_many.json()["details"]["field"]) == (422, "limit")
    assert world.api.get("/notifications/unread-count", key=read_only).json() == {"unread": 1}
    assert _unread_rows(world) == 1
