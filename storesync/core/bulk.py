"""Bulk writes at driver speed: a catalog import or a channel listing import writes 100,000
rows, and SQLAlchemy's per-row parameter handling cost more CPU than the database did.

`insert_rows`: the statement is compiled once for the connection's dialect, each column's bind
processor is looked up once, and the rows go to the driver's `executemany` as plain tuples (or
dicts, for named parameter styles), chunk by chunk, inside the session's transaction.
`update_rows`: executemany UPDATEs by id of the rows that changed, one statement per set of
changed columns."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

CHUNK = 1000


def insert_rows(
    session: Session, table: sa.Table, rows: Sequence[dict[str, Any]], *, chunk: int = CHUNK
) -> None:
    """INSERT `rows`, which must all carry the same columns (no model defaults are applied)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    keys = list(rows[0])
    compiled = sa.insert(table).compile(dialect=dialect, column_keys=keys)
    order = list(compiled.positiontup or ()) if compiled.positional else keys
    processors = [
        (key, _Memo.wrap(table.c[key].type.dialect_impl(dialect).bind_processor(dialect)))
        for key in order
    ]
    width = len(keys)

    def converted(row: dict[str, Any]) -> list[Any]:
        if len(row) != width:
            raise ValueError(f"bulk insert into {table.name}: rows carry different columns")
        return [row[key] if process is None else process(row[key]) for key, process in processors]

    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        if compiled.positional:
            params: list[Any] = [tuple(converted(row)) for row in part]
        else:
            params = [dict(zip(order, converted(row), strict=True)) for row in part]
        connection.exec_driver_sql(compiled.string, params)


def update_rows(
    session: Session,
    table: sa.Table,
    rows: Iterable[dict[str, Any]],
    *,
    organization_id: uuid.UUID,
    chunk: int = CHUNK,
) -> None:
    """Executemany UPDATE of `table` by id, within the organization: each row gives the id of the
    row to change as `_id` and the new values of the columns it changes. Rows are grouped by the
    set of columns they change, one statement per group."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    statement = sa.update(table).where(
        table.c.id == sa.bindparam("_id"), table.c.organization_id == organization_id
    )
    for group in groups.values():
        for start in range(0, len(group), chunk):
            session.execute(statement, group[start : start + chunk])


class _Memo:
    """A bind processor that remembers what it made of repeated values: an import's rows share
    their organization, store, timestamp and most JSON documents, and converting a UUID, a
    datetime or a JSON document is most of the per-row cost. Values that are not hashable (a
    dict with hashable values is keyed by its items) are converted every time; a column whose
    values do not repeat (ids) stops being remembered after SAMPLE rows."""

    SAMPLE = 256
    LIMIT = 4096

    def __init__(self, process: Callable[[Any], Any]) -> None:
        self.process = process
        self.seen: dict[Any, Any] = {}
        self.calls = 0
        self.hits = 0
        self.active = True

    @classmethod
    def wrap(cls, process: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
        return None if process is None else cls(process)

    def __call__(self, value: Any) -> Any:
        if not self.active:
            return self.process(value)
        self.calls += 1
        if self.calls == self.SAMPLE and self.hits < self.SAMPLE // 2:
            self.active, self.seen = False, {}
            return self.process(value)
        try:
            key = (dict, tuple(value.items())) if type(value) is dict else (type(value), value)
            hash(key)
        except TypeError:
            return self.process(value)
        found = self.seen.get(key, _MISSING)
        if found is not _MISSING:
            self.hits += 1
            return found
        made = self.process(value)
        if len(self.seen) < self.LIMIT:
            self.seen[key] = made
        return made


_MISSING = object()
