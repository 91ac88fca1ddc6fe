"""Test databases built through the real migrations, on SQLite and on PostgreSQL.

Each backend's database is created once per run with ``alembic upgrade head`` and the
catalogue seeded; each test then runs inside a transaction that is rolled back.
PostgreSQL is required when RUNSTRONG_REQUIRE_POSTGRES=1 (CI); otherwise its half is
skipped, with the reason in the summary, when no server answers.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import io
import logging
import logging.config
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from asgi_correlation_id import CorrelationIdFilter
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app.catalogue.seed import seed
from app.core.access_log import ACCESS_LOG
from app.core.config import GC_THRESHOLD, Settings
from app.core.db import RequestSessions, build_engine, writing
from app.core.health import alembic_config
from app.core.observability import logging_config
from app.main import create_app

PG_ADMIN_URL = os.environ.get("RUNSTRONG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("RUNSTRONG_REQUIRE_POSTGRES", "") not in ("", "0", "false")
BACKENDS = ["sqlite", "postgresql"]

# The app loads matplotlib on its first chart; the suite loads it once here, so no chart
# request of a test spends its time limit importing it.
importlib.import_module("app.analytics.charts")

# A test worker's collector starts a collection when GC_THRESHOLD more objects are made than
# freed, as a started server's does (app/core/config.py), not Python's 700. A worker's heap
# holds every test's module, the apps, schemathesis' schemas and hypothesis' caches, and at
# 700 the collector walked all of it twenty-odd times a run: on a 50 s subset (two
# schemathesis groups and the authorisation matrix) 5.1-5.3 s of the collector's CPU,
# against 2.0-2.8 s at this threshold.
gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


def _pg_admin() -> Engine:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


def make_database(backend: str, tmp_dir: Path) -> Iterator[str]:
    """Create an empty database for ``backend``; yield its URL; drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / 'runstrong-test.db'}"
        return
    admin = _pg_admin()
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL unreachable at {make_url(PG_ADMIN_URL).render_as_string()}: {exc.orig}"
        if REQUIRE_PG:
            pytest.fail(f"{message} (RUNSTRONG_REQUIRE_POSTGRES is set)", pytrace=False)
        pytest.skip(f"{message}; the PostgreSQL half of the suite is skipped")
    name = f"runstrong_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate(url: str, revision: str = "head", *, down: bool = False) -> None:
    """Upgrade to ``revision`` (``base``, ``-N`` or ``down`` downgrade)."""
    if down or revision == "base" or revision.startswith("-"):
        command.downgrade(alembic_config(url), revision)
    else:
        command.upgrade(alembic_config(url), revision)


# The files whose tests take seconds each (schemathesis over every operation, real server
# processes, headless Chromium). pytest-xdist's work stealing hands each worker one
# contiguous share of the collected list and lets an idle worker take the far end of a busy
# one's share. So each share starts with an equal part of the long tests, dealt round-robin:
# every worker runs long tests first and the run ends on short ones, instead of one worker
# working through every long test while the others wait for it at the end.
LONG_FIRST = (
    "tests/test_schemathesis.py",
    "tests/test_operations_processes.py",
    "tests/training/test_durability.py",
    "tests/training/test_concurrent_sync.py",
    "tests/webhooks/test_workers.py",
    "tests/test_docs_in_browser.py",
    "tests/feeds/test_feeds.py",
    "tests/webhooks/test_webhooks.py",
    "tests/oauth/test_concurrent_refresh.py",
    "tests/oauth/test_consent_in_browser.py",
    "tests/analytics/test_charts_in_browser.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    long: list[pytest.Item] = []
    short: list[pytest.Item] = []
    for item in items:
        (long if item.nodeid.split("::")[0] in LONG_FIRST else short).append(item)
    ordered: list[pytest.Item] = []
    remaining = len(items)
    for share in range(workers):  # the sizes xdist's work stealing cuts the list into
        size = remaining // (workers - share)
        remaining -= size
        dealt = long[share::workers][:size]
        ordered += dealt
        ordered += short[: size - len(dealt)]
        del short[: size - len(dealt)]
    placed = {id(item) for item in ordered}
    ordered += [item for item in long if id(item) not in placed] + short
    items[:] = ordered


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, seeded database for the whole run."""
    for url in make_database(backend, tmp_path_factory.mktemp(backend)):
        migrate(url)
        engine = build_engine(Settings(database_url=url))
        seed(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def shared_server(database_url: str) -> Iterator[Any]:
    """A plain ``runstrong serve`` (tests/servers.py) on the test database, started once per
    database and shared by the tests that only send it requests: never stop or kill it."""
    from tests.servers import start_server  # it imports this module

    with start_server(database_url) as server:
        yield server


TEST_SECRET = "test-signing-secret-that-is-long-enough-1234"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        secret_key=TEST_SECRET,
        catalogue_version_ttl_s=0,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )


@contextmanager
def own_database(backend: str, tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    """A migrated, seeded database of a test's own (for tests that commit, on the app's
    own sessions), its settings and engine; dropped afterwards."""
    databases = make_database(backend, tmp_path)
    url = next(databases)
    migrate(url)
    settings = Settings(
        database_url=url, secret_key=TEST_SECRET, environment="test", argon2_time_cost=1, argon2_memory_kib=1024
    )
    engine = build_engine(settings)
    seed(engine)  # the workouts' exercises
    try:
        yield settings, engine
    finally:
        engine.dispose()
        next(databases, None)  # drops a PostgreSQL database


@contextmanager
def session_with_tables(engine: Engine, metadata: MetaData) -> Iterator[Session]:
    """A session on ``engine`` with ``metadata``'s tables, made for the test and dropped after."""
    metadata.create_all(engine)
    try:
        with Session(engine) as session:
            yield session
    finally:
        metadata.drop_all(engine)


# Statements run on PostgreSQL from a thread that is running an event loop: each a round
# trip that stalls every other request of the worker (reads belong in the thread pool,
# through core.db.read; an ORM object read there and used after, lazy-loading, would not be).
ON_THE_LOOP: list[str] = []


def _watch_the_loop(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if asyncio._get_running_loop() is not None:
            ON_THE_LOOP.append(statement)


@pytest.fixture(autouse=True)
def _nothing_waits_on_the_loop() -> Iterator[None]:
    ON_THE_LOOP.clear()
    yield
    assert not ON_THE_LOOP, f"PostgreSQL statements ran on the event loop: {ON_THE_LOOP[:3]}"


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = build_engine(settings)
    if engine.dialect.name == "postgresql":
        _watch_the_loop(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


_APPS: dict[tuple[int, tuple[tuple[str, str], ...]], FastAPI] = {}


def build_test_app(settings: Settings, engine: Engine, db_session: Session) -> FastAPI:
    """The app for ``settings`` on the test database, its sessions bound to the test's
    transaction. Apps are kept per (engine, settings) and reused with their response cache
    emptied: building one derives every route's dependencies again (FastAPI does it per
    inclusion), which costs more CPU than most tests."""
    key = (id(engine), tuple((name, _plain(value)) for name, value in settings))
    app = _APPS.get(key)
    if app is None:
        app = _APPS[key] = create_app(settings, engine)
    reset_caches(app)
    return bind_session(app, db_session)


def _plain(value: Any) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else repr(value)


class _TestSessions(RequestSessions):
    """Every session of a request is the test's ``db_session``, left open after it."""

    def __init__(self, db_session: Session) -> None:
        self.db_session = db_session

    def read(self, request: Request) -> Session:
        self.db_session.info.clear()  # what a request keeps on its session ends with it
        return self.db_session

    catalogue = read

    def write(self, request: Request) -> Session:
        return writing(request, self.read(request))  # where a write's credential check finds it

    def outliving(self) -> AbstractContextManager[Session]:
        return nullcontext(self.db_session)

    def connection(self) -> AbstractContextManager[Any]:
        return nullcontext(self.db_session)

    def close(self) -> None:
        pass  # the test's session outlives the app's lifespan


def bind_session(app: FastAPI, db_session: Session) -> FastAPI:
    """Make every session of ``app`` the test's ``db_session`` (again, for a shared app)."""
    app.state.sessions = _TestSessions(db_session)
    app.state.count_now = None  # the edge counts on the session above
    return app


def reset_caches(app: FastAPI) -> None:
    """Empty the in-memory caches of ``app``'s middleware (the catalogue response cache), so
    a test on a shared app sees only what it and the database hold."""
    app.state.responses.clear()


@pytest.fixture
def service_logging() -> Iterator[io.StringIO]:
    """Logging as ``runstrong serve`` sets it up (JSON lines, batched), into a buffer."""
    config = logging_config(Settings(database_url="sqlite://"))
    stream = io.StringIO()
    config["handlers"]["stdout"]["stream"] = stream
    root = logging.getLogger()
    before = (root.handlers[:], root.level, ACCESS_LOG.level)
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
            handler.close()
        for handler in before[0]:
            root.addHandler(handler)
        root.setLevel(before[1])
        ACCESS_LOG.setLevel(before[2])


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Captured log records, each with the request id the service's handler would add."""
    caplog.set_level(logging.INFO)
    request_id = CorrelationIdFilter()
    caplog.handler.addFilter(request_id)
    yield caplog
    caplog.handler.removeFilter(request_id)


@pytest.fixture
def app(settings: Settings, engine: Engine, db_session: Session) -> FastAPI:
    return build_test_app(settings, engine, db_session)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@dataclass
class Athlete:
    """A registered, logged-in account."""

    id: str
    email: str
    access_token: str
    refresh_token: str
    device_token: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def register(client: TestClient, name: str | None = None, password: str = PASSWORD) -> Athlete:
    email = f"{name or 'runner'}-{uuid.uuid4().hex[:8]}@example.com"
    created = client.post("/v1/auth/register", json={"email": email, "password": password, "display_name": name})
    assert created.status_code == 202, created.text
    tokens = client.post("/v1/auth/token", data={"username": email, "password": password})
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200, me.text
    return Athlete(me.json()["id"], email, body["access_token"], body["refresh_token"], body["device_token"])


def age_refresh(db_session: Session, refresh_token: str, seconds: int) -> None:
    """Move a used refresh token's rotation ``seconds`` into the past (beyond the grace window
    in which a retry gets the same pair)."""
    from sqlalchemy import update

    from app.accounts.models import RefreshToken, utcnow
    from app.accounts.security import token_digest

    db_session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_digest(refresh_token))  # type: ignore[arg-type]
        .values(used_at=utcnow() - timedelta(seconds=seconds))
    )
    db_session.flush()


@pytest.fixture
def make_athlete(client: TestClient) -> Callable[..., Athlete]:
    def make(name: str | None = None) -> Athlete:
        return register(client, name)

    return make
