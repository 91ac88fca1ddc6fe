"""Where a route's reads run: SQLite's on the event loop (a thread-pool hop costs more than
the read), PostgreSQL's in the thread pool (a round trip must not stall other requests)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import build_engine, read, read_long, read_on, reads_inline
from tests.conftest import make_database


def _where(session: Session) -> tuple[int, bool]:
    session.execute(text("SELECT 1"))
    return threading.get_ident(), session.in_transaction()


def test_sqlite_reads_run_on_the_loop_and_postgresql_reads_do_not(engine: Engine, backend: str) -> None:
    async def run() -> None:
        loop_thread = threading.get_ident()
        with Session(engine) as session:
            ran_on, open_inside = await read(session, _where, session)
            assert open_inside and not session.in_transaction(), "read() ends its transaction"
            continued_on, _ = await read_on(session, _where, session)
            assert session.in_transaction(), "read_on() leaves it open for the next read"
            session.rollback()
        assert reads_inline(session) is (backend == "sqlite")
        if backend == "sqlite":
            assert ran_on == continued_on == loop_thread
        else:
            assert loop_thread not in (ran_on, continued_on)

    asyncio.run(run())


def test_a_long_read_takes_the_thread_pool_on_either_database(engine: Engine) -> None:
    """``read_long`` (the reports over years of logs) leaves the loop to other requests."""

    async def run() -> None:
        loop_thread = threading.get_ident()
        with Session(engine) as session:
            ran_on, open_inside = await read_long(session, _where, session)
            assert open_inside and not session.in_transaction()
        assert ran_on != loop_thread

    asyncio.run(run())


def test_a_sqlite_read_on_the_loop_never_waits_for_a_pooled_connection(tmp_path: Path) -> None:
    """Connections held by requests in the thread pool (they give theirs back on the loop)
    never leave a read on the loop waiting for one: the loop would stall, and with it
    every request that would give one back."""
    url = f"sqlite:///{tmp_path / 'pool.db'}"
    engine = build_engine(Settings(database_url=url, db_pool_size=1))
    held = [engine.connect() for _ in range(20)]
    for conn in held:
        conn.execute(text("SELECT 1"))
    try:
        started = time.monotonic()

        async def run() -> int:
            with Session(engine) as session:
                return int(await read(session, lambda: session.execute(text("SELECT 41 + 1")).scalar_one()))

        assert asyncio.run(run()) == 42
        assert time.monotonic() - started < 1
    finally:
        for conn in held:
            conn.close()
        engine.dispose()


def test_a_failing_read_ends_its_transaction_on_either_path(engine: Engine) -> None:
    def fails(session: Session) -> None:
        session.execute(text("SELECT 1"))
        raise LookupError("not there")

    async def run() -> None:
        with Session(engine) as session:
            for reader in (read, read_on, read_long):
                with pytest.raises(LookupError):
                    await reader(session, fails, session)
                assert not session.in_transaction()

    asyncio.run(run())


def test_a_slow_postgresql_read_leaves_the_loop_serving(tmp_path: Path) -> None:
    """Other requests go on while one waits on PostgreSQL: the loop ticks throughout."""
    databases = make_database("postgresql", tmp_path)
    engine = build_engine(Settings(database_url=next(databases)))

    async def run() -> int:
        ticks = 0
        done = asyncio.Event()

        async def tick() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        with Session(engine) as session:
            await read(session, lambda: session.execute(text("SELECT pg_sleep(0.3)")))
        done.set()
        await ticker
        return ticks

    try:
        assert asyncio.run(run()) >= 10
    finally:
        engine.dispose()
        next(databases, None)  # drops the database


def test_every_request_gives_its_sessions_connection_back(settings: Settings) -> None:
    """A request's sessions are closed when it ends, whatever the route did with them:
    read and ended, left a transaction open (the credential's read continues into the
    route's, then the route's query is refused), failed, wrote, or read the catalogue."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import register
    from tests.training.test_log import BASE, workout

    engine = build_engine(settings)

    def given_back() -> bool:
        """Nothing checked out but SQLite's connections kept for reads, none in a transaction."""
        free = app.state.sessions.reads.free
        return engine.pool.checkedout() == len(free) and not any(c.in_transaction() for c in free)  # type: ignore[attr-defined]

    try:
        app = create_app(settings, engine)
        with TestClient(app) as client:
            athlete = register(client)
            assert given_back()
            requests = [
                ("POST", f"{BASE}/workouts", workout(), 201),
                ("GET", f"{BASE}/workouts?limit=20", None, 200),
                ("GET", f"{BASE}/workouts?limit=nope", None, 422),
                ("GET", f"{BASE}/workouts/00000000-0000-4000-8000-000000000000", None, 404),
                ("GET", f"{BASE}/changes?since=nope", None, 422),
                ("GET", "/v1/exercises?limit=2", None, 200),
            ]
            for method, path, body, status in requests:
                answer = client.request(method, path, json=body, headers=athlete.headers)
                assert answer.status_code == status, (path, answer.text)
                assert given_back(), path
        assert engine.pool.checkedout() == 0, "the kept connections go back at shutdown"  # type: ignore[attr-defined]
    finally:
        engine.dispose()
