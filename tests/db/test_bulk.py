"""`core.bulk.insert_rows`: driver-level bulk INSERT with remembered conversions, on SQLite and
PostgreSQL: every value reads back exactly as given, repeated and unique alike."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from storesync.core.bulk import _Memo, insert_rows
from tests.conftest import PgDatabase

METADATA = sa.MetaData()
THINGS = sa.Table(
    f"bulk_things_{uuid.uuid4().hex[:8]}",
    METADATA,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("org", sa.Uuid, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("raw", sa.JSON, nullable=False),
    sa.Column("price", sa.Numeric(12, 2)),
    sa.Column("name", sa.String(50), nullable=False),
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        made = sa.create_engine(f"sqlite:///{request.getfixturevalue('tmp_path')}/bulk.db")
    else:
        database: PgDatabase = request.getfixturevalue("pg")
        made = sa.create_engine(database.owner_url)
    METADATA.create_all(made)
    yield made
    METADATA.drop_all(made)
    made.dispose()


def test_rows_read_back_exactly_with_repeated_and_unique_values(engine: sa.Engine) -> None:
    org = uuid.uuid4()
    now = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    rows = [
        {
            "id": uuid.uuid4(),
            "org": org,  # the same in every row: converted once
            "at": now if i % 2 else now + timedelta(seconds=i),  # half repeated, half unique
            "raw": {"location_id": f"w{i % 3}"} if i % 5 else {"n": i, "tags": ["a"]},
            "price": Decimal("59000.50") if i % 7 else None,
            "name": f"item {i}",
        }
        for i in range(2_500)
    ]
    with Session(engine) as session, session.begin():
        insert_rows(session, THINGS, rows, chunk=1_000)

    with engine.connect() as conn:
        stored = {r.id: r for r in conn.execute(sa.select(THINGS))}
    assert len(stored) == len(rows)
    for row in rows:
        got = stored[row["id"]]
        at = got.at if got.at.tzinfo else got.at.replace(tzinfo=UTC)
        assert (got.org, at, got.raw, got.price, got.name) == (
            row["org"],
            row["at"],
            row["raw"],
            row["price"],
            row["name"],
        )


def test_rows_with_different_columns_are_refused_and_nothing_is_written(engine: sa.Engine) -> None:
    good = {"id": uuid.uuid4(), "org": uuid.uuid4(), "at": datetime.now(UTC), "raw": {}}
    rows = [{**good, "price": None, "name": "a"}, {**good, "id": uuid.uuid4(), "name": "b"}]

    with pytest.raises(ValueError, match="rows carry different columns"):
        with Session(engine) as session, session.begin():
            insert_rows(session, THINGS, rows)

    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(THINGS)).scalar() == 0


def test_the_memo_stops_remembering_values_that_never_repeat() -> None:
    calls: list[object] = []
    memo = _Memo(lambda value: calls.append(value) or f"<{value}>")

    assert [memo(i) for i in range(1_000)] == [f"<{i}>" for i in range(1_000)]
    assert (memo.active, memo.seen) == (False, {})
    assert len(calls) == 1_000

    repeated = _Memo(lambda value: calls.append(value) or f"<{value}>")
    assert [repeated("same") for _ in range(1_000)] == ["<same>"] * 1_000
    assert repeated.active and len(calls) == 1_001  # converted once
