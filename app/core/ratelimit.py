"""Fixed-window rate limits kept in the database, so every worker and host shares them.

One atomic upsert per hit: the row's window restarts when it has expired, otherwise its
count goes up by one; the new count decides. Works on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    Float,
    Integer,
    String,
    bindparam,
    case,
    cast,
    delete,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel

from app.core.config import Settings
from app.core.db import NotNow, SqliteWriteNow, postgresql_connect_args, table_of
from app.core.direct import Compiled, Direct, compile_for

SWEEP_EVERY = 1000  # a worker sweeps expired buckets once every this many hits


class RateLimitBucket(SQLModel, table=True):
    __tablename__ = "rate_limit_bucket"

    key: str = Field(primary_key=True, max_length=200)
    window_start: float = Field(index=True, description="Unix time the current window began.")
    count: int


class LookupNeeded(Exception):
    """An identity for a rate-limit key that only the database can tell (given no connection)."""


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    count: int
    retry_after_s: int


def _hit(insert: Any, *, without_waiting_for_the_disk: bool = False) -> Any:
    """The upsert; ``without_waiting_for_the_disk`` (PostgreSQL): its own transaction commits
    without waiting for the server's disk, set by the statement for that transaction alone
    (``set_config``'s third argument), so nothing of it stays on the connection."""
    table = table_of(RateLimitBucket)
    now = bindparam("now", type_=Float)
    expired = table.c.window_start <= bindparam("expired_before", type_=Float)
    if without_waiting_for_the_disk:
        setting = select(func.set_config("synchronous_commit", "off", true()).label("set")).subquery()
        row = select(bindparam("key", type_=String), cast(now, Float), literal(1, Integer)).select_from(setting)
        upsert = insert(table).from_select(["key", "window_start", "count"], row)
    else:
        upsert = insert(table).values(key=bindparam("key"), window_start=now, count=1)
    return upsert.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "count": case((expired, 1), else_=table.c.count + 1),
            "window_start": case((expired, now), else_=table.c.window_start),
        },
    ).returning(table.c.count, table.c.window_start)


_HIT = Direct(_hit)


def hit(session: Session | Connection, key: str, *, limit: int, window_s: int, now: float | None = None) -> Decision:
    """Count one event against ``key`` and commit, so the count stands even if the
    request then fails (a wrong password still counts)."""
    now = time.time() if now is None else now
    ((count, started),) = _HIT.rows(session, {"key": key, "now": now, "expired_before": now - window_s})
    session.commit()
    return _decision(count, started, limit, window_s, now)


def _decision(count: int, started: float, limit: int, window_s: int, now: float) -> Decision:
    retry_after = max(1, math.ceil(started + window_s - now))
    return Decision(allowed=count <= limit, count=count, retry_after_s=retry_after)


@lru_cache(maxsize=1)
def _sqlite_hit() -> Compiled:
    """The upsert of :func:`hit` as SQLite's driver (pysqlite) runs it."""
    return compile_for(_hit(sqlite_insert), registry.load("sqlite.pysqlite")())


def hit_now(writes: SqliteWriteNow, key: str, *, limit: int, window_s: int, now: float | None = None) -> Decision:
    """:func:`hit` on SQLite's driver, on a connection that never waits
    (:class:`app.core.db.SqliteWriteNow`): the same statement, its own transaction, without
    SQLAlchemy's layers around one tiny upsert (about 300 us of CPU on the benchmark
    machine, the driver's statement 12)."""
    now = time.time() if now is None else now
    made = _sqlite_hit()
    values = made.parameters({"key": key, "now": now, "expired_before": now - window_s})
    ((count, started),) = writes.execute(made.sql, values)
    return _decision(count, started, limit, window_s, now)


class CountNow(Protocol):
    """A count on the database driver that never waits for a connection or a lock (the
    edge's, on the event loop): :class:`app.core.db.NotNow` when it cannot be had, and
    then the caller counts with :func:`hit` in the thread pool, which waits its turn."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def __call__(self, key: str, *, limit: int, window_s: int, now: float | None = None) -> Decision: ...

    def after_sweep(self) -> None:
        """In the thread pool, after the periodic sweep of expired buckets: whatever the
        counts on the loop left to tidy."""


class _Started:
    """Started and stopped by each lifespan that uses it (tests may nest two on one app):
    its connections live while one of them runs."""

    users = 0

    async def start(self) -> None:
        self.users += 1
        if self.users == 1:
            await self._open()

    async def stop(self) -> None:
        self.users = max(0, self.users - 1)
        if not self.users:
            await self._close()

    async def _open(self) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError


class SqliteCountNow(_Started):
    """On SQLite's driver, on the event loop, while the write lock is free this instant
    (:class:`app.core.db.SqliteWriteNow`): a library call on a local file, about 30 us of
    CPU, where the thread-pool hop alone was 100-200."""

    def __init__(self, engine: Engine) -> None:
        self.writes = SqliteWriteNow(engine)

    async def _open(self) -> None:
        self.writes.open()

    async def _close(self) -> None:
        self.writes.close()

    async def __call__(self, key: str, *, limit: int, window_s: int, now: float | None = None) -> Decision:
        return hit_now(self.writes, key, limit=limit, window_s=window_s, now=now)

    def after_sweep(self) -> None:
        self.writes.checkpoint()  # the counts' commits never checkpoint the write-ahead log


# The PostgreSQL count's own connections per worker, and how long a count waits for one
# before it gives way (they are busy for one round trip each; waiting longer helps only
# when the server is down, and then every write would wait).
COUNT_CONNECTIONS = 4
COUNT_WAIT_S = 0.1
# After a count that found no connection, the counts go the thread pool's way for this
# long: while the server is down, a write waits COUNT_WAIT_S once a second, not each time.
COUNT_REST_S = 1.0
# The pool gives up reconnecting in the background after this long (and so stops backing
# off); a count that finds it short of connections has it connect again at once.
COUNT_RECONNECT_S = 10.0
COUNT_CONNECT_TIMEOUT_S = 5  # libpq's connect_timeout for the count's connections, unless the URL sets one
COUNT_CLOSE_S = 1.0  # at shutdown, how long the pool's workers may take to stop


@lru_cache(maxsize=1)
def _numbered_hit() -> Compiled:
    """The upsert of :func:`hit` with numbered parameters (``$1``...), as libpq prepares it."""
    statement = _hit(pg_insert, without_waiting_for_the_disk=True)
    return compile_for(statement, registry.load("postgresql.psycopg")(paramstyle="numeric_dollar"))


async def _ready(watch: Callable[..., Any], unwatch: Callable[[int], Any], fd: int) -> None:
    """Until ``fd`` is ready (``watch``: the loop's add_reader or add_writer)."""
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def fire() -> None:
        if not ready.done():  # the loop may call it again before the watch ends
            ready.set_result(None)

    watch(fd, fire)
    try:
        await ready
    finally:
        unwatch(fd)


async def _sent(pgconn: Any) -> None:
    """Until libpq has sent all of the statement."""
    loop = asyncio.get_running_loop()
    while pgconn.flush():  # 1 while some of it is still unsent
        await _ready(loop.add_writer, loop.remove_writer, pgconn.socket)


async def _next_result(pgconn: Any) -> Any:
    """The statement's next result from the server, or None after the last."""
    loop = asyncio.get_running_loop()
    while pgconn.is_busy():
        await _ready(loop.add_reader, loop.remove_reader, pgconn.socket)
        pgconn.consume_input()
    return pgconn.get_result()


async def _drained(pgconn: Any) -> None:
    """Until the server has answered the statement sent, its results read and let go."""
    while await _next_result(pgconn) is not None:
        pass


COUNT_CANCEL_S = 5.0  # how long an abandoned count may take to be cancelled on the server


async def _abandoned(connection: Any) -> None:
    """A count whose task was cancelled mid-way: sent to its end, cancelled on the server
    and its results read, so that the connection goes back to the pool idle. One that is
    not over within ``COUNT_CANCEL_S``, or whose task is cancelled again meanwhile, goes
    back busy, and the pool closes its connection; the server may then still count it."""
    import psycopg

    pgconn = connection.pgconn
    try:
        async with asyncio.timeout(COUNT_CANCEL_S):
            await _sent(pgconn)
            await connection.cancel_safe(timeout=COUNT_CANCEL_S)
            await _drained(pgconn)
    except (psycopg.Error, TimeoutError):
        return


# The count's statement is prepared by libpq (not by SQL PREPARE, which a pooler in
# transaction mode cannot follow) on each count connection, under one name made from its
# SQL: the same in every process, so a server connection that a pooler shares between
# processes holds it once, and no process runs another's statement of a different text.
# _PREPARED holds the connections it was prepared on, as this side knows; a connection is
# forgotten when the server says it lacks the statement (a pooler's reset, DISCARD ALL, a
# pooler that does not follow prepared statements), and it is prepared again in that count.
_PREPARED: weakref.WeakSet[Any] = weakref.WeakSet()
_MISSING = "26000"  # no such prepared statement
_STALE = "0A000"  # its cached plan no longer fits (a column's type changed): deallocated, prepared again
_ALREADY = "42P05"  # prepared already (by another process on a server connection a pooler shares)


@lru_cache(maxsize=1)
def _statement_name() -> bytes:
    return ("runstrong_count_" + hashlib.sha256(_numbered_hit().sql.encode()).hexdigest()[:16]).encode()


def _refusal(result: Any) -> str:
    return (result.error_message or b"no row").decode(errors="replace")


def _state(result: Any) -> str | None:
    from psycopg import pq

    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    return None if state is None else state.decode()


async def _statement(connection: Any, encoding: str) -> bytes:
    """The name of the count's statement, prepared on ``connection`` the first time (one
    round trip). Taken as prepared before its answer: a prepare cut short (a cancelled
    count) is found missing by the next count, which prepares it again."""
    from psycopg import pq

    name = _statement_name()
    if connection in _PREPARED:
        return name
    _PREPARED.add(connection)
    pgconn = connection.pgconn
    pgconn.send_prepare(name, _numbered_hit().sql.encode(encoding))
    await _sent(pgconn)
    refused = ""
    while (result := await _next_result(pgconn)) is not None:
        if result.status != pq.ExecStatus.COMMAND_OK and _state(result) != _ALREADY:
            refused = _refusal(result)
    if refused:
        _PREPARED.discard(connection)
        raise NotNow(f"the rate-limit count could not be prepared: {refused}")
    return name


async def _counted(connection: Any, key: str, window_s: int, now: float) -> tuple[int, float]:
    """The upsert on ``connection``'s libpq connection, awaited on the event loop: prepared
    once on the connection (:func:`_statement`), sent with its values as text in the
    connection's encoding, the one row it returns read as text. psycopg's own ``execute``
    spends about half as much CPU again in Python around libpq (adapting the values, the
    cursor, its result and its waits). Raises NotNow when the server refused the statement
    (any error, even after its row) and ``psycopg.Error`` when the connection failed. A
    count abandoned (its task cancelled) is cancelled on the server, as psycopg's
    ``execute`` cancels it."""
    if "\x00" in key:  # a text value ends at its first NUL: that would count another key
        raise NotNow("a rate-limit key with a NUL character")
    values = _numbered_hit().parameters({"key": key, "now": now, "expired_before": now - window_s})
    encoding = connection.info.encoding
    try:
        sent = [str(v).encode(encoding) for v in values]
    except UnicodeEncodeError as failed:  # not in the connection's encoding: the driver's way says so
        raise NotNow("a rate-limit key the connection's encoding cannot carry") from failed
    try:
        row, refused, lost = await _run_prepared(connection, encoding, sent)
        if lost:  # the server no longer had it: prepared again, and run once more
            row, refused, lost = await _run_prepared(connection, encoding, sent)
    except asyncio.CancelledError:
        await _abandoned(connection)
        raise
    if row is None or refused:
        raise NotNow(f"the rate-limit count was refused: {refused or 'no row'}")
    return row


async def _run_prepared(
    connection: Any, encoding: str, sent: list[bytes]
) -> tuple[tuple[int, float] | None, str, bool]:
    """The prepared count run once: its row, the server's refusal if any, and whether the
    refusal was for want of a usable statement (then prepared again by the next run; an
    execution refused at its start counted nothing)."""
    from psycopg import pq

    pgconn = connection.pgconn
    name = await _statement(connection, encoding)
    pgconn.send_query_prepared(name, sent)
    await _sent(pgconn)
    row: tuple[int, float] | None = None
    refused = ""
    state: str | None = None
    while (result := await _next_result(pgconn)) is not None:
        if result.status == pq.ExecStatus.TUPLES_OK and result.ntuples == 1 and not refused:
            count, started = result.get_value(0, 0), result.get_value(0, 1)
            row = (int(count), float(started)) if count is not None and started is not None else None
        else:
            refused, state = _refusal(result), _state(result)
    if state not in (_MISSING, _STALE):
        return row, refused, False
    _PREPARED.discard(connection)
    if state == _STALE:  # the server still holds the statement: let it go, so it can be made anew
        pgconn.send_query_params(b"DEALLOCATE " + name, None)
        await _sent(pgconn)
        await _drained(pgconn)
    return row, refused, True


class PostgresqlCountNow(_Started):
    """On PostgreSQL, on psycopg's asynchronous connections in autocommit, from a small pool
    of their own (psycopg_pool, opened with the app, ``COUNT_CONNECTIONS`` per worker): one
    round trip, the upsert alone being its own transaction, run on libpq's own calls
    (:func:`_counted`), awaited on the event loop. The thread pool's synchronous count (a
    hop, then BEGIN, the upsert and COMMIT) cost about 400 us of CPU a write; psycopg's
    asynchronous ``execute`` with the pool about 140; this one about 100. A connection
    the server dropped fails its count (given way) and leaves the pool, which connects
    anew.

    A count commits without waiting for the server's disk (``synchronous_commit = off``,
    set by its statement for its own transaction, so no other statement on a connection a
    pooler may hand on inherits it): a bucket's row is locked from its upsert until its
    commit, so a client's concurrent requests took turns behind each other's flush to disk.
    A server that crashes may forget the counts of its last moments (three times
    ``wal_writer_delay``, 0.6 s by default), which lets a client a few more requests; a
    rate limit needs no more. The write the request then makes waits for the disk as ever."""

    def __init__(self, conninfo: str, connect_kwargs: dict[str, Any]) -> None:
        # Imported here, with PostgreSQL: a server on SQLite does not load psycopg (0.17 s).
        import psycopg
        import psycopg_pool

        self.pool_class = psycopg_pool.AsyncConnectionPool
        self.timed_out: type[Exception] = psycopg_pool.PoolTimeout
        self.failed: type[Exception] = psycopg.Error
        self.conninfo = conninfo
        self.connect_kwargs = {"connect_timeout": COUNT_CONNECT_TIMEOUT_S, **connect_kwargs, "autocommit": True}
        self.pool: Any = None  # psycopg_pool.AsyncConnectionPool, while started
        self.resting_until = 0.0

    async def _open(self) -> None:
        self.pool = self.pool_class(
            self.conninfo,
            kwargs=self.connect_kwargs,
            min_size=1,
            max_size=COUNT_CONNECTIONS,
            open=False,
            name="rate-limit counts",
            reconnect_timeout=COUNT_RECONNECT_S,
        )
        await self.pool.open(wait=False)  # a server that is down now must not stop the start

    async def _close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close(timeout=COUNT_CLOSE_S)

    async def __call__(self, key: str, *, limit: int, window_s: int, now: float | None = None) -> Decision:
        if self.pool is None or time.monotonic() < self.resting_until:
            raise NotNow
        now = time.time() if now is None else now
        try:
            async with self.pool.connection(timeout=COUNT_WAIT_S) as conn:
                count, started = await _counted(conn, key, window_s, now)
        except self.timed_out as failed:  # no connection: all busy, or the server unreachable
            self.resting_until = time.monotonic() + COUNT_REST_S
            raise NotNow from failed
        except self.failed as failed:  # PoolClosed, a connection lost
            raise NotNow from failed
        return _decision(count, started, limit, window_s, now)

    def after_sweep(self) -> None:
        pass  # each count is its own transaction on the server: nothing is left to tidy


def count_now(engine: Engine, settings: Settings) -> CountNow:
    """The count on ``engine``'s driver: SQLite's in-process, PostgreSQL's on its own pool."""
    if engine.dialect.name == "sqlite":
        return SqliteCountNow(engine)
    return PostgresqlCountNow(*postgresql_connect_args(engine, settings))


def forget(session: Session, key: str) -> None:
    """Drop a bucket (its key may hold personal data, such as an email address); the
    caller commits."""
    session.execute(delete(RateLimitBucket).where(RateLimitBucket.key == key))  # type: ignore[arg-type]


def forget_user(session: Session, user_id: str) -> None:
    """Drop every bucket counting a user: their keys contain ``user:<id>`` (the edge's
    ``writes:user:<id>``, the login's ``login:device:user:<id>:...``); the caller commits.
    A scan of the table, which sweeping keeps small; erasure is rare."""
    table = table_of(RateLimitBucket)
    session.execute(delete(table).where(table.c.key.contains(f"user:{user_id}", autoescape=True)))


def sweep(session: Session | Connection, *, older_than: float) -> int:
    """Delete buckets whose window began before ``older_than`` (they have long expired:
    the next hit would restart them anyway); the caller commits."""
    table = table_of(RateLimitBucket)
    result = session.execute(delete(table).where(table.c.window_start < older_than))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
