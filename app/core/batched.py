"""Writes nobody reads back, sent to PostgreSQL together: one statement instead of one each.

A training record's create ends with writes whose results the request never reads: the
record's row and its sets, its outbox event, the stored idempotent answer, the change
feed's number. Each was a round trip, and psycopg's and our Python around each one cost
more than the database's work (bench/README.md, thirty-third round). Queued with
``Direct.later`` they wait on the connection and go as one statement, each a
data-modifying ``WITH`` member of it:

    WITH q0 AS (INSERT INTO workout ... RETURNING 1),
         q1 AS (INSERT INTO workout_set ... SELECT * FROM unnest(%(q1_id)s::UUID[], ...) RETURNING 1),
         q2 AS (INSERT INTO outbox_event ... RETURNING outbox_event.id), ...
    SELECT (SELECT count(*) FROM q0), (SELECT count(*) FROM q1), ...

Nothing changes in what is stored or when it is visible, only when the writes reach the
server:

- **Before anything else on the connection.** The queue is sent before the connection's
  next statement of any kind (SQLAlchemy's, the ORM's, a ``Direct`` one, a savepoint's)
  and before its commit; so every statement sees the queued writes, in the order they
  were made. A rollback (of the transaction, or to a savepoint begun after them) drops
  them unsent, as the server would have undone them; so does a connection given back
  to the pool.
- **Counted.** Each member says how many rows it must change (one a row given); a member
  that changes another number fails the request (``LostWrite``, or the caller's own
  error). The statement checks the counts itself: its ``SELECT`` passes each through
  ``runstrong_counted`` (migration 0017), which raises SQLSTATE ``RS409`` with the
  member's number, so a wrong count fails the whole statement.
- **Alone at the commit.** A queue sent by the connection's commit, whose driver has
  no transaction open (every statement before it, the write's reads, ran as a
  transaction of its own at READ COMMITTED: ``driver.idle``; not read-only), is all the
  transaction writes: it is sent as a transaction of its own, without ``BEGIN`` and
  ``COMMIT`` (two round trips of a workout write's five to the database, and 1.08-1.21
  times its rate served: bench/README.md, thirty-fourth round). A single statement is as
  atomic as that transaction was, and because the counts are checked inside it, a wrong
  one stores nothing. When a count is wrong and a foreign key refused too, the count's
  error is the one raised (the check runs before the statement's end, where the keys are
  checked).
- **Errors surface at the send**: a refused value, a broken constraint or a lost
  connection is raised by the statement that sends the queue (the next one, or the
  commit), wrapped by SQLAlchemy as any statement's error, within the same transaction,
  which then rolls back. A write queued inside a savepoint is sent when the savepoint is
  released, inside it: a caller that catches the error of an insert racing for an id
  there (``training.records._insert``) still catches it, and the savepoint rolls back.
- **No member sees another's rows**: the members of one statement share its snapshot.
  So a write whose statement is already queued sends the queue before queueing again
  (two upserts of one counter row could not both run in one statement), and only writes
  that read nothing another member writes are queued (an insert of rows it does not
  read; an update of a row written earlier in the transaction). Foreign keys are checked
  at the end of the statement, so a row and the rows that refer to it go together.

A single queued write is sent as it is. Members are plain ``INSERT``, ``UPDATE``,
``DELETE`` or ``INSERT ... ON CONFLICT`` statements, or a ``SELECT`` whose rows are only
counted (a check that they are there, ``app.core.redo``), as SQLAlchemy compiles them for psycopg
(named ``%(name)s`` parameters); a statement with a ``WITH`` of its own has its clauses
lifted into the combined one, renamed. A write given many rows (an ``executemany``) must
be a plain ``INSERT ... VALUES`` of bound parameters: its rows go as one array a column
(``unnest``), one parameter each, however many rows. The combined statement's SQL is made
once for each sequence of members and kept; psycopg prepares it as it prepares any
statement it sees often.

On SQLite ``Direct.later`` runs the write at once: its statements are calls into the
library, not round trips.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from psycopg import RawCursor
from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.core import driver

# The order of the before_commit listeners is their registration's: the work run last
# (the change feed's number, queued with ``later``) must be queued before the queue is sent.
from app.core import last as _last  # noqa: F401
from app.core.errors import Conflict


class LostWrite(Conflict):
    """A queued write changed another number of rows than it must (a row it meets changed
    meanwhile): the request fails with a 409 and its transaction rolls back."""


@dataclass(frozen=True, slots=True)
class Member:
    """One queued write: its SQL as compiled for psycopg, the driver's parameters (for many
    rows one list a column, :func:`columns`), the rows it must change, and the error if it
    does not."""

    sql: str
    parameters: Any
    many: bool
    expect: int
    lost: Callable[[], Exception] | None
    # For many rows: each parameter's SQL type and whether its values are floats.
    arrays: Mapping[str, tuple[str, bool]] | None = None


LOST_STATE = "RS409"  # runstrong_counted's error: a member changed another number of rows (migration 0017)
_QUEUE = "runstrong.batched"  # connection.info: the queue
_ON = "runstrong.batched_on"  # session.info: the connection it queued on
# The dialects of the engines given install() (shared by their option engines, kept when a
# pool is disposed and made anew): only their connections' commit sends a queue.
_INSTALLED: weakref.WeakSet[Dialect] = weakref.WeakSet()
_MADE: dict[tuple[tuple[str, bool], ...], _Combined] = {}
MAX_MADE = 256  # combined statements kept (one per sequence of members)
_PARAMETER = re.compile(r"%\((\w+)\)s")
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
# A parameter of a plain INSERT's VALUES, with the cast SQLAlchemy gives it, if any.
_VALUE = re.compile(r"%\((\w+)\)s(?:::[A-Z][A-Z ]*[A-Z])?")
_PLAIN_INSERT = re.compile(r"^INSERT INTO \w+ \([\w, ]+\) VALUES \((.*)\)$")
_CTE = re.compile(r"\s*(\w+) AS\s*\(")


def queue(session: Session, connection: Connection, member: Member) -> None:
    """``member`` queued on ``connection``, the session's (sent with its next statement or
    commit); the queue is sent first if a write of the same statement is in it."""
    session.info[_ON] = connection
    queued: list[Member] | None = connection.info.get(_QUEUE)
    if queued and any(m.sql == member.sql for m in queued):
        send(connection)
        queued = None
    if queued is None:
        queued = connection.info[_QUEUE] = []
    queued.append(member)


def pending(connection: Connection) -> bool:
    """Whether writes are queued on ``connection`` (never on one closed or lost, whose
    queue went with it: the pool's checkin dropped it)."""
    return not (connection.closed or connection.invalidated) and bool(connection.info.get(_QUEUE))


def send(connection: Connection, *, alone: bool = False) -> None:
    """The queued writes sent, as one statement (or as itself, a single one), their rows
    counted; an error on the way goes through SQLAlchemy's handling of a failed statement.
    ``alone``: the statement is all the transaction writes, and the driver has none open
    (:func:`alone`); it is sent as a transaction of its own."""
    queued: list[Member] | None = connection.info.pop(_QUEUE, None)
    if not queued:
        return
    if len(queued) == 1 and not alone:
        only = queued[0]
        sql = _unnested(only.sql, "", only.arrays) if only.many else only.sql
        count = driver.executed(connection, sql, _values(only, ""), False, lambda cursor: cursor.rowcount)
        counted(count, only.expect, only.lost)
        return
    combined = _combined(queued)
    by_name: dict[str, Any] = {}
    for i, member in enumerate(queued):
        by_name.update(_values(member, f"q{i}_"))
        by_name[f"e{i}"] = member.expect
    parameters = [by_name[name] for name in combined.names]
    try:
        with driver.autocommit(connection) if alone else nullcontext():
            driver.executed(connection, combined.sql, parameters, False, lambda _cursor: None, cursor=RawCursor)
    except DBAPIError as failed:
        member_number = _lost_member(failed)
        if member_number is None:
            raise
        raise _lost(queued[member_number].lost) from None


def alone(connection: Connection) -> bool:
    """Whether the queue, sent at the commit, can be sent as a transaction of its own: the
    driver has none open (every statement before it ran as its own, reads each with a
    snapshot of its own; ``driver.idle``), so the queue's statement is the only one the
    transaction has; without ``BEGIN`` and ``COMMIT`` it saves their two round trips of
    the three, and is as atomic. Its members' counts are checked by the statement itself.
    Not on a read-only connection: psycopg makes it read-only with its ``BEGIN``."""
    raw = connection.connection.dbapi_connection
    return driver.idle(connection) and not getattr(raw, "read_only", None)


def counted(count: int, expect: int, lost: Callable[[], Exception] | None) -> None:
    """A write's row count checked: ``lost()`` raised (``LostWrite`` unless given) if not ``expect``."""
    if count != expect:
        raise _lost(lost)


def _lost(lost: Callable[[], Exception] | None) -> Exception:
    return lost() if lost else LostWrite("A write met a row that changed meanwhile; retry the request.")


def _lost_member(failed: DBAPIError) -> int | None:
    """The member whose count ``runstrong_counted`` found wrong, or None for any other error."""
    if getattr(failed.orig, "sqlstate", None) != LOST_STATE:
        return None
    return int(failed.orig.diag.message_detail)  # type: ignore[union-attr]


def drop(connection: Connection) -> None:
    if pending(connection):
        del connection.info[_QUEUE]


def can_queue(sql: str, many: bool) -> bool:
    """Whether a statement can be a member: a plain INSERT for many rows; a statement that
    names a member's alias (``q0``...) could clash with the combined statement's."""
    if re.search(r"\bq\d+\b", sql):
        return False
    if not many:
        return _lifted(sql, "") is not None
    found = _PLAIN_INSERT.match(sql)  # and its VALUES nothing but parameters
    return found is not None and not _VALUE.sub("", found.group(1)).replace(", ", "")


def columns(rows: Sequence[Mapping[str, Any]], arrays: Mapping[str, tuple[str, bool]]) -> dict[str, list[Any]] | None:
    """Many rows' parameters as one list a column (a float column's ints made floats), or
    None if a column holds values of more than one type, which psycopg cannot send as one
    array (such rows run at once, one statement each, as before)."""
    made: dict[str, list[Any]] = {}
    for name, (_, floats) in arrays.items():
        column = [row[name] for row in rows]
        if floats:
            column = [v if v is None or type(v) is float else float(v) for v in column]
        kinds = {type(v) for v in column if v is not None}
        if len(kinds) > 1:
            return None
        made[name] = column
    return made


def _values(member: Member, prefix: str) -> dict[str, Any]:
    return {prefix + name: value for name, value in member.parameters.items()}


def _renamed(sql: str, prefix: str) -> str:
    return _PARAMETER.sub(lambda m: f"%({prefix}{m.group(1)})s", sql)


def _unnested(sql: str, prefix: str, arrays: Mapping[str, tuple[str, bool]] | None) -> str:
    """A plain ``INSERT ... VALUES (...)`` of one row's parameters as an insert of arrays."""
    assert arrays is not None
    found = _PLAIN_INSERT.match(sql)
    assert found is not None
    head = sql[: found.start(1) - len("VALUES (")]
    columns = ", ".join(f"%({prefix}{m.group(1)})s::{arrays[m.group(1)][0]}[]" for m in _VALUE.finditer(found.group(1)))
    return f"{head}SELECT * FROM unnest({columns})"  # noqa: S608 - compiled SQL and types, no values


def _lifted(sql: str, prefix: str) -> tuple[list[str], str] | None:
    """A statement's own ``WITH`` clauses (renamed with ``prefix``) and the rest of it; None
    if its clauses cannot be told apart."""
    if not sql.startswith("WITH "):
        return [], sql
    rest, names, clauses = sql[len("WITH ") :], [], []
    while True:
        found = _CTE.match(rest)
        if found is None:
            return None
        names.append(found.group(1))
        depth, at = 1, found.end()
        while depth and at < len(rest):  # compiled SQL has its values bound: no literal holds a bracket
            depth += {"(": 1, ")": -1}.get(rest[at], 0)
            at += 1
        if depth:
            return None
        clauses.append(rest[:at].strip())
        rest = rest[at:].lstrip()
        if not rest.startswith(","):
            break
        rest = rest[1:]

    def renamed(text: str) -> str:
        for name in names:
            text = re.sub(rf"\b{name}\b", prefix + name, text)
        return text

    return [renamed(c) for c in clauses], renamed(rest)


@dataclass(frozen=True, slots=True)
class _Combined:
    """A combined statement with PostgreSQL's own ``$n`` placeholders, and the parameters'
    names in their order. Sent through psycopg's ``RawCursor``, it is not parsed for its
    ``%(name)s`` placeholders on every send, as psycopg parses a statement of more than 50
    parameters or 4 KB (a workout's has 52), which cost about 3 % of a write's CPU."""

    sql: str
    names: tuple[str, ...]


def _combined(queued: Sequence[Member]) -> _Combined:
    key = tuple((m.sql, m.many) for m in queued)
    made = _MADE.get(key)
    if made is not None:
        return made
    clauses: list[str] = []
    members: list[str] = []
    for i, member in enumerate(queued):
        prefix = f"q{i}_"
        if member.many:
            body = _unnested(member.sql, prefix, member.arrays)
        else:
            lifted = _lifted(_renamed(member.sql, prefix), prefix)
            assert lifted is not None  # can_queue checked it
            own, body = lifted
            clauses.extend(own)
        if " RETURNING " not in body and not body.startswith("SELECT "):
            body += " RETURNING 1"
        members.append(f"q{i} AS ({body})")
    counts = ", ".join(
        f"runstrong_counted({i}, (SELECT count(*) FROM q{i}), %(e{i})s::bigint)"  # noqa: S608 - no values
        for i in range(len(queued))
    )
    made = _numbered("WITH " + ", ".join(clauses + members) + " SELECT " + counts)
    if len(_MADE) < MAX_MADE:
        _MADE[key] = made
    return made


def _numbered(sql: str) -> _Combined:
    """``sql``'s ``%(name)s`` placeholders as ``$n`` (a name used twice, the same ``$n``) and
    its escaped ``%%`` as ``%``."""
    names: list[str] = []
    numbers: dict[str, int] = {}

    def placeholder(found: re.Match[str]) -> str:
        name = found.group(1)
        if name is None:
            return "%"
        if name not in numbers:
            names.append(name)
            numbers[name] = len(names)
        return f"${numbers[name]}"

    return _Combined(_PLACEHOLDER.sub(placeholder, sql), tuple(names))


def install(engine: Engine) -> None:
    """Keep the queue's promises on ``engine``'s connections: sent before any statement and
    before a commit, dropped by a rollback and when a connection goes back to the pool."""
    _INSTALLED.add(engine.dialect)

    @event.listens_for(engine, "before_cursor_execute")
    def _before_statement(connection: Connection, *_args: Any) -> None:
        if pending(connection):
            send(connection)

    @event.listens_for(engine, "commit")
    def _before_commit(connection: Connection) -> None:
        if pending(connection):
            send(connection, alone=alone(connection))

    @event.listens_for(engine, "rollback")
    def _rolled_back(connection: Connection) -> None:
        drop(connection)

    @event.listens_for(engine, "rollback_savepoint")
    def _rolled_back_to(connection: Connection, *_args: Any) -> None:
        drop(connection)  # what is queued was queued since the savepoint: sent at its start

    @event.listens_for(engine.pool, "checkin")
    def _given_back(_dbapi_connection: Any, record: Any) -> None:
        record.info.pop(_QUEUE, None)


@event.listens_for(Session, "before_commit")
def _send_before_commit(session: Session) -> None:
    """Sent before the session commits (a savepoint's release too), where an error fails the
    commit as a failed flush does, its transaction still to be rolled back; unless it could
    go alone, which only the connection's own commit can tell (below)."""
    connection: Connection | None = session.info.pop(_ON, None)
    if connection is not None and pending(connection):
        if connection.dialect in _INSTALLED and session.get_nested_transaction() is None and alone(connection):
            # Left to the connection's own commit (the engine's "commit" listener), where it
            # is sent alone if nothing ran since. Any statement before that (the commit's
            # flush, a later before_commit listener's) sends it inside the transaction; a
            # session joined to an outer transaction leaves it to that one's commit or
            # rollback.
            return
        send(connection)
