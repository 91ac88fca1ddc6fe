"""Engine and sessions for SQLite (embedded default) and PostgreSQL (production).

SQLite runs in WAL mode with foreign keys on and a busy timeout. Its driver's own
transaction handling is switched off so that SQLAlchemy emits ``BEGIN`` itself: write
sessions begin with ``BEGIN IMMEDIATE`` and take the write lock at once, so concurrent
writers queue on the busy timeout instead of failing half-way with "database is locked".
Within a process they first queue on a lock of their own (:class:`_WriterLock`): SQLite's
busy handler polls with growing sleeps, so eight writers waiting on it took turns in
seconds; a waiter on the lock is woken the moment the writer before it ends.

Every engine is built with ``hide_parameters``: a failing statement's error (and so the
traceback that is logged) names the SQL but never the values bound to it, which are
personal data (notes, pain sites, emails, token hashes).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, AsyncExitStack, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from fastapi import Request
from pydantic_core import from_json, to_json
from sqlalchemy import (
    Connection,
    DateTime,
    Dialect,
    Engine,
    Integer,
    Table,
    TypeDecorator,
    create_engine,
    event,
    literal_column,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import InvalidatePoolError, InvalidRequestError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, SQLModel
from starlette.concurrency import run_in_threadpool

from app.core import batched
from app.core.config import Settings

log = logging.getLogger(__name__)

SQLITE_BEGIN = "sqlite_begin"
P = ParamSpec("P")
T = TypeVar("T")
S = TypeVar("S")

# Constraint names that are the same on every database, so migrations can name them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class json_array_length(FunctionElement[int]):  # noqa: N801 (an SQL function, named as one)
    """The length of the JSON array under ``key`` of a JSON column (JSONB on PostgreSQL),
    computed by the database (``json_array_length`` on SQLite, ``jsonb_array_length`` on
    PostgreSQL); NULL where the key is missing, 0 (SQLite) or NULL (PostgreSQL) where its
    value is no array. Reading the whole document to count one array costs far more."""

    type = Integer()
    inherit_cache = True

    def __init__(self, column: Any, key: str) -> None:
        super().__init__(column, literal_column(f"'{_json_key(key)}'"))


def _json_key(key: str) -> str:
    if not key.replace("_", "").isalnum():
        raise ValueError(f"not a plain JSON key: {key!r}")
    return key


@compiles(json_array_length, "sqlite")
def _sqlite_json_array_length(element: json_array_length, compiler: Any, **kw: Any) -> str:
    column, key = element.clauses
    return f"json_array_length({compiler.process(column, **kw)}, '$.' || {compiler.process(key, **kw)})"


@compiles(json_array_length, "postgresql")
def _pg_json_array_length(element: json_array_length, compiler: Any, **kw: Any) -> str:
    column, key = element.clauses
    value = f"({compiler.process(column, **kw)} -> {compiler.process(key, **kw)})"
    # As on SQLite, a value that is no array has no length here (jsonb_array_length fails on it).
    return f"CASE WHEN jsonb_typeof({value}) = 'array' THEN jsonb_array_length({value}) END"


def table_of(model: type[Any]) -> Table:
    """The table of a table model (SQLModel declares no ``__table__`` for the type checker)."""
    table: Table = model.__table__
    return table


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite keeps no zone itself)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def in_memory(url: URL) -> bool:
    """Whether an SQLite URL names an in-memory database (private to each connection,
    unless shared by URI)."""
    return not url.database or url.database == ":memory:" or url.query.get("mode") == "memory"


def read_json(text: str | bytes) -> Any:
    """A JSON column's value as Python: pydantic-core's parser, 3-10 times as fast as
    ``json.loads`` on the catalogue's short lists and doses, with the same values (NaN and
    infinities, integers of any size, the last of duplicate keys). What only ``json.loads``
    reads (a lone surrogate escape: request bodies' text fields refuse one, but an older row
    might hold it) is read by it. Both drivers use this: SQLAlchemy calls it on SQLite's
    text, psycopg on JSONB."""
    try:
        return from_json(text)
    except ValueError:
        return json.loads(text)


class EncodedJson(str):
    """JSON text already written (by pydantic-core, for an answer that is also sent): a JSON
    column stores it as it is instead of reading it into Python to write it again."""


def write_json(value: Any) -> str:
    """A JSON column's value as the text stored: pydantic-core's serialiser, about 3 times
    as fast as ``json.dumps`` (a workout's answer kept for its Idempotency-Key: 10 against
    31 us; a 53 KB plan draft: 141 against 456), reading back as the same values (NaN and
    infinities as ``json.dumps`` writes them, integers of any size, keys made strings).
    Text is kept as UTF-8, not as ``\\u`` escapes. A lone surrogate, which only
    ``json.dumps`` can write (as an escape), is written by it. Both drivers use this.
    :class:`EncodedJson` is stored as it is."""
    if type(value) is EncodedJson:
        return str(value)
    try:
        return to_json(value, inf_nan_mode="constants").decode()
    except ValueError:  # pydantic-core's PydanticSerializationError is one
        return json.dumps(value)


def _begun_on_driver(conn: Any, sql: str) -> None:
    """SQLite's ``BEGIN`` run on the driver's connection, as the rollback and commit below
    are: a statement through SQLAlchemy (``exec_driver_sql``) makes an execution context
    and a result for it, about 4 % of a one-workout read's CPU on SQLite (a py-spy profile
    in process). Nothing listens for SQLite's statements (the tests' watch on the event loop
    is PostgreSQL's), so none is missed. A driver error (a locked database) goes through
    SQLAlchemy's handling of a failed statement, as it did: raised as its
    ``OperationalError`` (a 503), its listeners told."""
    try:
        conn.connection.dbapi_connection.execute(sql)
    except BaseException as failed:
        conn._handle_dbapi_exception(failed, sql, (), None, None)


def build_engine(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not url.query.get("uri"):  # URIs: file:...?mode=ro
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # A file's connections never run out: reads and the rate-limit count take one on
        # the event loop (reads_inline), where waiting for a free one would stall every
        # request, those that would give one back included. They cost a file handle each.
        memory = in_memory(url)
        pool: dict[str, Any] = (
            {} if memory else {"poolclass": QueuePool, "pool_size": settings.db_pool_size, "max_overflow": -1}
        )
        engine = create_engine(
            url,
            hide_parameters=True,
            json_deserializer=read_json,
            json_serializer=write_json,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
            },
            **pool,
        )
        busy_ms = settings.sqlite_busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN (below)
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        writers = _WRITERS[engine] = _WriterLock(int(busy_ms))

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
            if mode != "IMMEDIATE":
                _begun_on_driver(conn, f"BEGIN {mode}")
                return
            writers.acquire(conn.info)
            try:
                _begun_on_driver(conn, "BEGIN IMMEDIATE")
            except BaseException:
                writers.release(conn.info)
                raise

        # SQLAlchemy's commit and rollback events come before the driver's COMMIT or
        # ROLLBACK: the driver's runs here first (SQLAlchemy's own then finds no
        # transaction), so the lock is given back only once SQLite's is. Given back
        # before, the next writer met SQLite's lock still held and slept in its busy
        # handler (1 ms and more), and the event loop's counts gave way for nothing.
        @event.listens_for(engine, "commit")
        def _on_commit(conn: Any) -> None:
            _ended_then_released(conn, "commit")

        @event.listens_for(engine, "rollback")
        def _on_rollback(conn: Any) -> None:
            _ended_then_released(conn, "rollback")

        def _ended_then_released(conn: Any, end: str) -> None:
            driver = conn.connection.dbapi_connection
            try:
                if driver is not None:
                    try:
                        getattr(driver, end)()
                    except sqlite3.Error as failed:
                        if end == "commit":
                            # SQLite may have rolled the transaction back itself (a full disk,
                            # an I/O error): SQLAlchemy's own COMMIT would then find nothing to
                            # commit and succeed, and the write would be acknowledged without
                            # being stored. Raised as its COMMIT's error would be (a 503).
                            conn._handle_dbapi_exception(failed, "COMMIT", (), None, None)
                        # A failed ROLLBACK: SQLAlchemy's own runs next and raises it wrapped.
            finally:
                # Held on while SQLite's transaction is (a commit refused by a deferred
                # constraint): the rollback that ends it, or the pool's checkin, gives it back.
                if driver is None or not driver.in_transaction:
                    writers.release(conn.info)

        @event.listens_for(engine.pool, "checkin")
        def _on_checkin(_dbapi_conn: Any, record: Any) -> None:  # a connection given back mid-transaction
            writers.release(record.info)

        return engine

    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        hide_parameters=True,
        json_deserializer=read_json,
        json_serializer=write_json,
        connect_args=postgresql_options(settings),
    )
    _ping_when_idle(engine)
    batched.install(engine)
    return engine


def postgresql_options(settings: Settings) -> dict[str, Any]:
    """What every PostgreSQL connection is opened with besides its URL: the statement timeout."""
    if not settings.db_statement_timeout_ms:
        return {}
    return {"options": f"-c statement_timeout={settings.db_statement_timeout_ms}"}


def postgresql_connect_args(engine: Engine, settings: Settings) -> tuple[str, dict[str, Any]]:
    """psycopg's ``connect()`` arguments for a connection like ``engine``'s, for one made
    outside its pool: the connection string (empty, or the whole of a URL that names
    nothing, which leaves it all to libpq's ``PG*`` variables) and the keyword arguments
    (host, database, user, password, the URL's query, the statement timeout)."""
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    return (str(args[0]) if args else ""), {**kwargs, **postgresql_options(settings)}


# A pooled connection given back less than this long ago is handed out without a ping.
PING_IDLE_S = 1.0
_RETURNED = "runstrong_returned_at"


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, for connections that were idle: a ping is a round
    trip (about 60 us of CPU and 110 us of waiting here) on every checkout, two or three per
    request, while a connection given back within the last second is all but certainly
    alive. One that was idle longer is pinged; if the server has gone (restarted, failed
    over) the pool replaces it, and every connection older than it, before anything runs on
    them. A server lost within that second with no idle connection in the pool fails the
    requests that meet it first (a 503), and SQLAlchemy then renews the whole pool."""

    @event.listens_for(engine.pool, "connect")
    @event.listens_for(engine.pool, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info[_RETURNED] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED)
        if returned is not None and time.monotonic() - returned < PING_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as error:
            # As pool_pre_ping does: the server went away, so the pool's other connections
            # (given back recently, not pinged) are as dead as this one. The pool connects
            # anew for this checkout and replaces every older connection on theirs.
            raise InvalidatePoolError("the pooled connection did not answer a ping") from error


class _WriterLock:
    """One SQLite write transaction at a time in this process, taken before ``BEGIN
    IMMEDIATE`` and given back when the transaction ends (commit, rollback, or the
    connection returned to the pool). The connection's ``info`` records that it holds it."""

    KEY = "runstrong_writer_lock"

    def __init__(self, busy_ms: int) -> None:
        self._lock = threading.Lock()
        self.busy_ms = busy_ms  # SQLite's busy timeout, which this lock's waits match

    def acquire(self, info: dict[str, Any]) -> None:
        if not self._lock.acquire(timeout=max(self.busy_ms / 1000, 0.001)):
            # As SQLite itself answers a writer that waited out the busy timeout (a 503).
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
        info[self.KEY] = True

    def try_acquire(self, info: dict[str, Any]) -> bool:
        """Take the lock only if it is free; whether it was."""
        if not self._lock.acquire(blocking=False):
            return False
        info[self.KEY] = True
        return True

    def release(self, info: dict[str, Any]) -> None:
        if info.pop(self.KEY, False):
            self._lock.release()


class NotNow(Exception):
    """A write tried on the event loop did not happen: do it in the thread pool, where it
    waits its turn and its errors are handled as any other write's."""


class WriteLockBusy(NotNow):
    """SQLite's write lock is held this instant (by a writer of this process or another):
    a write that must not wait (:class:`SqliteWriteNow`) gives way."""


# Each SQLite engine's in-process writer lock, for writes that bypass its ``begin`` event.
_WRITERS: weakref.WeakKeyDictionary[Engine, _WriterLock] = weakref.WeakKeyDictionary()


NOT_OPENED = "SQLite's write-now connection could not %s; its writes go the thread pool's way"


class SqliteWriteNow:
    """A connection of its own to an SQLite engine's database file, for one-statement writes
    that must not wait (the edge's rate-limit count, on the event loop). In autocommit, so
    the statement is its own transaction; with a busy timeout of 0, so a write lock held by
    another process fails it at once; without WAL checkpoints (their fsyncs would stall the
    loop: the thread pool's next commit checkpoints). Each statement first takes this
    process's writer lock if it is free this instant. :class:`WriteLockBusy` when the lock
    is held, :class:`NotNow` on any other driver error (the file gone, read-only, full) or
    before :meth:`open`: the caller then writes the SQLAlchemy way, whose errors are handled
    as any other's. A pooled connection (BEGIN IMMEDIATE, the statement, COMMIT and the
    pragmas turned off and back on around them) cost 60 us of CPU a count; this one 31-35."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.driver: sqlite3.Connection | None = None

    def open(self) -> None:
        """Connect, unless the engine is not a file's made by :func:`build_engine` (an
        in-memory database is private to each connection) or the file cannot be opened:
        then every statement gives way."""
        if self.engine not in _WRITERS or in_memory(self.engine.url):
            return
        (filename, *_), given = self.engine.dialect.create_connect_args(self.engine.url)
        options: dict[str, Any] = {**given, "isolation_level": None, "check_same_thread": False}
        try:
            driver = sqlite3.connect(filename, **options)
        except sqlite3.Error:
            log.warning(NOT_OPENED, "open", exc_info=True)
            return
        try:
            for pragma in ("journal_mode=WAL", "busy_timeout=0", "wal_autocheckpoint=0", "synchronous=NORMAL"):
                driver.execute(f"PRAGMA {pragma}")
        except sqlite3.Error:
            driver.close()
            log.warning(NOT_OPENED, "be set up", exc_info=True)
            return
        self.driver = driver

    def close(self) -> None:
        driver, self.driver = self.driver, None
        if driver is not None:
            driver.close()

    def checkpoint(self) -> None:
        """Copy the write-ahead log back into the database, with this process's writer
        lock held (waiting for it, so in the thread pool): this connection's commits never
        checkpoint, and the pool's automatic ones run while the loop keeps appending, so
        they never find every frame copied and the log never restarts; under steady
        concurrent counts it grew by 8 KB a count. With the lock held nothing appends, the
        checkpoint completes unless a reader holds an old snapshot, and the next write
        starts the log again from its beginning."""
        if self.driver is None:
            return
        writers = _WRITERS[self.engine]
        held: dict[str, Any] = {}
        try:
            writers.acquire(held)
        except OperationalError:  # best effort (the writers held it past the busy timeout): the next sweep tries again
            return
        try:
            with suppress(sqlite3.Error):
                self.driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            writers.release(held)

    def execute(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """Run one statement to its end (which commits it); its rows."""
        driver = self.driver
        if driver is None:
            raise NotNow
        writers = _WRITERS[self.engine]
        held: dict[str, Any] = {}
        if not writers.try_acquire(held):
            raise WriteLockBusy
        try:
            return driver.execute(sql, parameters).fetchall()
        except sqlite3.OperationalError as failed:
            if failed.sqlite_errorcode in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise WriteLockBusy from failed  # another process holds the lock
            raise NotNow from failed
        except sqlite3.Error as failed:
            raise NotNow from failed
        finally:
            writers.release(held)


def _for_writes(engine: Engine) -> Engine:
    """``engine`` whose transactions on SQLite are ``BEGIN IMMEDIATE`` (they take the write
    lock at once, so a read-then-write cannot fail half-way on a lock upgrade); on
    PostgreSQL the engine itself."""
    return engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}) if engine.dialect.name == "sqlite" else engine


def write_session(engine: Engine) -> Session:
    """A session for writes (see :func:`_for_writes`). Commit explicitly; leaving the
    ``with`` block without committing rolls back."""
    return Session(_for_writes(engine))


def write_connection(engine: Engine) -> Connection:
    """A Core connection for a short write of its own (a rate-limit count), where an ORM
    session would cost more than the statement; its transactions as a write session's
    (:func:`_for_writes`). Commit explicitly; closing it without a commit rolls back.
    (:class:`SqliteWriteNow` is the count's path on the event loop.)"""
    return _for_writes(engine).connect()


def insert_of(dialect: str) -> Any:
    """``insert`` of the dialect named, for ``ON CONFLICT`` upserts (SQLite and PostgreSQL)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return pg_insert if dialect == "postgresql" else sqlite_insert


def dialect_insert(session: Session) -> Any:
    """``insert`` of the session's dialect, for ``ON CONFLICT`` upserts (SQLite and PostgreSQL)."""
    return insert_of(session.get_bind().dialect.name)


def reads_inline(session: Session) -> bool:
    """Whether ``session``'s reads run on the event loop rather than in the thread pool.

    SQLite's do. It is a library in this process reading a local file, and in WAL mode a
    reader never waits on a writer's lock, so a read is CPU work like any other on the loop;
    a thread-pool hop (two thread wake-ups and the loop's self-pipe) cost more of it than
    the read itself: 100-130 us of CPU a hop on the 2-vCPU benchmark machine, two hops a
    read route. PostgreSQL's stay in the thread pool: each statement is a round trip, and
    the loop must go on serving other requests while one waits. Writes take the thread
    pool on both (a SQLite writer may queue on the write lock)."""
    bind = session.home if isinstance(session, ConnectedReadSession) else session.bind
    return bind is not None and bind.dialect.name == "sqlite"


async def _close(session: Session) -> None:
    """Close ``session`` at the end of its request. A route that ended its transaction leaves
    nothing to do but Python bookkeeping, done on the event loop; one that left a
    transaction open has it rolled back in the thread pool (that talks to the database),
    or on the loop for SQLite (:func:`reads_inline`)."""
    if session.in_transaction() and not reads_inline(session):
        await run_in_threadpool(session.close)
    else:
        session.close()


def _closed_after(request: Request, session: Session) -> Session:
    """``session``, closed when its request ends (after the response is sent, on an error
    too) by the exit stack FastAPI keeps for the request's dependencies: the stack its
    ``yield`` dependencies use, which it asserts is there while it solves a dependency.
    A plain ``async def`` that does this costs a request about 40 us less than a ``yield``
    dependency, which FastAPI wraps in a context manager of its own on every request."""
    stack: AsyncExitStack = request.scope["fastapi_inner_astack"]
    stack.push_async_callback(_close, session)
    return session


class ConnectedReadSession(Session):
    """A request's read session, on a Core connection of :class:`KeptConnections`: SQLite's
    kept between requests, PostgreSQL's checked out of the pool for the transaction.

    A plain session begins a transaction object of its own for its first statement, checks
    a connection out of the pool and wraps it, and at the end rolls back, closes and
    checks in: 130 us of CPU on the benchmark machine around a one-row read on SQLite,
    against 30 us for this session on a kept connection (the engine's ``begin`` and
    ``rollback`` events run as before). The connection is taken on the first statement
    (in the route's thread, on PostgreSQL) and given back when the transaction ends, as a
    plain session's is. The hot statements (:mod:`app.core.direct`) run on it without the
    session's transaction object; an ORM query joins the connection's transaction
    (``control_fully``), so on SQLite a request's credential check and its reads share one
    snapshot as before. On PostgreSQL (READ COMMITTED: a snapshot per statement anyway) a
    plain SELECT while no transaction is open runs as a transaction of its own, without
    the round trips of BEGIN and ROLLBACK (:func:`app.core.direct._alone`). :meth:`rollback`
    and :meth:`commit` end the connection's transaction whoever began it; after
    :meth:`close` the session takes no connection again, so a late use fails rather than
    run on a connection that serves another request."""

    def __init__(self, connections: KeptConnections) -> None:
        super().__init__(join_transaction_mode="control_fully")
        self.connections: KeptConnections | None = connections
        self.home = connections.engine  # the engine its connections come from

    def kept_connection(self) -> Connection:
        """The session's connection, taken if it holds none."""
        if self.bind is None:
            if self.connections is None:
                raise InvalidRequestError("This request's read session is closed.")
            self.bind = self.connections.take()
        return cast(Connection, self.bind)

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        self.kept_connection()
        return super().get_bind(*args, **kwargs)

    def in_transaction(self) -> bool:
        connection = cast(Connection | None, self.bind)
        return super().in_transaction() or (connection is not None and connection.in_transaction())

    def _give_back(self) -> None:
        connection = cast(Connection | None, self.bind)
        self.bind = None
        if connection is not None and self.connections is not None:
            self.connections.give_back(connection)  # rolled back if a transaction is open

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._give_back()

    def commit(self) -> None:
        super().commit()
        connection = cast(Connection | None, self.bind)
        if connection is not None and connection.in_transaction():  # begun by a direct statement
            connection.commit()
        self._give_back()

    def close(self) -> None:
        try:
            # Nothing of the ORM's to end or forget (only direct statements ran): its own
            # close, which rebuilds the identity map, would cost a one-row read 14 us.
            if self.get_transaction() is not None or len(self.identity_map) or self.new or self.deleted:
                super().close()
        finally:
            self._give_back()
            self.connections = None


class KeptIdle:
    """How many of a pool's connections are kept idle for reads (checked out of the pool,
    used by no request), and what to call when that changes (the metrics count them as
    open, not in use)."""

    def __init__(self) -> None:
        self.count = 0
        self.watchers: list[Callable[[int], None]] = []  # given the change

    def add(self, change: int) -> None:
        self.count += change
        for watcher in self.watchers:
            watcher(change)


_IDLE: weakref.WeakKeyDictionary[Any, KeptIdle] = weakref.WeakKeyDictionary()


def kept_idle(pool: Any) -> KeptIdle:
    """The idle kept connections of ``pool`` (every app's on it)."""
    idle = _IDLE.get(pool)
    if idle is None:
        idle = _IDLE[pool] = KeptIdle()
    return idle


class KeptConnections:
    """Core connections of an engine for read sessions. Up to ``keep`` are kept between
    requests (SQLite's: its file cannot go away under a kept connection the way a server
    can restart under one); the rest, and every PostgreSQL connection (``keep=0``), are
    checked out of the pool when taken and back in when given back, where PostgreSQL's
    idle ones are pinged. A connection is given back with its transaction rolled back; one
    that is broken (invalidated, closed, its rollback failed) goes to the pool, not to the
    next request."""

    def __init__(self, engine: Engine, keep: int) -> None:
        self.engine = engine
        self.keep = keep
        self.free: list[Connection] = []
        self.closed = False
        self._lock = threading.Lock()
        self._idle = kept_idle(engine.pool)

    def take(self) -> Connection:
        if self.free:
            with self._lock:
                if self.free:
                    connection = self.free.pop()
                    self._idle.add(-1)
                    return connection
        return self.engine.connect()

    def give_back(self, connection: Connection) -> None:
        try:
            if connection.get_transaction() is not None:  # an inactive one too (a failed commit)
                connection.rollback()
        except Exception:
            log.warning("a read connection could not roll back; it goes back to the pool", exc_info=True)
            connection.invalidate()
        if self.keep and self._clean(connection):
            with self._lock:
                if len(self.free) < self.keep and not self.closed:
                    self.free.append(connection)
                    self._idle.add(1)
                    return
        connection.close()  # the pool rolls back whatever the driver still has open

    @staticmethod
    def _clean(connection: Connection) -> bool:
        """Whether ``connection`` can serve the next request as it is: open, valid, and in no
        transaction, SQLAlchemy's or the driver's."""
        if connection.closed or connection.invalidated or connection.get_transaction() is not None:
            return False
        driver = connection.connection.dbapi_connection
        return driver is not None and not getattr(driver, "in_transaction", False)

    def close(self) -> None:
        """Give every kept connection back to the pool (at the app's shutdown); one given
        back after this goes to the pool too."""
        with self._lock:
            self.closed = True
            free, self.free = self.free, []
            self._idle.add(-len(free))
        for connection in free:
            connection.close()


def _connections(engine: Engine, keep: int) -> KeptConnections:
    kept = engine.dialect.name == "sqlite" and not in_memory(engine.url)
    return KeptConnections(engine, keep if kept else 0)


class RequestSessions:
    """Where the app's sessions come from: ``app.state.sessions``, for a request's
    dependencies, for work that outlives its request and for the edge's own writes. A
    request's is made where its first user runs (on the event loop, or in the thread a
    plain dependency runs in, as a training write's credential check does), never in a
    thread-pool hop of its own (a session connects on its first query, in the route's
    thread), and is closed when the request ends (the close registered with the request's
    exit stack, from a thread too while the loop awaits it). The test suite puts its own
    here (every session one rolled-back transaction) rather than FastAPI's
    ``dependency_overrides``: with any override set, FastAPI derives every dependency of
    every request again from its signature (about 5 % of the suite's CPU)."""

    def __init__(self, engine: Engine, catalogue_engine: Engine, *, keep: int) -> None:
        self.engine = engine
        self.catalogue_engine = catalogue_engine
        # Made once: ``Engine.execution_options`` builds a new engine object each call (3 % of
        # a workout write's time on the event loop).
        self.write_engine = _for_writes(engine)
        self.reads = _connections(engine, keep)  # kept between requests on SQLite
        self.catalogue_reads = self.reads if catalogue_engine is engine else _connections(catalogue_engine, keep)

    def read(self, request: Request) -> Session:
        return _closed_after(request, ConnectedReadSession(self.reads))

    def write(self, request: Request) -> Session:
        return writing(request, _closed_after(request, Session(self.write_engine)))

    def catalogue(self, request: Request) -> Session:
        return _closed_after(request, ConnectedReadSession(self.catalogue_reads))

    def close(self) -> None:
        """Give the connections kept for reads back to their pools (at the app's shutdown)."""
        self.reads.close()
        self.catalogue_reads.close()

    def outliving(self) -> AbstractContextManager[Session]:
        """A read session for work that outlives its request (a streamed export)."""
        return Session(self.engine)

    def connection(self) -> AbstractContextManager[Any]:
        """A connection for the edge's short writes of its own, as :func:`write_connection`
        makes one, on the write engine made once."""
        return self.write_engine.connect()


_READ_SESSION = "runstrong.read_session"
_WRITE_SESSION = "runstrong.write_session"


def read_session_of(request: Request) -> Session:
    """The request's read session, bound to the app's engine: one per request, as FastAPI's
    cache of a dependency would give it; kept in the request's scope so the credential
    check can take it from here without a dependency of its own (each dependency costs
    every request its solving, cached or not: bench/instructions.py)."""
    session: Session | None = request.scope.get(_READ_SESSION)
    if session is None:
        sessions: RequestSessions = request.app.state.sessions
        session = request.scope[_READ_SESSION] = sessions.read(request)
    return session


def writing(request: Request, session: Session) -> Session:
    """``session``, kept as the request's write session, where :func:`checked` finds it."""
    request.scope[_WRITE_SESSION] = session
    return session


def checked(request: Request, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(session, *args)`` on the session a write's credential check reads on. On
    PostgreSQL, a request that has its write session by then (a record write's, made on
    the loop before its plain dependencies run) reads on that, on the connection the
    write takes anyway, where a read session of its own cost a second connection taken
    and given back (11-14 % of a workout write's CPU one request at a time:
    bench/README.md, thirty-second round). The check's SELECTs come before the
    write's first statement, so each runs as a transaction of its own
    (:func:`app.core.driver.idle`), as a read session's do: nothing of them,
    not even a table's lock, is held through the write. (A personal access token is read
    through the ORM, within the write's transaction; marking it used commits that before
    the write begins, at most once a minute a token.) On SQLite a write session's first
    statement takes the database's write lock, which the check must not hold: it reads on
    the request's read session, as elsewhere, and ends that read transaction after it."""
    session: Session | None = request.scope.get(_WRITE_SESSION)
    if session is not None and not reads_inline(session):
        return work(session, *args, **kwargs)
    read_session = read_session_of(request)
    return then_ended(read_session, work, read_session, *args, **kwargs)()


async def get_session(request: Request) -> Session:
    """FastAPI dependency: the request's read session (:func:`read_session_of`)."""
    return read_session_of(request)


async def get_write_session(request: Request) -> Session:
    """FastAPI dependency: a write session (see :func:`write_session`). The route's unit of
    work commits it once before answering, so nothing is acknowledged before it is
    durable; whatever is not committed is rolled back."""
    sessions: RequestSessions = request.app.state.sessions
    return sessions.write(request)


async def get_catalogue_session(request: Request) -> Session:
    """FastAPI dependency: a read session for the public catalogue, on the read replica
    when ``RUNSTRONG_CATALOGUE_DATABASE_URL`` names one, else on the primary."""
    sessions: RequestSessions = request.app.state.sessions
    return sessions.catalogue(request)


async def read_on(session: Session, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(*args)`` in the thread pool (on the loop for SQLite: :func:`reads_inline`),
    leaving ``session``'s read transaction open for the request's next read on it
    (:func:`read` ends it): one connection, one snapshot (SQLite's) and no second BEGIN for the
    caller's check and the route's read. On an error the transaction is ended before it
    propagates."""

    def run() -> T:
        try:
            return work(*args, **kwargs)
        except BaseException:
            session.rollback()
            raise

    return run() if reads_inline(session) else await run_in_threadpool(run)


def then_ended(session: Session, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Callable[[], T]:
    """``work(*args)``, then the end of ``session``'s read transaction, as one call."""

    def run() -> T:
        try:
            return work(*args, **kwargs)
        finally:
            session.rollback()

    return run


async def read(session: Session, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(*args)`` in the thread pool, then the end of ``session``'s read transaction
    (in the same hop): an async route's database work in one thread-pool hop, or in none
    on SQLite (:func:`reads_inline`)."""
    run = then_ended(session, work, *args, **kwargs)
    return run() if reads_inline(session) else await run_in_threadpool(run)


async def read_long(session: Session, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """:func:`read`, in the thread pool on SQLite too: for reads whose Python work can run
    long (a load report over three years of logs), which on the event loop would hold up
    every other request for all of it; in a thread the loop still gets its turns."""
    return await run_in_threadpool(then_ended(session, work, *args, **kwargs))
