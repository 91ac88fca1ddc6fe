"""A statement executed on a SQLAlchemy connection's driver cursor, as SQLAlchemy would: the
engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners called (with no
execution context), and an error on the way handled by SQLAlchemy's own handling of a
failed statement (``Connection._handle_dbapi_exception``, a private call; SQLAlchemy's
version is pinned in uv.lock): wrapped as its errors, ``handle_error`` listeners, the pool
renewed after a lost connection. Shared by ``core.direct`` and ``core.batched``, with
what both ask of the driver's transaction: whether it has one open (:func:`idle`), and a
statement run as a transaction of its own (:func:`autocommit`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection

T = TypeVar("T")


def executed(
    connection: Connection,
    sql: str,
    parameters: Any,
    many: bool,
    fetch: Callable[[Any], T],
    *,
    cursor: Callable[[Any], Any] | None = None,
) -> T:
    """``sql`` run with ``parameters`` (executemany for ``many``), then ``fetch(cursor)``;
    on a cursor the driver's connection makes, or ``cursor(connection)``."""
    made: Any = None
    try:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        made = raw.cursor() if cursor is None else cursor(raw)
        dispatch = connection.dispatch
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, made, sql, parameters, None, many)
        if many:
            made.executemany(sql, parameters)
        else:
            made.execute(sql, parameters)
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, made, sql, parameters, None, many)
        fetched = fetch(made)
    except BaseException as failed:
        connection._handle_dbapi_exception(failed, sql, parameters, made, None)
    made.close()
    return fetched


def idle(connection: Connection) -> bool:
    """Whether a statement on ``connection`` (PostgreSQL's) can run as a transaction of its
    own, as if it were the only one of the transaction SQLAlchemy has begun: the server's
    isolation is READ COMMITTED (each statement its own snapshot) and the driver has no
    transaction open on it (a session's transaction is begun with its connection; the
    driver sends BEGIN with the first statement). A connection given another isolation
    level of its own (``isolation_level`` in its execution options, which SQLAlchemy sets
    on the driver) keeps every statement in its transaction."""
    raw = connection.connection.dbapi_connection
    if raw is None:
        return False
    level = raw.isolation_level  # psycopg's: None for the server's default
    if (connection.dialect.default_isolation_level if level is None else level.name) not in _EACH_ITS_OWN:
        return False
    return bool(raw.info.transaction_status == 0 and not raw.autocommit)


# The isolation level at which a statement takes a snapshot of its own, in SQLAlchemy's
# and psycopg's spelling.
_EACH_ITS_OWN = frozenset({"READ COMMITTED", "READ_COMMITTED"})


@contextmanager
def autocommit(connection: Connection) -> Iterator[None]:
    """The driver in autocommit for what runs inside: a statement as a transaction of its own."""
    raw = connection.connection.dbapi_connection
    was = raw.autocommit  # type: ignore[union-attr]
    raw.autocommit = True  # type: ignore[union-attr]
    try:
        yield
    finally:
        if not raw.closed:  # type: ignore[union-attr]
            raw.autocommit = was  # type: ignore[union-attr]
