"""Engine and sessions for SQLite (embedded default) and PostgreSQL (production).

SQLite runs in WAL mode with foreign keys on and a busy timeout. Its driver's own
transaction handling is switched off so that SQLAlchemy emits ``BEGIN`` itself: write
sessions begin with ``BEGIN IMMEDIATE`` and take the write lock at once, so concurrent
writers queue on the busy timeout instead of failing half-way with "database is locked".

Every engine is built with ``hide_parameters``: a failing statement's error (and so the
traceback that is logged) names the SQL but never the values bound to it, which are
personal data (notes, pain sites, emails, token hashes).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import DateTime, Dialect, Engine, TypeDecorator, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from app.core.config import Settings

SQLITE_BEGIN = "sqlite_begin"

# Constraint names that are the same on every database, so migrations can name them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite keeps no zone itself)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def build_engine(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:" and not url.query.get("uri"):  # URIs: file:...?mode=ro
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            hide_parameters=True,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
            },
        )
        busy_ms = settings.sqlite_busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN (below)
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine

    connect_args: dict[str, Any] = {}
    if settings.db_statement_timeout_ms:
        connect_args["options"] = f"-c statement_timeout={settings.db_statement_timeout_ms}"
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args=connect_args,
    )


def write_session(engine: Engine) -> Session:
    """A session for writes. On SQLite every transaction it begins is ``BEGIN IMMEDIATE``
    (it takes the write lock at once, so a read-then-write cannot fail half-way on a lock
    upgrade); on PostgreSQL it is an ordinary session. Commit explicitly; leaving the
    ``with`` block without committing rolls back."""
    if engine.dialect.name == "sqlite":
        return Session(engine.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}))
    return Session(engine)


def dialect_insert(session: Session) -> Any:
    """``insert`` of the session's dialect, for ``ON CONFLICT`` upserts (SQLite and PostgreSQL)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: a read session bound to the app's engine."""
    with Session(request.app.state.engine) as session:
        yield session


def get_write_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: a write session (see :func:`write_session`). Services commit it
    themselves before returning, so nothing is acknowledged before it is durable; whatever
    is not committed is rolled back."""
    with write_session(request.app.state.engine) as session:
        yield session


def get_catalogue_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: a read session for the public catalogue, on the read replica
    when ``RUNSTRONG_CATALOGUE_DATABASE_URL`` names one, else on the primary."""
    with Session(request.app.state.catalogue_engine) as session:
        yield session
