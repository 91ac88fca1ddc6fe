"""Core statements run on the session's own driver connection, without SQLAlchemy's
per-statement layers.

A statement that SQLAlchemy has already compiled (its cache holds the SQL) still costs
its execution context, result set and row objects each time: 34 us of CPU for a
primary-key read on SQLite against 6 on the driver's cursor, 122 against 76 on psycopg
(benchmark machine). The hot statements (the credential's check, the training log's
reads and a workout's write, the reports, the catalogue's pages) run here instead: built
once, compiled once per driver, their values
converted by the same bind and result processors SQLAlchemy would use, on the connection
and in the transaction the session already holds. Everything else about the session
stays as it is: its transaction begins (SQLite's ``BEGIN`` as the engine sets it) and
ends (commit, rollback and their listeners) the SQLAlchemy way.

What SQLAlchemy does around a statement that matters here is kept:
- ``before_cursor_execute`` and ``after_cursor_execute`` listeners on the engine are
  called (instrumentation and the tests' watch on the event loop see these statements);
  they are given no execution context (None), and a listener's return value is not used;
- an error on the way (the driver's, a value's conversion, a listener's) goes through
  SQLAlchemy's own handling of a failed statement (``Connection._handle_dbapi_exception``,
  the one private call here; SQLAlchemy's version is pinned in uv.lock): raised as its
  errors (``IntegrityError``, ``OperationalError``...), ``handle_error`` listeners, and on
  a lost connection the pool's older connections replaced, so the error handlers and the
  pool behave as for any other statement;
- a session's savepoint (``begin_nested``) is begun before its first statement, and a
  Core connection's transaction is begun as ``Connection.execute`` begins it.

An ``IN`` list of a bound sequence (an ``expanding`` parameter) has its SQL made for each
call, as SQLAlchemy makes it. Refused when the statement is first run: an ``INSERT`` that
leaves a column with a Python-side default out, or an ``UPDATE`` with an ``onupdate`` one
(the driver would not fill them in). A call that leaves a parameter out is refused too.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement, Select
from sqlalchemy.sql.compiler import SQLCompiler

from app.core import batched, driver
from app.core.db import ConnectedReadSession, insert_of

Processor = Callable[[Any], Any]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Shape:
    sql: str
    order: tuple[str, ...] | None  # the expanded parameters' names in order (qmark)
    items: tuple[tuple[str, tuple[str, ...]], ...]  # each sequence's name and its items' names
    processors: tuple[tuple[str, Processor], ...]


MAX_SHAPES = 256  # expanded statements kept per statement (one per length of its IN list)


@dataclass(slots=True)
class Compiled:
    sql: str
    order: tuple[str, ...] | None  # the parameters' names in order (qmark); None for named
    defaults: dict[str, Any]  # the values the statement binds itself (a LIMIT, a literal)
    required: frozenset[str]  # the parameters a call must give
    binds: tuple[tuple[str, Processor], ...]  # the parameters that need converting
    columns: tuple[Any, ...]  # the result's
    row: type[tuple[Any, ...]] | None  # a named tuple of the result's columns; None: no rows
    # The result's columns that need converting (position, result processor), found at the
    # first execution: some depend on the type the driver reports for a column (psycopg's
    # numeric types), the same each time.
    results: tuple[tuple[int, Processor], ...] | None = None
    # A statement with an IN list of a bound sequence: its SQL is made for each call's
    # values, as SQLAlchemy makes it (one placeholder per item).
    expanding: SQLCompiler | None = None
    expanding_names: tuple[str, ...] = ()  # the bound sequences' names
    # The expanded statement by the sequences' lengths, as SQLAlchemy made it the first time
    # (the SQL and the items' names depend on nothing else): see Direct._expanded.
    shapes: dict[tuple[int, ...], _Shape] = field(default_factory=dict)
    shaped: bool = True  # whether shapes are kept
    # A plain SELECT (no FOR UPDATE) for PostgreSQL: on a read session with no transaction
    # open it may run as one of its own (see _alone).
    alone: bool = False
    # Whether ``Direct.later`` may queue it (app.core.batched), and for one given many rows
    # each parameter's SQL type and whether its values are floats.
    queues: bool = False
    arrays: dict[str, tuple[str, bool]] | None = None

    def check(self, values: Mapping[str, Any]) -> None:
        if not self.required <= values.keys():  # SQLAlchemy refuses it too (it would bind NULL)
            raise TypeError(f"no value for {sorted(self.required - values.keys())}")

    def parameters(self, values: Mapping[str, Any]) -> Any:
        """The driver's parameters for ``values`` (the statement's own values added, each
        converted): a list in order for a positional driver, else a dict."""
        self.check(values)
        return _driver_values({**self.defaults, **values}, self.binds, self.order)

    def processors(self, dialect: Dialect, description: Sequence[Any]) -> tuple[tuple[int, Processor], ...]:
        if self.results is None:
            made = (
                c.type.dialect_impl(dialect).result_processor(dialect, d[1])
                for c, d in zip(self.columns, description, strict=True)
            )
            self.results = tuple((i, p) for i, p in enumerate(made) if p is not None)
        return self.results


def compile_for(statement: ClauseElement, dialect: Dialect) -> Compiled:
    """``statement`` as ``dialect``'s driver runs it: its SQL, how its values are given, and
    its rows' converters (also for a caller with a driver connection of its own, such as
    the rate limit's count on the event loop)."""
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    # Each parameter by the name it is rendered and given values under (an anonymous one,
    # such as a literal, is keyed otherwise in ``compiled.binds``).
    binds = {compiled.bind_names[bind]: bind for bind in compiled.binds.values()}
    prefetch = [c.name for c in (*compiled.insert_prefetch, *compiled.update_prefetch)]
    if prefetch:  # SQLAlchemy would compute these columns' values in Python before running it
        raise TypeError(f"a direct statement must give every column with a Python default: {prefetch}")
    processors = []
    for name, bind in binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors.append((name, processor))
    columns = list(getattr(statement, "exported_columns", ()))
    row = namedtuple("Row", [c.key for c in columns], rename=True) if columns else None
    positional = compiled.positiontup
    sql = str(compiled)
    # A statement on PostgreSQL with no IN list may be queued (``Direct.later``): a write,
    # or a read whose rows are only counted (not one that locks them).
    locks = isinstance(statement, Select) and statement._for_update_arg is not None
    queues = dialect.name == "postgresql" and not locks and not compiled.literal_execute_params
    queues = queues and not any(b.expanding for b in binds.values())
    return Compiled(
        sql=sql,
        order=tuple(positional) if dialect.positional and positional is not None else None,
        defaults=dict(compiled.construct_params(_check=False)),
        required=frozenset(name for name, bind in binds.items() if bind.required),
        binds=tuple(processors),
        columns=tuple(columns),
        row=row,
        expanding=compiled if any(b.expanding for b in binds.values()) else None,
        expanding_names=tuple(name for name, bind in binds.items() if bind.expanding),
        # A value rendered into the SQL (``literal_execute``) makes the SQL depend on it.
        shaped=not compiled.literal_execute_params,
        alone=dialect.name == "postgresql"
        and isinstance(statement, Select)
        and statement._for_update_arg is None,  # no public test of FOR UPDATE
        queues=queues and batched.can_queue(sql, many=False),
        arrays=_arrays(binds, dialect) if queues and batched.can_queue(sql, many=True) else None,
    )


def _arrays(binds: Mapping[str, Any], dialect: Dialect) -> dict[str, tuple[str, bool]]:
    """Each parameter's SQL type, and whether its values are floats: an INSERT's rows as
    arrays (``app.core.batched``)."""
    arrays = {}
    for name, bind in binds.items():
        try:
            floats = bind.type.python_type is float
        except NotImplementedError:
            floats = False
        # The type without its length or precision: an explicit cast to VARCHAR(5)[] would
        # cut a longer value short, where the column's own assignment refuses it.
        arrays[name] = (re.sub(r"\(.*\)", "", bind.type.compile(dialect=dialect)).strip(), floats)
    return arrays


class Direct:
    """``statement`` run on the session's driver connection: see the module's notes. For a
    statement that differs by dialect (an upsert), ``build(insert)`` makes it with ``insert``
    of the dialect (:func:`app.core.db.insert_of`), once per driver.

    Building a statement and deriving its cache key cost SQLAlchemy 50-150 us each time (an
    upsert with a conflict clause the most), more than running it: build it once, at import."""

    def __init__(self, statement: ClauseElement | Callable[[Any], ClauseElement]) -> None:
        self._statement = statement
        self._made: dict[tuple[type[Dialect], str], Compiled] = {}

    def _for(self, dialect: Dialect) -> Compiled:
        key = (type(dialect), dialect.paramstyle)  # the SQL and converters are the driver's
        made = self._made.get(key)
        if made is None:
            statement = self._statement
            if not isinstance(statement, ClauseElement):
                statement = statement(insert_of(dialect.name))
            made = self._made[key] = compile_for(statement, dialect)
        return made

    def _expanded(self, made: Compiled, values: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL and the driver's parameters of a statement with an IN list, for ``values``.
        SQLAlchemy's ``construct_expanded_state`` renders the SQL again on every call (about 7 %
        of an uncached catalogue page's CPU in a py-spy profile); the SQL and the items' names
        depend only on each list's length, so they are kept by it, and each call then only
        puts the values in place and converts them."""
        assert made.expanding is not None
        made.check(values)
        lengths = tuple(len(values[name]) for name in made.expanding_names)
        shape = made.shapes.get(lengths)
        if shape is None:
            return self._expanded_first(made, values, lengths)
        merged = {**made.defaults, **values}
        for name, names in shape.items:
            merged.update(zip(names, merged.pop(name), strict=True))
        return shape.sql, _driver_values(merged, shape.processors, shape.order)

    def _expanded_first(self, made: Compiled, values: Mapping[str, Any], lengths: tuple[int, ...]) -> tuple[str, Any]:
        """SQLAlchemy's expansion, its shape kept for the next call with these lengths when
        each item is one parameter (a list of tuples, one per item's element, is not kept)."""
        assert made.expanding is not None
        state = made.expanding.construct_expanded_state(values)
        expansion = state.parameter_expansion
        merged = dict(state.parameters)
        # The list's items by the expanded state's converters, the other parameters by the
        # statement's own (the state's hold only the items').
        processors = {**dict(made.binds), **state.processors}
        converting = tuple((n, p) for n, p in processors.items() if n in merged)
        order = None if made.order is None or state.positiontup is None else tuple(state.positiontup)
        items = tuple((name, tuple(expansion.get(name, ()))) for name in made.expanding_names)
        one_each = all(len(n) == k for (_, n), k in zip(items, lengths, strict=True))
        if made.shaped and one_each and len(made.shapes) < MAX_SHAPES:
            made.shapes[lengths] = _Shape(sql=state.statement, order=order, items=items, processors=converting)
        return state.statement, _driver_values(merged, converting, order)

    def _run(
        self,
        session: Session | Connection,
        values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        fetch: Callable[[Compiled, Any, Dialect], T],
    ) -> T:
        """The statement executed, then ``fetch(compiled, cursor, dialect)``; any error on
        the way goes through SQLAlchemy's own handling for a failed statement (wrapped as
        its errors, the cursor closed, ``handle_error`` listeners, and on a lost connection
        the pool's older connections replaced too)."""
        if isinstance(session, ConnectedReadSession):
            connection = session.kept_connection()
            made = self._for(connection.dialect)
            alone = made.alone and _alone(connection)
            if not alone:
                _begun(connection)
        elif isinstance(session, Session):
            connection = _connection(session)
            if batched.pending(connection):  # before it decides whether the driver is idle
                batched.send(connection)
            made = self._for(connection.dialect)
            # A plain SELECT before the session's first write is a transaction of its own
            # too; the driver begins the session's transaction with its next statement.
            # It ends with its statement, and so do the locks it takes (a table's ACCESS
            # SHARE lock, which an ALTER TABLE waits for): a write session's first reads
            # (a write's credential check) hold nothing through the write.
            alone = made.alone and driver.idle(connection)
        else:
            connection = _begun(session)
            made = self._for(connection.dialect)
            alone = False
        if alone:
            with driver.autocommit(connection):
                return self._on(connection, made, values, fetch)
        return self._on(connection, made, values, fetch)

    def _driver_call(self, made: Compiled, values: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> tuple[str, Any]:
        """The SQL and the driver's parameters for ``values`` (a list of them, one per
        mapping, for a sequence of mappings: executemany)."""
        if made.expanding is not None:
            if not isinstance(values, Mapping):
                raise TypeError("a statement with an IN list runs once a call")
            return self._expanded(made, values)
        if isinstance(values, Mapping):
            return made.sql, made.parameters(values)
        return made.sql, [made.parameters(v) for v in values]

    def _on(
        self,
        connection: Connection,
        made: Compiled,
        values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        fetch: Callable[[Compiled, Any, Dialect], T],
    ) -> T:
        many = not isinstance(values, Mapping)
        sql, parameters = made.sql, None
        try:
            sql, parameters = self._driver_call(made, values)
        except BaseException as failed:  # a value's conversion: as SQLAlchemy reports it
            connection._handle_dbapi_exception(failed, sql, parameters, None, None)
        dialect = connection.dialect
        return driver.executed(connection, sql, parameters, many, lambda cursor: fetch(made, cursor, dialect))

    def rows(self, session: Session | Connection, values: Mapping[str, Any] | None = None) -> list[Any]:
        """Every row the statement returns, as named tuples of its columns' values."""
        return self._run(session, values or {}, _rows)

    def dicts(self, session: Session | Connection, values: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every row the statement returns, as a dict by column name (for a caller that makes
        dicts of the rows anyway: no named tuple made and unpacked in between)."""
        return self._run(session, values or {}, _dicts)

    def first(self, session: Session | Connection, values: Mapping[str, Any] | None = None) -> Any | None:
        """The first row, or None."""
        found = self.rows(session, values)
        return found[0] if found else None

    def run(self, session: Session | Connection, values: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> int:
        """A statement that returns no rows, once or (given a sequence) for each of ``values``:
        the number of rows it changed, as the driver counts them."""
        return self._run(session, values, _rowcount)

    def queues(self, session: Session) -> bool:
        """Whether ``later`` queues this statement on ``session`` (PostgreSQL's write sessions)
        rather than running it at once."""
        return self._queued_on(session, many=False) is not None

    def _queued_on(self, session: Session, *, many: bool) -> tuple[Connection, Compiled] | None:
        """The connection and compiled statement ``later`` queues on, or None to run it now."""
        if isinstance(session, ConnectedReadSession):
            return None
        connection = _connection(session)
        made = self._for(connection.dialect)
        return (connection, made) if (made.arrays is not None if many else made.queues) else None

    def later(
        self,
        session: Session,
        values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        expect: int | None = None,
        lost: Callable[[], Exception] | None = None,
    ) -> None:
        """A write whose result the caller does not read, once or (given a sequence) for each
        of ``values``, that must change ``expect`` rows (one for each of ``values`` unless
        given), else ``lost()`` is raised (``batched.LostWrite`` unless given); or a read
        whose rows the caller only counts (a check that they are there). On
        PostgreSQL it is queued on the session's connection and sent with what else is
        queued, before the connection's next statement or commit (``app.core.batched``);
        elsewhere it runs now, as do many rows with a column of values of more than one
        type (not one array)."""
        many = not isinstance(values, Mapping)
        wanted = (len(values) if many else 1) if expect is None else expect
        queued_on = self._queued_on(session, many=many)
        parameters = None
        if queued_on is not None:
            connection, made = queued_on
            sql, parameters = self._driver_call(made, values)
            if many:
                assert made.arrays is not None
                parameters = batched.columns(parameters, made.arrays)
        if parameters is None:
            batched.counted(self._run(session, values, _changed_or_found), wanted, lost)
            return
        batched.queue(session, connection, batched.Member(sql, parameters, many, wanted, lost, made.arrays))


def _driver_values(
    merged: dict[str, Any], processors: Sequence[tuple[str, Processor]], order: Sequence[str] | None
) -> Any:
    """``merged`` (every parameter's value by name) as the driver takes it: the parameters
    that need it converted, then a list in ``order`` for a positional driver, else the dict."""
    for name, processor in processors:
        merged[name] = processor(merged[name])
    return merged if order is None else [merged[name] for name in order]


def _values(made: Compiled, cursor: Any, dialect: Dialect) -> Sequence[Sequence[Any]]:
    """The result's rows, each column's values converted by its result processor."""
    fetched: list[tuple[Any, ...]] = cursor.fetchall()  # SQLite steps through the rows here: its errors too
    assert made.row is not None, "the statement returns no rows"
    converted = made.processors(dialect, cursor.description)
    if not converted:
        return fetched
    # Column by column: most columns need no converting (a set's row has 2 of 12 that do),
    # and a loop over the rows for each converter costs less than a test of every value.
    rows = [list(r) for r in fetched]
    for i, processor in converted:
        for row in rows:
            row[i] = processor(row[i])
    return rows


def _rows(made: Compiled, cursor: Any, dialect: Dialect) -> list[Any]:
    make = made.row._make  # type: ignore[union-attr]
    return [make(r) for r in _values(made, cursor, dialect)]


def _dicts(made: Compiled, cursor: Any, dialect: Dialect) -> list[dict[str, Any]]:
    names = made.row._fields  # type: ignore[union-attr]
    return [dict(zip(names, r, strict=True)) for r in _values(made, cursor, dialect)]


def _rowcount(_made: Compiled, cursor: Any, _dialect: Dialect) -> int:
    return int(cursor.rowcount)


def _changed_or_found(_made: Compiled, cursor: Any, _dialect: Dialect) -> int:
    """The rows a statement changed, or those it returned (a read's: SQLite counts none)."""
    return len(cursor.fetchall()) if cursor.description is not None else int(cursor.rowcount)


_CONNECTION = "runstrong.direct_connection"


def _connection(session: Session) -> Connection:
    """The session's connection (its transaction begun if it had none). ``Session.connection``
    walks the session's transaction states each time (about 12 us); a transaction holds one
    connection from its start to its end, so it is kept with the transaction it belongs to.
    A savepoint (``begin_nested``) is begun on its first statement, by ``Session.connection``:
    the innermost one is part of the key."""
    if isinstance(session, ConnectedReadSession):  # its connection is its transaction's, whoever began it
        return _begun(session.kept_connection())
    current = (session.get_transaction(), session.get_nested_transaction())
    kept = session.info.get(_CONNECTION)
    if (
        current[0] is not None
        and current[0].is_active
        and (current[1] is None or current[1].is_active)
        and kept is not None
        and kept[0] == current
    ):
        return cast(Connection, kept[1])
    # Otherwise SQLAlchemy's own way, which refuses a transaction that must be rolled back
    # first (after a failed flush), as it would for any statement.
    connection = session.connection()
    session.info[_CONNECTION] = ((session.get_transaction(), session.get_nested_transaction()), connection)
    return connection


def _alone(connection: Connection) -> bool:
    """Whether a read session's plain SELECT on PostgreSQL can run as a transaction of its
    own, saving the round trips of its ``BEGIN`` and ``ROLLBACK`` (two of a one-record
    read's four): when the session has no transaction open (it has written nothing) and
    the server's isolation is READ COMMITTED, in which every statement of a transaction
    takes a snapshot of its own anyway, so the rows read are the same."""
    return not connection.in_transaction() and driver.idle(connection)


def _begun(connection: Connection) -> Connection:
    """A Core connection's transaction begun, as ``Connection.execute`` begins it."""
    if not connection.in_transaction():
        connection.begin()
    transaction = connection.get_nested_transaction() or connection.get_transaction()
    if transaction is None or not transaction.is_active:
        raise PendingRollbackError("This connection's transaction is inactive: roll it back first.")
    return connection
