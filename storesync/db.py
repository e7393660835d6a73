"""Engine, `session_scope()`, and the tenant context that PostgreSQL row-level security reads.

Every transaction opened by a scoped session sets `app.org_id` and `app.user_id` with
`set_config(..., true)` (transaction-local), so a pooled connection never carries one
organization's context into another's transaction.

Infrastructure: imports no domain package. The session listeners domain modules need (the
stock outbox, after-commit events) are installed by the composition root (`workers.wiring`)
before the first session; a session opened before that is refused, not silently unwired.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import SessionTransaction, sessionmaker
from sqlmodel import Session

from storesync.core.errors import AppError, ErrorType
from storesync.settings import get_settings

ORG_GUC = "app.org_id"
USER_GUC = "app.user_id"


class Tenant(Protocol):
    """Who a transaction acts for (`storesync.tenancy.context.RequestContext` is one)."""

    @property
    def organization_id(self) -> uuid.UUID: ...

    @property
    def user_id(self) -> uuid.UUID | None: ...


def make_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, busy_timeout_ms: int = 5000
) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL and a busy timeout (how long a writer
    waits for another's lock)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, echo=echo, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, busy_timeout_ms))
        # pysqlite's own transaction handling breaks SAVEPOINTs (a savepoint taken before the
        # first write starts and commits its own transaction): let SQLAlchemy emit BEGIN itself.
        event.listen(engine, "begin", _sqlite_begin)
        _SqliteWriter(busy_timeout_ms / 1000).install(engine)
        return engine
    engine = sa.create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))
    return engine


# A connection that sat in the pool this long is pinged before use (a restarted server or a
# dropped socket is then replaced, not handed out). One used moments ago is not: pinging on every
# checkout (pool_pre_ping) was a round trip per transaction, about one in five at 50 sales/s.
PING_IDLE_SECONDS = 5.0


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dialect: Any, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    checked_in = record.info.get("checked_in")
    if checked_in is not None and time.monotonic() - checked_in < PING_IDLE_SECONDS:
        return
    try:
        alive = dialect.do_ping(dbapi_connection)
    except Exception as error:
        raise sa.exc.DisconnectionError(f"pooled connection is dead: {error}") from error
    if not alive:
        raise sa.exc.DisconnectionError("pooled connection is dead")


def _sqlite_pragmas(busy_timeout_ms: int, dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(SQLITE_WRITE_LOCK)
    if immediate:
        _SqliteWriter.of(connection).enter(connection)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class _SqliteWriter:
    """One writing transaction at a time per SQLite engine in this process, the others queued on
    a lock: SQLite allows one writer, and a connection that finds the database locked sleeps in
    its busy handler (1, 2, 5 ... 100 ms steps) rather than waking when the lock is free. With
    the intake, the worker threads and the UI writing at once, those sleeps were the queue
    (the write-lock convoy of issue 21); the lock hands over at once and in arrival order.

    A transaction takes it before `BEGIN IMMEDIATE` or before its first writing statement, and
    gives it back when it commits or rolls back (or its connection goes back to the pool). A
    connection of the same thread that writes while another of its connections holds it waits
    `timeout` and fails like SQLite does ("database is locked"), instead of hanging."""

    WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "WITH")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.lock = threading.Lock()
        self.holder: int | None = None  # id() of the DBAPI connection in its write transaction

    @staticmethod
    def of(connection: Connection) -> _SqliteWriter:
        writer: _SqliteWriter = connection.engine.dialect.storesync_writer  # type: ignore[attr-defined]
        return writer

    def install(self, engine: Engine) -> None:
        dialect: Any = engine.dialect
        dialect.storesync_writer = self
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            try:
                commit(dbapi_connection)
            finally:
                self.leave(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                rollback(dbapi_connection)
            finally:
                self.leave(dbapi_connection)

        dialect.do_commit, dialect.do_rollback = do_commit, do_rollback
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(
            engine, "checkin", lambda dbapi_connection, _record: self.leave(dbapi_connection)
        )
        event.listen(
            engine, "close", lambda dbapi_connection, _record: self.leave(dbapi_connection)
        )

    def _before_execute(
        self, connection: Connection, _cursor: Any, statement: str, *_: Any
    ) -> None:
        if statement.lstrip()[:7].upper().startswith(self.WRITES):
            self.enter(connection)

    def enter(self, connection: Connection) -> None:
        dbapi_connection = id(connection.connection.dbapi_connection)
        if self.holder == dbapi_connection:
            return
        if not self.lock.acquire(timeout=self.timeout):
            raise sa.exc.OperationalError(
                "BEGIN IMMEDIATE",
                {},
                Exception("database is locked (waited for this process's writer)"),
            )
        self.holder = dbapi_connection

    def leave(self, dbapi_connection: Any) -> None:
        if self.holder is not None and self.holder == id(dbapi_connection):
            self.holder = None
            self.lock.release()


# Execution option: on SQLite, begin with the write lock (BEGIN IMMEDIATE). A deferred
# transaction that reads first and writes later fails at once ("database is locked") when
# another connection committed in between: its snapshot is stale, and SQLite does not wait.
SQLITE_WRITE_LOCK = "storesync_sqlite_write_lock"


_engine_override: Engine | None = None


def use_engine(engine: Engine | None) -> None:
    """Make `get_engine()` return `engine` (tests, benchmarks); None restores the default."""
    global _engine_override
    _engine_override = engine


def get_engine() -> Engine:
    return _engine_override or _default_engine()


@functools.cache
def _default_engine() -> Engine:
    settings = get_settings()
    if settings.is_sqlite:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.database_url, pool_size=settings.db_pool_size)


class TenantSession(Session):
    """A session that carries the tenant context into every transaction it begins."""


@event.listens_for(TenantSession, "after_begin")
def _apply_tenant_context(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    # A savepoint keeps the transaction's settings (set_config(..., true) lasts until the
    # outer transaction ends; rolling back to a savepoint restores the values set before it).
    if connection.dialect.name != "postgresql" or transaction.nested:
        return
    org_id = session.info.get("org_id")
    user_id = session.info.get("user_id")
    if not org_id and not user_id:
        return  # set_config(.., true) ends with its transaction: a new one starts with neither
    connection.execute(
        sa.text("SELECT set_config(:org_guc, :org, true), set_config(:user_guc, :user, true)"),
        {
            "org_guc": ORG_GUC,
            "org": str(org_id) if org_id else "",
            "user_guc": USER_GUC,
            "user": str(user_id) if user_id else "",
        },
    )


_factory_cache: dict[int, sessionmaker[TenantSession]] = {}
_factory_lock = threading.Lock()

# Session listeners are installed once, at start-up, before the first session of the process:
# registering a listener appends to the deque that another thread's commit iterates (a listener
# added lazily in one worker thread while another committed failed that commit with "deque
# mutated during iteration").
_listeners_ready = False


def listeners_installed() -> None:
    """Called by the composition root once the session listeners are in place."""
    global _listeners_ready
    _listeners_ready = True


class NotWired(RuntimeError):
    """A session was opened before start-up installed the session listeners."""


SESSION_EVENTS = (
    "after_transaction_create",
    "after_begin",
    "before_commit",
    "after_commit",
    "after_rollback",
    "after_soft_rollback",
)


def _factory(engine: Engine) -> sessionmaker[TenantSession]:
    factory = _factory_cache.get(id(engine))
    if factory is not None:
        return factory
    if not _listeners_ready:
        raise NotWired(
            "a database session was opened before start-up wiring: call workers.wiring.wire() "
            "first (without it, stock changes would never reach the channels)"
        )
    with _factory_lock:
        factory = _factory_cache.get(id(engine))
        if factory is None:
            factory = sessionmaker(bind=engine, class_=TenantSession, expire_on_commit=False)
            _warm_listeners(factory)
            _factory_cache[id(engine)] = factory
    return factory


def _warm_listeners(factory: sessionmaker[TenantSession]) -> None:
    """A sessionmaker makes a new Session subclass, whose listener deques SQLAlchemy fills on
    the first instance's first dispatch: do that here, under the lock, not in two threads."""
    session = factory()
    for name in SESSION_EVENTS:
        getattr(session.dispatch, name)
    session.close()


def claimable(candidates: sa.Select[Any], *, postgres: bool, of: Any = None) -> Any:
    """The ids `candidates` (a one-column SELECT with its LIMIT) picks, for `UPDATE .. WHERE id
    IN (..)` claims that concurrent workers run at once. On PostgreSQL locked with SKIP LOCKED
    (`of`: the table to lock in a join) and picked once, in a materialized CTE: as a plain
    `IN (subquery)` PostgreSQL may run the subquery again for every row it updates (a
    nested-loop semi join while the table is small), each time skipping the rows already taken
    and picking others, so one claim took every waiting row whatever its limit."""
    if not postgres:
        return candidates.scalar_subquery()
    locked = candidates.with_for_update(skip_locked=True, of=of)
    return sa.select(locked.cte("picked").prefix_with("MATERIALIZED").c[0]).scalar_subquery()


@contextmanager
def session_scope(
    ctx: Tenant | None = None,
    *,
    organization_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    engine: Engine | None = None,
    write_lock: bool = False,
) -> Iterator[TenantSession]:
    """One unit of work: commit on success, roll back on error.

    `write_lock`: a long transaction that reads, then writes while other connections commit
    (a sync job) takes SQLite's write lock when it begins; other databases ignore it.

    With `ctx` (or `organization_id`), row-level security limits every statement to that
    organization. Without either, tenant tables look empty on PostgreSQL: only global tables
    (users) and the memberships of `user_id` are visible.
    """
    session = _factory(engine or get_engine())()
    session.info["org_id"] = ctx.organization_id if ctx else organization_id
    session.info["user_id"] = ctx.user_id if ctx else user_id
    try:
        if write_lock and session.get_bind().dialect.name == "sqlite":
            session.connection(execution_options={SQLITE_WRITE_LOCK: True})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def writing(ctx: Tenant | None = None, *, engine: Engine | None = None) -> Iterator[TenantSession]:
    """A change somebody waits for (the browser app, the OAuth callback): `session_scope` with
    the write lock (on SQLite it waits up to the busy timeout for other writers instead of
    failing halfway), and a database still busy after that is a clear, retryable error, not a
    crash. Nothing of the change is written then."""
    try:
        with session_scope(ctx, engine=engine, write_lock=True) as session:
            yield session
    except sa.exc.OperationalError as error:
        if "database is locked" not in str(error.orig):
            raise
        raise DatabaseBusy() from error


class DatabaseBusy(AppError):
    def __init__(self) -> None:
        super().__init__(
            ErrorType.CONFLICT,
            "database_busy",
            "StoreSync is busy saving other work (an import may be running); nothing was "
            "changed, try again in a moment",
            retryable=True,
        )


def set_tenant(
    session: Session, *, organization_id: uuid.UUID | None, user_id: uuid.UUID | None = None
) -> None:
    """Switch the session's tenant context now (e.g. right after creating an organization)."""
    session.info["org_id"] = organization_id
    if user_id is not None:
        session.info["user_id"] = user_id
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and session.in_transaction():
        session.execute(
            sa.text("SELECT set_config(:guc, :org, true), set_config(:uguc, :user, true)"),
            {
                "guc": ORG_GUC,
                "org": str(organization_id) if organization_id else "",
                "uguc": USER_GUC,
                "user": str(session.info.get("user_id") or ""),
            },
        )


class UnsafeDatabaseRole(Exception):
    """The app's database role could see past row-level security."""


def assert_rls_enforced(engine: Engine) -> None:
    """Refuse to serve when the app connects as a role that bypasses RLS (PostgreSQL only)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        role, superuser, bypass = connection.execute(
            sa.text(
                "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
            )
        ).one()
        owned = connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                "AND tableowner = current_user AND tablename <> 'alembic_version'"
            )
        ).scalar_one()
    if superuser or bypass or owned:
        raise UnsafeDatabaseRole(
            f"STORESYNC_DATABASE_URL connects as {role!r}, which "
            + ("is a superuser" if superuser else "bypasses RLS" if bypass else "owns the tables")
            + ": connect as the app role (STORESYNC_DB_APP_ROLE) and migrate as the owner"
        )
