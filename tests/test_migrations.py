"""Migrations are the only way a schema is made: up, down and up again, and no drift."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import Session, SQLModel, select

import app.models  # noqa: F401
from app.accounts.models import CoachGrant, LoginSession
from app.core.config import Settings
from app.core.db import UTCDateTime, build_engine
from tests.conftest import make_database, migrate


def test_upgrade_downgrade_upgrade_and_no_drift(backend: str, tmp_path: Path) -> None:
    for url in make_database(backend, tmp_path):
        engine = build_engine(Settings(database_url=url))
        try:
            migrate(url)
            migrate(url, "base")
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
            migrate(url)
            assert "exercise" in inspect(engine).get_table_names()
            with engine.connect() as conn:
                context = MigrationContext.configure(
                    conn, opts={"compare_type": True, "render_as_batch": backend == "sqlite"}
                )
                assert compare_metadata(context, SQLModel.metadata) == []
        finally:
            engine.dispose()


def test_0006_keeps_logins_and_grants_made_before_it(backend: str, tmp_path: Path) -> None:
    """Refresh-token families become login sessions (live unless revoked) and grants
    become accepted invitations addressed to the coach's email."""
    now = datetime.now(UTC)
    athlete, coach, live, revoked = (uuid.uuid4() for _ in range(4))
    user = sa.table(
        "user",
        *(sa.column(c) for c in ("email", "password_hash", "display_name", "units", "timezone")),
        sa.column("id", sa.Uuid()),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    token = sa.table(
        "refresh_token",
        sa.column("id", sa.Uuid()),
        sa.column("user_id", sa.Uuid()),
        sa.column("family_id", sa.Uuid()),
        sa.column("token_hash"),
        *(sa.column(c, UTCDateTime()) for c in ("created_at", "expires_at", "revoked_at")),
    )
    grant = sa.table(
        "coach_grant",
        sa.column("id", sa.Uuid()),
        sa.column("athlete_id", sa.Uuid()),
        sa.column("coach_id", sa.Uuid()),
        sa.column("access"),
        sa.column("created_at", UTCDateTime()),
    )
    for url in make_database(backend, tmp_path):
        engine = build_engine(Settings(database_url=url))
        try:
            migrate(url, "0005")
            with engine.begin() as conn:
                for user_id, email in ((athlete, "a@example.com"), (coach, "c@example.com")):
                    conn.execute(
                        user.insert().values(
                            id=user_id,
                            email=email,
                            password_hash="x",
                            display_name="x",
                            units="kg",
                            timezone="UTC",
                            created_at=now,
                            updated_at=now,
                        )
                    )
                for n, (family, revoked_at) in enumerate(((live, None), (live, None), (revoked, now))):
                    conn.execute(
                        token.insert().values(
                            id=uuid.uuid4(),
                            user_id=athlete,
                            family_id=family,
                            token_hash=f"h{n}",
                            created_at=now - timedelta(hours=n),
                            expires_at=now + timedelta(days=1),
                            revoked_at=revoked_at,
                        )
                    )
                conn.execute(
                    grant.insert().values(
                        id=uuid.uuid4(), athlete_id=athlete, coach_id=coach, access="read", created_at=now
                    )
                )
            migrate(url)
            with Session(engine) as session:
                sessions = {s.id: s for s in session.exec(select(LoginSession)).all()}
                assert set(sessions) == {live, revoked}
                assert sessions[live].revoked_at is None and sessions[revoked].revoked_at is not None
                assert sessions[live].auth_time < now - timedelta(minutes=30)  # the family's first login
                (moved,) = session.exec(select(CoachGrant)).all()
                assert (moved.status, moved.coach_email, moved.coach_id) == ("active", "c@example.com", coach)
        finally:
            engine.dispose()
