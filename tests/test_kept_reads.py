"""SQLite's read sessions run on connections the app keeps between requests: each request
still reads a snapshot of its own, begun at its first read and ended with it, and nothing
of one request's transaction or failure reaches the next."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.exc import InvalidRequestError, OperationalError, ProgrammingError
from sqlmodel import Session, select

from app.accounts.models import User
from app.core.config import Settings
from app.core.db import ConnectedReadSession, KeptConnections, build_engine, read, read_on
from app.core.direct import Direct
from app.core.observability import instrument_engine
from app.main import create_app
from tests.conftest import make_database, migrate, own_database, register
from tests.training.test_log import BASE, workout

COUNT_USERS = Direct(select(User.id))


@pytest.fixture
def engine(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database of this test's own (it commits rows of its own)."""
    databases = make_database(backend, tmp_path)
    url = next(databases)
    migrate(url)
    engine = build_engine(Settings(database_url=url))
    try:
        yield engine
    finally:
        engine.dispose()
        next(databases, None)  # drops a PostgreSQL database


def _keep(engine: Engine, keep: int) -> KeptConnections:
    """The read connections as the app makes them: kept on SQLite, pooled on PostgreSQL."""
    return KeptConnections(engine, keep if engine.dialect.name == "sqlite" else 0)


def _add_user(engine: Engine, email: str) -> None:
    """A row committed on another connection, as another request's write would be."""
    with Session(engine) as session:
        session.add(User(email=email, password_hash="x", display_name="Late"))
        session.commit()


def _users(session: Session) -> int:
    return len(COUNT_USERS.rows(session))


def _checked_out(engine: Engine) -> int:
    return int(engine.pool.checkedout())  # type: ignore[attr-defined]


def test_a_transaction_reads_one_snapshot_and_the_next_a_fresh_one(engine: Engine) -> None:
    reads = _keep(engine, 2)
    session = ConnectedReadSession(reads)
    before = _users(session)  # the direct statement begins the transaction
    connection = session.kept_connection()
    began = connection.exec_driver_sql("SELECT CURRENT_TIMESTAMP").scalar()
    _add_user(engine, "late@example.com")
    if engine.dialect.name == "sqlite":  # a snapshot per transaction (PostgreSQL's reads are READ COMMITTED)
        assert _users(session) == before, "a direct read in the same transaction sees the same snapshot"
        assert len(session.exec(select(User)).all()) == before, "an ORM query joins the transaction"
    else:  # the transaction's start time, the same for every statement in it
        time.sleep(0.01)
        assert session.execute(text("SELECT CURRENT_TIMESTAMP")).scalar() == began, "the ORM joins the transaction"
    session.rollback()  # the end of the route's read
    assert not connection.in_transaction()
    assert _users(session) == before + 1, "the session's next transaction reads what was committed since"
    session.close()
    assert _checked_out(engine) == len(reads.free)

    following = ConnectedReadSession(reads)
    kept = following.kept_connection() is connection
    assert kept is (engine.dialect.name == "sqlite"), "SQLite's connection is kept for the next request"
    following.close()
    reads.close()
    assert _checked_out(engine) == 0


def test_rollback_and_commit_end_the_transaction_whoever_began_it(engine: Engine) -> None:
    reads = _keep(engine, 1)
    session = ConnectedReadSession(reads)
    _users(session)  # begun by a direct statement (on PostgreSQL a lone read is its own)
    assert session.in_transaction() is (engine.dialect.name == "sqlite")
    session.exec(select(User)).all()
    assert session.in_transaction()
    session.rollback()
    assert not session.in_transaction()
    session.exec(select(User)).all()  # begun by the ORM
    _users(session)
    session.rollback()
    assert not session.in_transaction()
    _users(session)
    session.commit()  # a read session's commit (a personal token's last use) commits
    assert not session.in_transaction()
    session.add(User(email="kept@example.com", password_hash="x", display_name="Kept"))
    session.commit()
    session.close()
    with Session(engine) as other:
        assert other.exec(select(User).where(User.email == "kept@example.com")).first() is not None
    reads.close()
    assert _checked_out(engine) == 0


COUNT_USERS_LOCKED = Direct(select(User.id).with_for_update())


def test_a_write_sessions_plain_select_before_its_first_write_is_a_transaction_of_its_own(engine: Engine) -> None:
    """On PostgreSQL at READ COMMITTED, as on a read session: no lock of it is held into
    the write that follows; the write then begins the driver's transaction. On a
    connection given a stricter isolation level of its own it runs in the transaction, so
    the transaction's one snapshot covers it. On SQLite (a snapshot per transaction) it
    runs in the session's transaction."""
    if engine.dialect.name == "sqlite":
        with Session(engine) as session:
            _users(session)
            raw = session.connection().connection.dbapi_connection
            assert raw.in_transaction, "SQLite's read is in the write session's transaction"  # type: ignore[union-attr]
            session.rollback()
        return
    with Session(engine) as session:
        before = _users(session)
        raw = session.connection().connection.dbapi_connection
        assert raw.info.transaction_status == 0 and not raw.autocommit  # type: ignore[union-attr]
        session.add(User(email="written@example.com", password_hash="x", display_name="Written"))
        session.flush()
        assert raw.info.transaction_status == 2, "the write began the driver's transaction"  # type: ignore[union-attr]
        assert _users(session) == before + 1
        session.rollback()
    with Session(engine) as session:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        _users(session)
        raw = session.connection().connection.dbapi_connection
        assert raw.info.transaction_status == 2, "in the transaction"  # type: ignore[union-attr]
        _add_user(engine, "late-repeatable@example.com")
        assert _users(session) == before, "one snapshot for the whole transaction"
        session.rollback()


def test_a_lone_read_on_postgresql_is_a_transaction_of_its_own(engine: Engine) -> None:
    """No BEGIN and no ROLLBACK for a read session's plain SELECT on PostgreSQL (READ
    COMMITTED: the same rows as in a transaction); once the session has written, or for a
    SELECT ... FOR UPDATE, the statement runs in the transaction and sees its writes."""
    postgresql = engine.dialect.name == "postgresql"
    begun: list[object] = []
    record = begun.append
    event.listen(engine, "begin", record)
    session = ConnectedReadSession(_keep(engine, 1))
    before = _users(session)
    raw = session.kept_connection().connection.dbapi_connection
    assert (begun == []) is postgresql, "SQLAlchemy begins no transaction for it on PostgreSQL"
    if postgresql:  # nor does the driver, and it is out of autocommit for what comes next
        assert raw.info.transaction_status == 0 and not raw.autocommit  # type: ignore[union-attr]
    session.add(User(email="unsaved@example.com", password_hash="x", display_name="Unsaved"))
    session.flush()
    assert _users(session) == before + 1, "after a write, a read runs in the transaction and sees it"
    session.rollback()
    assert _users(session) == before
    session.rollback()

    begun.clear()
    assert len(COUNT_USERS_LOCKED.rows(session)) == before
    assert begun and session.in_transaction(), "SELECT ... FOR UPDATE runs in a transaction: its locks hold"
    session.close()
    event.remove(engine, "begin", record)


def test_the_connection_is_held_only_while_a_transaction_is_open(engine: Engine) -> None:
    reads = _keep(engine, 0)  # not kept: every connection goes back to the pool
    session = ConnectedReadSession(reads)
    assert _checked_out(engine) == 0, "taken at the first statement, not before"
    _users(session)
    assert _checked_out(engine) == 1
    session.rollback()
    assert _checked_out(engine) == 0, "given back when the transaction ends"
    session.close()


def test_the_route_helpers_end_or_keep_the_transaction_as_on_a_pooled_session(engine: Engine) -> None:
    reads = _keep(engine, 1)
    session = ConnectedReadSession(reads)

    async def run() -> None:
        await read_on(session, _users, session)
        held = session.bind
        # On SQLite a transaction; on PostgreSQL a lone read was one of its own, and the
        # connection stays the session's either way.
        assert session.in_transaction() is (engine.dialect.name == "sqlite"), "read_on leaves it open"
        assert held is not None and _checked_out(engine) == 1
        await read(session, _users, session)
        assert session.bind is None and not session.in_transaction(), "read ends it"

        def fails(s: Session) -> None:
            _users(s)
            raise LookupError

        for reader in (read, read_on):
            with pytest.raises(LookupError):
                await reader(session, fails, session)
            assert not session.in_transaction()

    asyncio.run(run())
    session.close()
    reads.close()
    assert _checked_out(engine) == 0


def test_a_closed_session_cannot_reach_a_connection_again(engine: Engine) -> None:
    reads = _keep(engine, 1)
    session = ConnectedReadSession(reads)
    _users(session)
    session.close()
    other = ConnectedReadSession(reads)
    other.kept_connection()
    with pytest.raises(InvalidRequestError):
        _users(session)
    with pytest.raises(InvalidRequestError):
        session.exec(select(User)).all()
    assert not other.in_transaction(), "the late use began nothing on the next request's connection"
    other.close()
    reads.close()
    assert _checked_out(engine) == 0


def test_closing_forgets_what_the_orm_loaded_and_added(engine: Engine) -> None:
    _add_user(engine, "loaded@example.com")
    reads = _keep(engine, 1)
    session = ConnectedReadSession(reads)
    loaded = session.exec(select(User)).one()
    session.rollback()  # the transaction ended, the object still in the identity map
    added = User(email="added@example.com", password_hash="x", display_name="Added")
    session.add(added)
    session.close()
    assert inspect(loaded).detached and inspect(added).transient
    reads.close()
    assert _checked_out(engine) == 0


def test_a_broken_connection_is_not_handed_to_the_next_request(engine: Engine) -> None:
    reads = _keep(engine, 2)
    session = ConnectedReadSession(reads)
    _users(session)
    broken = session.kept_connection()
    driver = broken.connection.dbapi_connection
    assert driver is not None
    driver.close()  # the driver's connection is gone mid-transaction: its rollback fails
    session.close()
    assert reads.free == []
    fresh = ConnectedReadSession(reads)
    assert fresh.kept_connection() is not broken
    assert _users(fresh) >= 0
    fresh.close()
    reads.close()
    assert _checked_out(engine) == 0


def test_no_more_than_keep_connections_are_kept(engine: Engine) -> None:
    reads = _keep(engine, 2)
    sessions = [ConnectedReadSession(reads) for _ in range(5)]
    for session in sessions:
        _users(session)
    assert _checked_out(engine) == 5
    for session in sessions:
        session.close()
    assert _checked_out(engine) == len(reads.free) == (2 if engine.dialect.name == "sqlite" else 0)
    reads.close()
    assert _checked_out(engine) == 0


def test_a_failed_statement_leaves_the_next_request_a_clean_connection(engine: Engine) -> None:
    reads = _keep(engine, 1)
    session = ConnectedReadSession(reads)
    with pytest.raises(ProgrammingError if engine.dialect.name == "postgresql" else OperationalError):
        session.execute(text("SELECT * FROM no_such_table"))
    session.close()
    after = ConnectedReadSession(reads)
    assert _users(after) >= 0  # PostgreSQL would refuse it in the failed transaction
    after.close()
    reads.close()


def test_requests_through_the_app_see_each_others_writes(backend: str, tmp_path: Path) -> None:
    """A client's write is in the next read, and the app's read connections are all back in
    the pool once it stops."""
    with own_database(backend, tmp_path) as (settings, engine):
        app = create_app(settings, engine)
        with TestClient(app) as client:
            athlete = register(client)
            listed = []
            for _ in range(3):
                assert client.post(f"{BASE}/workouts", json=workout(), headers=athlete.headers).status_code == 201
                page = client.get(f"{BASE}/workouts?limit=20", headers=athlete.headers)
                listed.append(len(page.json()["items"]))
            assert listed == [1, 2, 3]
            assert _checked_out(engine) == len(app.state.sessions.reads.free)
        assert _checked_out(engine) == 0


def test_a_connection_given_back_after_shutdown_goes_to_the_pool(engine: Engine) -> None:
    """A request that ends after the app's shutdown gave its kept connections back."""
    reads = _keep(engine, 2)
    late = ConnectedReadSession(reads)
    _users(late)
    reads.close()
    late.close()
    assert reads.free == [] and _checked_out(engine) == 0


def test_kept_connections_count_as_open_not_in_use(engine: Engine) -> None:
    """runstrong_db_connections_in_use counts what requests hold, not what waits for them."""
    instrument_engine(engine)
    reads = _keep(engine, 2)
    sessions = [ConnectedReadSession(reads) for _ in range(2)]
    for session in sessions:
        _users(session)
    assert REGISTRY.get_sample_value("runstrong_db_connections_in_use") == 2
    for session in sessions:
        session.close()
    assert REGISTRY.get_sample_value("runstrong_db_connections_in_use") == 0
    assert REGISTRY.get_sample_value("runstrong_db_connections_open") == 2
    reads.close()


def test_a_connection_the_driver_holds_a_transaction_on_is_not_kept(tmp_path: Path) -> None:
    """SQLAlchemy sees no transaction, the driver has one (begun behind its back): the
    connection goes to the pool, which rolls it back, instead of to the next request.
    SQLite's only: PostgreSQL's connections are never kept."""
    url = f"sqlite:///{tmp_path / 'kept.db'}"
    migrate(url)
    engine = build_engine(Settings(database_url=url))
    reads = _keep(engine, 2)
    session = ConnectedReadSession(reads)
    connection = session.kept_connection()
    driver = connection.connection.dbapi_connection
    assert driver is not None
    driver.execute("BEGIN")
    session.close()
    assert reads.free == [] and _checked_out(engine) == 0
    assert not driver.in_transaction, "the pool rolled it back"
    engine.dispose()
