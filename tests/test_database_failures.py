"""When the database cannot serve (unreachable, read-only, locked, full), requests are
answered 503 with Retry-After as problem documents, nothing is stored, and /readyz says
so when writes cannot succeed. Each case on a database of its own, never the test's
shared one in a broken state."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from app.accounts.security import issue_access_token
from app.core import db, ratelimit
from app.core.config import Settings
from app.core.db import build_engine
from app.main import create_app
from tests.conftest import TEST_SECRET, Athlete, make_database, migrate
from tests.servers import account_on, free_port

WORKOUT = {
    "started_at": "2026-11-20T17:30:00Z",
    "duration_minutes": 30,
    "sets": [{"position": 1, "exercise": "eccentric-heel-raise", "reps": 12, "load_kg": 5.0}],
}


def settings_for(url: str, **changes: Any) -> Settings:
    return Settings(
        environment="test",
        database_url=url,
        secret_key=TEST_SECRET,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        **changes,
    )


@contextmanager
def client_on(settings: Settings, engine: Engine | None = None) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine), raise_server_exceptions=False) as client:
        yield client
    if engine is not None:
        engine.dispose()


def unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["type"] == "/problems/database-unavailable"
    assert "nothing was changed" in response.json()["detail"]


def sqlite_copy(database_url: str, tmp_path: Path) -> Path:
    """A copy of the test database (with its accounts), to break at will."""
    source = make_url(database_url).database
    assert source is not None
    copy = tmp_path / "copy.db"
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(copy)) as dst:
        src.backup(dst)
    return copy


def headers(athlete: Athlete, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {athlete.access_token}", **extra}


def attempt_writes(client: TestClient, athlete: Athlete) -> None:
    """Every kind of write is a 503, retried or not, with or without an Idempotency-Key."""
    url = "/v1/athletes/me/workouts"
    unavailable(client.post(url, json=WORKOUT, headers=headers(athlete)))
    for _ in range(2):
        unavailable(client.post(url, json=WORKOUT, headers=headers(athlete, **{"Idempotency-Key": "k-1"})))
    unavailable(client.put(f"{url}/{uuid.uuid4()}", json=WORKOUT, headers=headers(athlete)))
    unavailable(client.post("/v1/auth/token", data={"username": athlete.email, "password": "wrong horse battery"}))


def workouts_of(database_url: str, athlete: Athlete) -> list[dict[str, Any]]:
    with client_on(settings_for(database_url)) as client:
        items: list[dict[str, Any]] = client.get("/v1/athletes/me/workouts", headers=headers(athlete)).json()["items"]
        return items


def test_a_read_only_database_answers_writes_503_and_is_not_ready(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    athlete = account_on(database_url)
    if backend == "sqlite":
        url = f"sqlite:///file:{sqlite_copy(database_url, tmp_path)}?mode=ro&uri=true"
        settings, engine = settings_for(url), None
    else:
        settings = settings_for(database_url)
        engine = create_engine(database_url, connect_args={"options": "-c default_transaction_read_only=on"})
    with client_on(settings, engine) as client:
        assert client.get("/v1/athletes/me/workouts", headers=headers(athlete)).status_code == 200  # reads go on
        assert client.get("/v1/exercises/plank").status_code == 200
        attempt_writes(client, athlete)
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.headers["content-type"] == "application/problem+json"
        assert "read" in ready.json()["detail"] and "only" in ready.json()["detail"]
    assert workouts_of(database_url, athlete) == []
    with client_on(settings_for(database_url)) as client:
        assert client.get("/readyz").status_code == 200  # the writable database is ready


@contextmanager
def locked(backend: str, database_url: str, url: str) -> Iterator[None]:
    """Another connection holds the write lock (SQLite) or the workout table (PostgreSQL)."""
    if backend == "sqlite":
        holder = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    other = create_engine(database_url)
    try:
        with other.connect() as conn:
            conn.execute(text("LOCK TABLE workout IN ACCESS EXCLUSIVE MODE"))
            try:
                yield
            finally:
                conn.rollback()
    finally:
        other.dispose()


def test_a_locked_database_answers_503_until_the_lock_is_released(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    athlete = account_on(database_url)
    if backend == "sqlite":
        url = f"sqlite:///{sqlite_copy(database_url, tmp_path)}"
        settings = settings_for(url, sqlite_busy_timeout_ms=200)
    else:
        url, settings = database_url, settings_for(database_url, db_statement_timeout_ms=300)
    with client_on(settings, build_engine(settings)) as client:
        with locked(backend, database_url, url):
            started = time.monotonic()
            unavailable(client.post("/v1/athletes/me/workouts", json=WORKOUT, headers=headers(athlete)))
            assert time.monotonic() - started < 5  # the busy or statement timeout, not forever
            if backend == "sqlite":
                ready = client.get("/readyz")
                assert ready.status_code == 503 and "locked" in ready.json()["detail"]
        created = client.post("/v1/athletes/me/workouts", json=WORKOUT, headers=headers(athlete))
        assert created.status_code == 201, created.text
        assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_full_sqlite_file_answers_503_and_keeps_what_it_acknowledged(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    athlete = account_on(database_url)
    copy = sqlite_copy(database_url, tmp_path)
    with closing(sqlite3.connect(copy)) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    settings = settings_for(f"sqlite:///{copy}")
    engine = build_engine(settings)

    @event.listens_for(engine, "connect")
    def _full(dbapi_conn: Any, _record: Any) -> None:  # the disk fills up at the file's current size
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 2}")

    acknowledged: list[str] = []
    refused: list[str] = []
    with client_on(settings, engine) as client:
        for n in range(60):
            notes = f"{n:03d} " + "x" * 1990
            body = {**WORKOUT, "notes": notes}
            response = client.post("/v1/athletes/me/workouts", json=body, headers=headers(athlete))
            if response.status_code == 201:
                acknowledged.append(notes)
            else:
                unavailable(response)
                refused.append(notes)
                if len(refused) == 3:
                    break
    assert refused, "the file never filled up"
    stored = workouts_of(f"sqlite:///{copy}", athlete)
    assert sorted(w["notes"] for w in stored) == sorted(acknowledged)


@pytest.mark.parametrize("rate_limited", [False, True], ids=["limits-off", "limits-on"])
def test_an_unreachable_database_answers_503(backend: str, tmp_path: Path, rate_limited: bool) -> None:
    """With rate limits on, the count that fails on the driver (on the event loop on
    SQLite) gives way to the SQLAlchemy count, whose failure lets the request through to
    its own 503."""
    if backend == "sqlite":
        url = f"sqlite:///file:{tmp_path / 'missing' / 'runstrong.db'}?mode=ro&uri=true"
    else:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/runstrong"  # nothing listens there
    settings = settings_for(url, db_pool_timeout_s=1, rate_limit_enabled=rate_limited)
    now = datetime.now(UTC)
    token, _ = issue_access_token(settings, uuid.uuid4(), uuid.uuid4(), now, now)
    athlete = Athlete(str(uuid.uuid4()), "ana@example.com", token, "")
    with client_on(settings) as client:
        unavailable(client.get("/v1/exercises/plank"))  # the catalogue cache asks the database first
        unavailable(client.get("/v1/athletes/me/workouts", headers=headers(athlete)))
        asked: list[float] = []
        counts = client.app.state.count_now  # type: ignore[attr-defined]
        if backend == "postgresql" and rate_limited:  # each wait for a count connection, timed
            real_connection = counts.pool.connection

            @asynccontextmanager
            async def connection(**kwargs: Any) -> AsyncIterator[Any]:
                asked.append(time.monotonic())
                async with real_connection(**kwargs) as conn:
                    yield conn

            counts.pool.connection = connection
        started = time.monotonic()
        attempt_writes(client, athlete)
        took = time.monotonic() - started
        assert took < 3  # not a long wait a write
        if backend == "postgresql" and rate_limited:
            # The count waited for a connection (0.1 s) once, then rested for a second.
            assert 1 <= len(asked) <= 1 + int(took)
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200  # the process lives on


def test_a_pooled_postgresql_connection_lost_while_idle_is_replaced_unseen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only connections idle for PING_IDLE_S are pinged at checkout; one whose server
    process ended meanwhile is replaced before the request uses it, and so is every other
    pooled connection (gone with the same server); one given back moments ago is handed
    out without a round trip. (SQLite has no server to lose.)"""
    database_url = next(databases := make_database("postgresql", tmp_path))
    engine = build_engine(settings_for(database_url, db_pool_size=2, db_max_overflow=0))
    pings: list[object] = []
    real_ping = engine.dialect.do_ping

    def counted_ping(conn: object) -> bool:
        pings.append(conn)
        return real_ping(conn)  # type: ignore[arg-type]

    def pid(conn: Connection) -> int:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())

    monkeypatch.setattr(engine.dialect, "do_ping", counted_ping)
    try:
        with engine.connect() as first, engine.connect() as second:
            lost = {pid(first), pid(second)}
        with engine.connect() as conn:  # given back just now: no ping, one of the same two
            assert pid(conn) in lost
        assert pings == []
        with closing(create_engine(database_url).connect()) as admin:
            for each in lost:
                assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": each}).scalar_one()
            admin.commit()
        monkeypatch.setattr(db, "PING_IDLE_S", 0.0)  # as if they had been idle for a while
        with engine.connect() as conn:
            assert pid(conn) not in lost
            assert len(pings) == 2 and pings[0] is not pings[1]  # the lost one, then its replacement
            monkeypatch.setattr(db, "PING_IDLE_S", 1e9)  # the other: as if given back just now
            with engine.connect() as other:
                assert pid(other) not in lost  # replaced all the same: the pool was renewed
            assert len(pings) == 2
    finally:
        engine.dispose()
        next(databases, None)  # drops the database


def test_the_edge_counts_postgresql_writes_on_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With rate limits on, a PostgreSQL app counts each write on its own asynchronous pool,
    on the event loop's thread, not through SQLAlchemy in the thread pool; the count stands
    in the bucket, and the quota headers go down by one a request. Under concurrent writes,
    expired buckets are still swept once every SWEEP_EVERY hits. The count's connections
    keep the statement timeout, and they are gone once the app stops."""
    database_url = next(databases := make_database("postgresql", tmp_path))
    migrate(database_url)
    counted_on: list[str] = []
    the_sqlalchemy_way: list[str] = []
    swept: list[int] = []
    real_count, real_hit, real_sweep = ratelimit.PostgresqlCountNow.__call__, ratelimit.hit, ratelimit.sweep

    async def count(self: ratelimit.PostgresqlCountNow, key: str, **kwargs: Any) -> ratelimit.Decision:
        counted_on.append(threading.current_thread().name)
        return await real_count(self, key, **kwargs)

    def hit(*args: Any, **kwargs: Any) -> ratelimit.Decision:
        the_sqlalchemy_way.append(threading.current_thread().name)
        return real_hit(*args, **kwargs)

    def sweep(*args: Any, **kwargs: Any) -> int:
        swept.append(real_sweep(*args, **kwargs))
        return swept[-1]

    monkeypatch.setattr(ratelimit.PostgresqlCountNow, "__call__", count)
    monkeypatch.setattr(ratelimit, "hit", hit)
    monkeypatch.setattr(ratelimit, "sweep", sweep)
    monkeypatch.setattr(ratelimit, "SWEEP_EVERY", 10)
    preview = {"kind": "achilles", "profile": {"achilles_pain": 2}, "start_date": "2026-11-23"}
    settings = settings_for(database_url, rate_limit_enabled=True, rate_limit_plans=5, db_statement_timeout_ms=4321)
    admin = create_engine(database_url)
    app = create_app(settings)

    async def concurrently(requests: int) -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as concurrent:
            answers = await asyncio.gather(
                *(concurrent.post("/v1/plans/preview", json=preview) for _ in range(requests))
            )
        return [a.status_code for a in answers]

    async def count_timeout() -> str:
        async with app.state.count_now.pool.connection() as conn:
            row = await (await conn.execute("SHOW statement_timeout")).fetchone()
            return str(row[0])

    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            portal = client.portal
            assert portal is not None  # the client's event loop, where the app's count pool lives
            portal.call(app.state.count_now.pool.wait)  # its first connection made (it opens in the background)
            quotas = [client.post("/v1/plans/preview", json=preview).headers["RateLimit"] for _ in range(3)]
            assert [q.split(";t=")[0] for q in quotas] == ['"plans";r=4', '"plans";r=3', '"plans";r=2']
            assert len(counted_on) == 3 and not any(name.startswith("AnyIO worker") for name in counted_on)
            assert the_sqlalchemy_way == []
            with admin.connect() as conn:
                assert (
                    conn.execute(text("SELECT count FROM rate_limit_bucket WHERE key LIKE 'plans:%'")).scalar_one() == 3
                )
                conn.execute(text("INSERT INTO rate_limit_bucket (key, window_start, count) VALUES ('old', 0, 1)"))
                conn.commit()
            assert portal.call(count_timeout) == "4321ms"
            statuses = portal.call(concurrently, 37)  # hits 4 to 40: sweeps at 10, 20, 30 and 40
            assert statuses.count(200) == 5 and statuses.count(429) == 32  # a bucket of their own (another address)
            assert swept == [1, 0, 0, 0]
            with admin.connect() as conn:
                stored: dict[str, int] = dict(conn.execute(text("SELECT key, count FROM rate_limit_bucket")).all())
            assert "old" not in stored and sum(stored.values()) == 40
            # The sweeps' hits at least; on a busy host a burst may find the 4 count connections
            # busy, and then counts take the thread pool's way.
            assert len(the_sqlalchemy_way) >= 4
        deadline = time.monotonic() + 10  # a server process ends a moment after its client has gone
        while True:
            with admin.connect() as conn:
                left = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"))
                connected = left.scalar_one()
            if connected == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert connected == 1  # this one: the count's pool closed with the app
    finally:
        admin.dispose()
        next(databases, None)  # drops the database


async def backend_pid(count: ratelimit.PostgresqlCountNow) -> int:
    """The server process of a connection the rate-limit count's pool hands out."""
    async with count.pool.connection() as conn:
        row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
        return int(row[0])


def test_a_count_on_a_lost_postgresql_connection_gives_way_and_the_pool_renews_it(tmp_path: Path) -> None:
    """The rate-limit count on psycopg's asynchronous pool, on a connection whose server
    process has ended, gives way (NotNow: the edge then counts the SQLAlchemy way) and the
    dead connection leaves the pool: the next count runs on a live one."""
    database_url = next(databases := make_database("postgresql", tmp_path))
    migrate(database_url)
    settings = settings_for(database_url)
    engine = build_engine(settings)
    key = "writes:addr:192.0.2.9"

    async def lose_and_renew() -> tuple[int, int, int]:
        count = ratelimit.count_now(engine, settings)
        assert isinstance(count, ratelimit.PostgresqlCountNow)
        await count.start()
        try:
            await count.pool.resize(1, 1)  # one connection, so the lost one is the one counted on
            lost = await backend_pid(count)
            with closing(create_engine(database_url).connect()) as admin:
                assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lost}).scalar_one()
                admin.commit()
            with pytest.raises(db.NotNow):
                await count(key, limit=5, window_s=60)
            await count.pool.wait(timeout=5)  # the pool connects anew
            renewed = await count(key, limit=5, window_s=60)
            async with count.pool.connection() as conn:  # the count's setting stays with its transaction
                waits = await (await conn.execute("SHOW synchronous_commit")).fetchone()
            assert waits == ("on",), "the server's own setting: nothing left on the connection"
            return lost, await backend_pid(count), renewed.count
        finally:
            await count.stop()

    try:
        lost, now_on, counted = asyncio.run(lose_and_renew())
        assert now_on != lost
        assert counted == 1  # the count that gave way counted nothing
    finally:
        engine.dispose()
        next(databases, None)  # drops the database


def test_a_refused_or_abandoned_postgresql_count_leaves_the_pool_sound(tmp_path: Path) -> None:
    """The count runs on libpq's own calls: a statement the server refuses (a key longer than
    its column) gives way (NotNow) and leaves its connection ready for the next count; a
    count abandoned while the server still runs it (its request cancelled: here it waits on
    a row another transaction holds) is cancelled on the server, as psycopg cancels its own
    statements, and counts nothing; its connection is read to the end and kept."""
    database_url = next(databases := make_database("postgresql", tmp_path))
    migrate(database_url)
    settings = settings_for(database_url)
    engine = build_engine(settings)
    key = "writes:addr:192.0.2.10"

    async def refuse_then_abandon() -> tuple[list[int], list[int], int, int]:
        count = ratelimit.count_now(engine, settings)
        assert isinstance(count, ratelimit.PostgresqlCountNow)
        await count.start()
        try:
            await count.pool.resize(1, 1)  # one connection: each count below runs on it
            await count.pool.wait(timeout=5)
            first = await backend_pid(count)
            with pytest.raises(db.NotNow, match="value too long"):
                await count("writes:" + "x" * 300, limit=5, window_s=60)
            counted = [(await count(key, limit=5, window_s=60)).count for _ in range(2)]
            kept = [first, await backend_pid(count)]
            with closing(create_engine(database_url).connect()) as holder:
                holder.execute(text("SELECT 1 FROM rate_limit_bucket WHERE key = :k FOR UPDATE"), {"k": key})
                waiting = asyncio.ensure_future(count(key, limit=5, window_s=60))
                await asyncio.sleep(0.3)
                assert not waiting.done()  # the server waits for the row
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
                holder.rollback()
            # Cancelled while libpq still sends it (a key of 32 MB fills the socket's buffers):
            # sent to its end, cancelled, read, and the connection kept all the same.
            sending = asyncio.ensure_future(count("writes:" + "x" * 2**25, limit=5, window_s=60))
            await asyncio.sleep(0)
            sending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sending
            kept.append(await backend_pid(count))
            after = (await count(key, limit=5, window_s=60)).count
            async with count.pool.connection() as conn:
                left = await (await conn.execute("SELECT count(*) FROM pg_prepared_statements")).fetchone()
            assert left == (1,), "the count's one statement, kept through the cancellations"
            return kept, counted, await backend_pid(count), after
        finally:
            await count.stop()

    try:
        kept, counted, renewed, after = asyncio.run(refuse_then_abandon())
        assert kept[0] == kept[1] == kept[2]  # neither the refusal nor a cancellation cost the connection
        assert counted == [1, 2]
        assert renewed == kept[0]  # the abandoned count's connection was kept
        assert after == 3  # the abandoned count counted nothing
    finally:
        engine.dispose()
        next(databases, None)  # drops the database


def test_the_postgresql_count_on_libpq_counts_as_the_driver_does(tmp_path: Path) -> None:
    """What the count sends and what it takes for an answer: a key in the connection's own
    encoding (the same bucket as the SQLAlchemy count's, here in LATIN1); its prepared
    statement prepared again when the server has lost it (a pooler's ``DISCARD ALL`` in
    between), the count still made on the loop; a statement the server fails after
    returning its row (here at its commit) refused, nothing counted; a key with a NUL
    character, or one the connection's encoding cannot carry, refused before it is sent
    (libpq would cut the first short: another key's bucket)."""
    database_url = next(databases := make_database("postgresql", tmp_path))
    migrate(database_url)
    settings = settings_for(database_url)
    engine = build_engine(settings)
    key = "writes:addr:café"
    with closing(create_engine(database_url).connect()) as admin:
        admin.execute(
            text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$"
            )
        )
        admin.execute(text("CREATE TABLE commits (waits text)"))
        admin.execute(
            text(
                "CREATE FUNCTION noted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "INSERT INTO commits VALUES (current_setting('synchronous_commit')); RETURN NEW; END $$"
            )
        )
        admin.execute(
            text(
                "CREATE TRIGGER noted AFTER INSERT OR UPDATE ON rate_limit_bucket FOR EACH ROW EXECUTE FUNCTION noted()"
            )
        )
        admin.execute(
            text(
                "CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON rate_limit_bucket "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.key = 'writes:refused') EXECUTE FUNCTION refuse()"
            )
        )
        admin.commit()

    def alter(statement: str) -> None:
        with closing(create_engine(database_url).connect()) as admin:
            admin.execute(text(statement))
            admin.commit()

    def hit_the_sqlalchemy_way() -> int:
        with engine.connect() as conn:
            return ratelimit.hit(conn, key, limit=9, window_s=60).count

    async def counts() -> list[Any]:
        count = ratelimit.count_now(engine, settings)
        assert isinstance(count, ratelimit.PostgresqlCountNow)
        await count.start()
        try:
            await count.pool.resize(1, 1)
            await count.pool.wait(timeout=5)
            async with count.pool.connection() as conn:
                await conn.execute("SET client_encoding = 'LATIN1'")
            seen = [(await count(key, limit=9, window_s=60)).count]
            seen.append(await asyncio.to_thread(hit_the_sqlalchemy_way))
            async with count.pool.connection() as conn:
                await conn.execute("DISCARD ALL")  # as a pooler resets a server connection
                await conn.execute("SET client_encoding = 'LATIN1'")
            seen.append((await count(key, limit=9, window_s=60)).count)
            for refused in ("writes:refused", "writes:addr:10.0.0.1\x00x", "writes:addr:€"):  # € is not LATIN1
                with pytest.raises(db.NotNow):
                    await count(refused, limit=9, window_s=60)
            seen.append((await count("writes:addr:10.0.0.1", limit=9, window_s=60)).count)
            ratelimit._PREPARED.clear()  # as another process's connection, through a pooler, finds it there
            seen.append((await count(key, limit=9, window_s=60)).count)
            await asyncio.to_thread(alter, "ALTER TABLE rate_limit_bucket ALTER COLUMN count TYPE bigint")
            seen.append((await count(key, limit=9, window_s=60)).count)  # its plan no longer fits: made anew
            async with count.pool.connection() as conn:
                row = await (
                    await conn.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'runstrong_%'")
                ).fetchone()
            seen.append(row[0])
            return seen
        finally:
            await count.stop()

    try:
        assert asyncio.run(counts()) == [1, 2, 3, 1, 4, 5, 1]  # the last: one statement left, however made
        with engine.connect() as conn:
            stored: dict[str, int] = dict(conn.execute(text("SELECT key, count FROM rate_limit_bucket")).all())
            # The counts on the loop commit without waiting for the disk, the SQLAlchemy one
            # (in the thread pool) as the server is set; nothing stays on a connection.
            waits = [row[0] for row in conn.execute(text("SELECT waits FROM commits")).all()]
        assert stored == {key: 5, "writes:addr:10.0.0.1": 1}  # nothing for the refused ones
        assert waits == ["off", "on", "off", "off", "off", "off"]
    finally:
        engine.dispose()
        next(databases, None)  # drops the database
