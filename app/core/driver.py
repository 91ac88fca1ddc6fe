"""A statement executed on a SQLAlchemy connection's driver cursor, as SQLAlchemy would: the
engine's ``before_cursor_execute`` and ``after_cursor_execute`` listeners called (with no
execution context), and an error on the way handled by SQLAlchemy's own handling of a
failed statement (``Connection._handle_dbapi_exception``, a private call; SQLAlchemy's
version is pinned in uv.lock): wrapped as its errors, ``handle_error`` listeners, the pool
renewed after a lost connection. Shared by ``core.direct`` and ``core.batched``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

T = TypeVar("T")


def executed(connection: Connection, sql: str, parameters: Any, many: bool, fetch: Callable[[Any], T]) -> T:
    """``sql`` run with ``parameters`` (executemany for ``many``), then ``fetch(cursor)``."""
    cursor: Any = None
    try:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        dispatch = connection.dispatch
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, sql, parameters, None, many)
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, sql, parameters, None, many)
        fetched = fetch(cursor)
    except BaseException as failed:
        connection._handle_dbapi_exception(failed, sql, parameters, cursor, None)
    cursor.close()
    return fetched
