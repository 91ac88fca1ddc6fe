"""SQLite runs in WAL mode with foreign keys on, and writers queue instead of failing."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import JSON, Column, Integer, MetaData, Table, event, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from app.catalogue import models as m
from app.core import ratelimit
from app.core.config import Settings
from app.core.db import NotNow, SqliteWriteNow, WriteLockBusy, build_engine, write_connection, write_session
from app.main import create_app
from tests.conftest import TEST_SECRET, migrate


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'locks.db'}"
    migrate(url)
    return url


def test_pragmas(sqlite_url: str) -> None:
    engine = build_engine(Settings(database_url=sqlite_url))
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
    engine.dispose()


def test_foreign_keys_are_enforced(sqlite_url: str) -> None:
    engine = build_engine(Settings(database_url=sqlite_url))
    with write_session(engine) as session:
        session.add(m.ExerciseEquipment(exercise_slug="ghost", equipment_slug="nothing"))
        with pytest.raises(IntegrityError):
            session.commit()
    engine.dispose()


def test_concurrent_read_then_write_transactions_all_commit(sqlite_url: str) -> None:
    """Each writer reads, waits, then writes: with deferred BEGIN the second writer's lock
    upgrade fails at once with "database is locked"; BEGIN IMMEDIATE makes it wait."""
    engine = build_engine(Settings(database_url=sqlite_url))
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with write_session(engine) as session:
                count = len(session.exec(text("SELECT key FROM catalogue_meta")).all())  # type: ignore[call-overload]
                time.sleep(0.05)
                session.add(m.CatalogueMeta(key=f"writer-{n}", value=str(count)))
                session.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        values = sorted(int(v) for v in conn.execute(text("SELECT value FROM catalogue_meta")).scalars())
    assert values == list(range(8)), "every writer saw all earlier commits: writes were serialised"
    engine.dispose()


def test_the_writer_lock_is_given_back_only_once_sqlite_has_ended_the_transaction(sqlite_url: str) -> None:
    """Whenever this process's writer lock is free, SQLite's write lock is free too: a
    commit or rollback ends the driver's transaction before the lock is given back, so the
    next writer (or the event loop's count) never meets SQLite's lock still held and
    sleeps in its busy handler."""
    engine = build_engine(Settings(database_url=sqlite_url))
    count_connection = SqliteWriteNow(engine)  # as the edge's count sees the lock
    seen: list[tuple[str, bool, bool]] = []

    def lock_free() -> bool:
        try:
            count_connection.execute("SELECT 1", [])
        except WriteLockBusy:
            return False
        return True

    def after_ours(end: str) -> Callable[[Any], None]:
        def check(conn: Any) -> None:  # registered after build_engine's own listeners, so runs after them
            seen.append((end, lock_free(), conn.connection.dbapi_connection.in_transaction))

        return check

    event.listen(engine, "commit", after_ours("commit"))
    event.listen(engine, "rollback", after_ours("rollback"))
    count_connection.open()
    try:
        for end in ("commit", "rollback"):
            with write_connection(engine) as conn:
                conn.execute(text("INSERT INTO catalogue_meta (key, value) VALUES (:k, 'x')"), {"k": end})
                getattr(conn, end)()
        assert seen == [
            ("commit", True, False),
            ("rollback", True, False),
        ]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT key FROM catalogue_meta WHERE key IN ('commit', 'rollback')")).all() == [
                ("commit",)
            ]
    finally:
        count_connection.close()
        engine.dispose()


class _FullDisk(sqlite3.Connection):
    """SQLite's driver connection, whose next commit fails as on a full disk once ``full``
    is set: SQLite rolls the transaction back itself, then the driver raises."""

    full = False

    def commit(self) -> None:
        if type(self).full and self.in_transaction:
            type(self).full = False
            self.execute("ROLLBACK")
            full = sqlite3.OperationalError("database or disk is full")
            full.sqlite_errorcode, full.sqlite_errorname = sqlite3.SQLITE_FULL, "SQLITE_FULL"
            raise full
        super().commit()


def _on_a_disk_that_fills(engine: Any) -> None:
    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        params["factory"] = _FullDisk


def test_a_commit_sqlite_rolled_back_itself_is_an_error_not_a_success(sqlite_url: str) -> None:
    """A commit that fails on a full disk (SQLite has already rolled back) is raised; the
    write is not reported as stored, and the next writer does not wait for the lock."""
    engine = build_engine(Settings(database_url=sqlite_url, sqlite_busy_timeout_ms=2000))
    _on_a_disk_that_fills(engine)
    try:
        _FullDisk.full = True
        with write_connection(engine) as conn:
            conn.execute(text("INSERT INTO catalogue_meta (key, value) VALUES ('lost', 'x')"))
            with pytest.raises(OperationalError, match="disk is full"):
                conn.commit()
        started = time.monotonic()
        with write_connection(engine) as conn:
            conn.execute(text("INSERT INTO catalogue_meta (key, value) VALUES ('kept', 'x')"))
            conn.commit()
        assert time.monotonic() - started < 1
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT key FROM catalogue_meta WHERE key IN ('lost', 'kept')")).all()
        assert stored == [("kept",)]
    finally:
        _FullDisk.full = False
        engine.dispose()


def test_a_workout_whose_commit_fails_on_a_full_disk_is_answered_503(sqlite_url: str) -> None:
    from tests.conftest import register
    from tests.training.test_log import BASE, workout

    settings = Settings(database_url=sqlite_url, secret_key=TEST_SECRET, argon2_time_cost=1, argon2_memory_kib=1024)
    engine = build_engine(settings)
    _on_a_disk_that_fills(engine)
    from app.catalogue.seed import seed

    seed(engine)
    try:
        with TestClient(create_app(settings, engine)) as client:
            athlete = register(client)
            _FullDisk.full = True
            refused = client.post(f"{BASE}/workouts", json=workout(), headers=athlete.headers)
            assert refused.status_code == 503, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert client.get(f"{BASE}/workouts", headers=athlete.headers).json()["items"] == []
            assert client.post(f"{BASE}/workouts", json=workout(), headers=athlete.headers).status_code == 201
    finally:
        _FullDisk.full = False
        engine.dispose()


def test_the_counts_write_ahead_log_restarts_after_each_sweep(sqlite_url: str) -> None:
    """The counts on their own connection never checkpoint; after the periodic sweep the
    count checkpoints with the writer lock held, so the log starts again from its
    beginning and its file stops growing."""
    engine = build_engine(Settings(database_url=sqlite_url))
    count = ratelimit.SqliteCountNow(engine)
    wal = Path(f"{make_url(sqlite_url).database}-wal")

    def size() -> int:
        return wal.stat().st_size

    async def counts(n: int) -> None:
        for i in range(n):
            await count(f"writes:addr:192.0.2.{i % 200}", limit=10**6, window_s=60)

    async def run() -> tuple[int, int, int]:
        await count.start()
        try:
            await counts(300)
            first = size()
            await counts(300)
            grown = size()
            count.after_sweep()
            await counts(300)
            return first, grown, size()
        finally:
            await count.stop()

    try:
        first, grown, after = asyncio.run(run())
        assert grown > first * 1.5  # no checkpoint of their own
        assert after <= grown  # the log restarted and its space was used again
    finally:
        engine.dispose()


def test_a_write_that_must_not_wait_runs_only_on_a_free_lock(sqlite_url: str) -> None:
    """``SqliteWriteNow`` writes when nobody holds the write lock, its statement committed
    when it returns (another connection sees it at once); it gives way at once (not after
    the 10 s busy timeout) when a writer of this process or of another holds the lock,
    leaves the lock free behind it, and gives way on a database it cannot write or before
    it is opened."""
    engine = build_engine(Settings(database_url=sqlite_url))
    other_process = build_engine(Settings(database_url=sqlite_url))  # a lock of its own, as another worker's
    writes = SqliteWriteNow(engine)
    insert = "INSERT INTO catalogue_meta (key, value) VALUES (?, 'x') RETURNING key"

    def stored() -> set[str]:
        with other_process.connect() as conn:
            return set(conn.execute(text("SELECT key FROM catalogue_meta")).scalars())

    try:
        with pytest.raises(NotNow):
            writes.execute(insert, ["before it opened"])
        writes.open()
        assert writes.execute(insert, ["free"]) == [("free",)]
        assert "free" in stored()
        with pytest.raises(NotNow):
            writes.execute(insert, ["free"])  # a constraint broken: nothing half-done, the lock given back
        for holder_engine in (engine, other_process):
            with write_connection(holder_engine) as holder:
                holder.execute(text("INSERT INTO catalogue_meta (key, value) VALUES ('held', 'x')"))  # holds the lock
                started = time.monotonic()
                with pytest.raises(WriteLockBusy) as gave_way:
                    writes.execute(insert, ["gave way"])
                assert time.monotonic() - started < 0.1  # at once: no busy timeout
                if holder_engine is engine:  # this process's lock refused it before SQLite was asked
                    assert gave_way.value.__cause__ is None
                else:  # another process's: SQLite's lock, with no wait
                    assert isinstance(gave_way.value.__cause__, sqlite3.OperationalError)
                    assert gave_way.value.__cause__.sqlite_errorcode == sqlite3.SQLITE_BUSY
                holder.rollback()
        # the lock, this process's and SQLite's, was given back
        assert writes.execute(insert, ["after"]) == [("after",)]
        with write_connection(engine) as conn:  # and the SQLAlchemy way takes it too
            conn.execute(text("INSERT INTO catalogue_meta (key, value) VALUES ('then', 'x')"))
            conn.commit()
        assert {"free", "after", "then"} <= stored() and not {"held", "gave way", "before it opened"} & stored()
        read_only = build_engine(
            Settings(database_url=f"sqlite:///file:{make_url(sqlite_url).database}?mode=ro&uri=true")
        )
        cannot = SqliteWriteNow(read_only)
        cannot.open()
        with pytest.raises(NotNow):
            cannot.execute(insert, ["read-only"])
        cannot.close()
        read_only.dispose()
    finally:
        writes.close()
        engine.dispose()
        other_process.dispose()


def test_the_edge_sweeps_expired_buckets_and_restarts_the_counts_log(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On SQLite too, once every SWEEP_EVERY hits the edge counts the SQLAlchemy way, sweeps
    the expired buckets and has the count on the loop checkpoint its write-ahead log."""
    monkeypatch.setattr(ratelimit, "SWEEP_EVERY", 10)
    checkpoints: list[int] = []
    real_after_sweep = ratelimit.SqliteCountNow.after_sweep

    def after_sweep(self: ratelimit.SqliteCountNow) -> None:
        checkpoints.append(1)
        real_after_sweep(self)

    monkeypatch.setattr(ratelimit.SqliteCountNow, "after_sweep", after_sweep)
    settings = Settings(
        environment="test",
        database_url=sqlite_url,
        secret_key=TEST_SECRET,
        rate_limit_enabled=True,
        rate_limit_plans=100,
    )
    engine = build_engine(settings)
    preview = {"kind": "achilles", "profile": {"achilles_pain": 2}, "start_date": "2026-11-23"}
    try:
        with write_connection(engine) as conn:
            conn.execute(text("INSERT INTO rate_limit_bucket (key, window_start, count) VALUES ('old', 0, 1)"))
            conn.commit()
        with TestClient(create_app(settings)) as client:
            quotas = [client.post("/v1/plans/preview", json=preview).headers["RateLimit"] for _ in range(25)]
        assert [q.split(";t=")[0] for q in quotas] == [f'"plans";r={100 - n}' for n in range(1, 26)]
        assert checkpoints == [1, 1]  # at hits 10 and 20
        with engine.connect() as conn:
            stored: dict[str, int] = dict(conn.execute(text("SELECT key, count FROM rate_limit_bucket")).all())
        assert "old" not in stored and sum(stored.values()) == 25
    finally:
        engine.dispose()


def test_the_edge_counts_on_the_loop_when_free_and_queues_when_not(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write's rate-limit count runs on the event loop while nobody writes, and in the
    thread pool (waiting its turn) while another worker holds the write lock: counted
    either way, and the request answered once the lock is free."""
    counted_on: list[str] = []

    def spied(real: Callable[..., ratelimit.Decision]) -> Callable[..., ratelimit.Decision]:
        def hit(*args: Any, **kwargs: Any) -> ratelimit.Decision:
            counted_on.append(threading.current_thread().name)
            return real(*args, **kwargs)

        return hit

    monkeypatch.setattr(ratelimit, "hit", spied(ratelimit.hit))
    monkeypatch.setattr(ratelimit, "hit_now", spied(ratelimit.hit_now))
    settings = Settings(
        environment="test", database_url=sqlite_url, secret_key=TEST_SECRET, rate_limit_enabled=True, rate_limit_plans=5
    )
    other_worker = build_engine(settings)
    preview = {"kind": "achilles", "profile": {"achilles_pain": 2}, "start_date": "2026-11-23"}

    def counted(way: str) -> float:
        return REGISTRY.get_sample_value("runstrong_rate_limit_counts_total", {"way": way}) or 0.0

    on_the_driver, in_the_pool = counted("driver"), counted("thread_pool")
    try:
        with TestClient(create_app(settings)) as client:
            first = client.post("/v1/plans/preview", json=preview)
            assert first.status_code == 200, first.text
            assert first.headers["RateLimit"] == '"plans";r=4;t=60'
            assert not counted_on[-1].startswith("AnyIO worker")
            assert (counted("driver"), counted("thread_pool")) == (on_the_driver + 1, in_the_pool)

            def hold() -> None:
                with write_connection(other_worker) as holder:
                    holder.execute(text("INSERT INTO catalogue_meta (key, value) VALUES ('held', 'x')"))
                    held.set()
                    time.sleep(0.3)
                    holder.commit()

            held = threading.Event()
            holder = threading.Thread(target=hold)
            holder.start()
            held.wait(5)
            started = time.monotonic()
            second = client.post("/v1/plans/preview", json=preview)
            waited = time.monotonic() - started
            holder.join()
            assert second.status_code == 200, second.text
            assert second.headers["RateLimit"].startswith('"plans";r=3;')
            assert counted_on[-1].startswith("AnyIO worker")
            assert waited >= 0.1, "it queued for the lock"
            assert (counted("driver"), counted("thread_pool")) == (on_the_driver + 1, in_the_pool + 1)
    finally:
        other_worker.dispose()


def test_a_json_column_reads_what_json_loads_reads(sqlite_url: str) -> None:
    """JSON columns are read by pydantic-core's parser; every stored text gives the value
    ``json.loads`` gives, the texts only ``json.loads`` reads included (a lone surrogate)."""
    stored = [
        '{"sets": {"min": 3, "max": 4}, "tempo": "3-0-3", "notes": ["é", "\\u00e9", "\\ud83d\\ude00"]}',
        '{"a": 1, "a": 2}',
        "[NaN, Infinity, -Infinity, 1e400, 123456789012345678901234567890, -0.0, 0.1]",
        '["\\ud800 lone", "\\udfff"]',
        "null",
        "[]",
    ]
    table = Table("json_values", MetaData(), Column("n", Integer, primary_key=True), Column("v", JSON))
    engine = build_engine(Settings(database_url=sqlite_url))
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(insert(table), [{"n": n, "v": None} for n in range(len(stored))])
        for n, value in enumerate(stored):  # the text as stored, not as SQLAlchemy would write it
            conn.execute(text("UPDATE json_values SET v = :v WHERE n = :n"), {"v": value, "n": n})
    with engine.connect() as conn:
        read = conn.execute(select(table.c.v).order_by(table.c.n)).scalars().all()
    assert [json.dumps(value) for value in read] == [json.dumps(json.loads(value)) for value in stored]
    assert read[1] == {"a": 2} and read[2][4] == 123456789012345678901234567890
