"""Work queued with ``run_last`` runs once, as the last statements of the transaction it
was queued in, just before that transaction commits; never in a transaction of its own
or a later one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlmodel import Session

from app.core.last import run_last
from tests.conftest import make_database


@pytest.fixture(scope="module")
def engine(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database of this module's own with one table, ``mark``."""
    databases = make_database(backend, tmp_path_factory.mktemp("last"))
    engine = create_engine(next(databases))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE mark (name VARCHAR(20) NOT NULL)"))
    try:
        yield engine
    finally:
        engine.dispose()
        next(databases, None)


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """Each statement the engine runs (its first word and, for an insert, the mark), and each
    COMMIT and ROLLBACK, in order; the table emptied first."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM mark"))
    seen: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> None:
        word = sql.split()[0]
        if word == "INSERT":
            word += " " + (parameters["n"] if isinstance(parameters, dict) else parameters[0])
        seen.append(word)

    def ended(kind: str) -> Any:
        return lambda _conn: seen.append(kind)

    commit, rollback = ended("COMMIT"), ended("ROLLBACK")
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    event.listen(engine, "rollback", rollback)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
        event.remove(engine, "rollback", rollback)


def _mark(session: Session, name: str) -> None:
    session.execute(text("INSERT INTO mark (name) VALUES (:n)"), {"n": name})


def _marks(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(text("SELECT name FROM mark")).scalars())


def test_queued_work_runs_after_everything_else_just_before_the_commit(engine: Engine, statements: list[str]) -> None:
    with Session(engine) as session:
        _mark(session, "first")
        run_last(session, lambda s: _mark(s, "last"))
        run_last(session, lambda s: _mark(s, "very last"))
        _mark(session, "second")
        assert statements == ["INSERT first", "INSERT second"], "nothing queued has run yet"
        session.commit()
    assert statements == ["INSERT first", "INSERT second", "INSERT last", "INSERT very last", "COMMIT"]
    assert _marks(engine) == ["first", "last", "second", "very last"]


def test_work_queued_before_a_rollback_never_runs(engine: Engine, statements: list[str]) -> None:
    with Session(engine) as session:
        _mark(session, "undone")
        run_last(session, lambda s: _mark(s, "queued"))
        session.rollback()
        _mark(session, "next")  # a new transaction in the same session
        session.commit()
    assert "INSERT queued" not in statements
    assert _marks(engine) == ["next"]


def test_a_savepoint_released_does_not_run_the_work_the_commit_does(engine: Engine, statements: list[str]) -> None:
    with Session(engine) as session:
        _mark(session, "outer")
        run_last(session, lambda s: _mark(s, "queued"))
        with session.begin_nested():
            _mark(session, "inner")
        assert "INSERT queued" not in statements, "a savepoint's release is not the transaction's end"
        session.commit()
    assert statements.count("INSERT queued") == 1
    assert statements.index("INSERT queued") == len(statements) - 2  # then COMMIT
    assert _marks(engine) == ["inner", "outer", "queued"]


def test_work_that_fails_fails_the_commit_and_nothing_is_stored(engine: Engine, statements: list[str]) -> None:
    def fails(session: Session) -> None:
        _mark(session, "late")
        raise RuntimeError("refused")

    with Session(engine) as session:
        _mark(session, "written")
        run_last(session, fails)
        with pytest.raises(RuntimeError, match="refused"):
            session.commit()
        session.rollback()
    assert "COMMIT" not in statements
    assert _marks(engine) == []


def test_work_queued_with_nothing_begun_begins_the_transaction(engine: Engine, statements: list[str]) -> None:
    with Session(engine) as session:
        run_last(session, lambda s: _mark(s, "alone"))
        assert session.in_transaction()
        session.commit()
    assert statements == ["INSERT alone", "COMMIT"]
    assert _marks(engine) == ["alone"]


def test_work_queued_in_a_savepoint_rolled_back_is_dropped_with_it(engine: Engine, statements: list[str]) -> None:
    with Session(engine) as session:
        _mark(session, "outer")
        run_last(session, lambda s: _mark(s, "outer's"))
        savepoint = session.begin_nested()
        _mark(session, "record")
        run_last(session, lambda s: _mark(s, "record's"))
        inner = session.begin_nested()
        run_last(session, lambda s: _mark(s, "inner's"))
        inner.commit()
        savepoint.rollback()  # the record is undone, and what was queued with it
        session.commit()
    assert "INSERT record's" not in statements and "INSERT inner's" not in statements
    assert _marks(engine) == ["outer", "outer's"]
