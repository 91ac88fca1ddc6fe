"""Migrations are the only way a schema is made: up, down and up again, and no drift."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
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


def test_0016_mends_the_non_finite_numbers_sqlite_stored(backend: str, tmp_path: Path) -> None:
    """Before bodies refused them, a plan's override could be Infinity or NaN: SQLite stored
    it, not being JSON (the athlete's plan list then failed, and judging the plan's week);
    PostgreSQL refused it. After 0016 the plan uses the criterion's own threshold and every
    route on it answers."""
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import TEST_SECRET, register

    for url in make_database(backend, tmp_path):
        migrate(url)
        settings = Settings(environment="test", database_url=url, secret_key=TEST_SECRET, argon2_time_cost=1)
        engine = build_engine(settings)
        try:
            with TestClient(create_app(settings, engine)) as client:
                athlete = register(client)
                client.patch(
                    "/v1/athletes/me/profile",
                    headers=athlete.headers,
                    json={"achilles_pain": 3, "single_leg_heel_raises": 20, "equipment": ["step", "chair"]},
                )
                overrides = {"heel-raise-symmetry-90": 77.25, "sessions-completed": 0.5}
                made = client.post(
                    "/v1/athletes/me/plans",
                    headers=athlete.headers,
                    json={"kind": "achilles", "start_date": "2026-10-05", "options": {"criteria_overrides": overrides}},
                )
                assert made.status_code == 201, made.text
                plan = f"/v1/athletes/me/plans/{made.json()['id']}"
                assert client.post(f"{plan}/adapt", headers=athlete.headers, json={"week": 1}).status_code == 200
                # What a release before the 422 stored for {"heel-raise-symmetry-90": Infinity}:
                broken = (
                    "UPDATE plan SET options = replace(options, '77.25', 'Infinity'),"
                    " draft = replace(draft, '77.25', 'Infinity')",
                    'UPDATE plan_adaptation SET details = \'{"week": 1, "baseline_pain": NaN, "criteria": []}\'',
                )
                if backend == "sqlite":
                    with engine.begin() as conn:
                        for statement in broken:
                            conn.exec_driver_sql(statement)
                    assert client.get("/v1/athletes/me/plans", headers=athlete.headers).status_code == 500
                    assert client.post(f"{plan}/adapt", headers=athlete.headers, json={"week": 2}).status_code == 500
                else:  # json and jsonb refuse these numbers: nothing to mend
                    for statement in (
                        "UPDATE plan SET options = replace(options::text, '77.25', 'Infinity')::jsonb",
                        broken[1],
                    ):
                        with pytest.raises(sa.exc.DataError), engine.begin() as conn:
                            conn.exec_driver_sql(statement)
                migrate(url, "0015", down=True)  # as the rows were written
                migrate(url)
                listed = client.get("/v1/athletes/me/plans", headers=athlete.headers)
                assert listed.status_code == 200 and len(listed.json()["items"]) == 1
                got = client.get(plan, headers=athlete.headers)
                assert got.status_code == 200
                thresholds = {c["slug"]: c["value"] for stage in got.json()["stages"] for c in stage["exit"]}
                assert thresholds["heel-raise-symmetry-90"] == (90.0 if backend == "sqlite" else 77.25)
                with engine.connect() as conn:  # the finite override is kept
                    (options,) = conn.execute(sa.text("SELECT options FROM plan")).one()
                kept = {"sessions-completed": 0.5} if backend == "sqlite" else overrides
                assert (options if isinstance(options, dict) else json.loads(options))["criteria_overrides"] == kept
                (week,) = got.json()["adaptations"]
                assert week["details"]["baseline_pain"] == (None if backend == "sqlite" else 0.0)
                judged = client.post(f"{plan}/adapt", headers=athlete.headers, json={"week": 2})
                assert judged.status_code == 200, judged.text
        finally:
            engine.dispose()


def test_0017_adds_the_count_check_of_combined_writes_on_postgresql(backend: str, tmp_path: Path) -> None:
    """0017 adds ``runstrong_counted`` on PostgreSQL (a statement of combined writes checks
    its members' row counts with it) and its downgrade drops it; SQLite's schema is untouched."""
    from app.core import batched

    defined = "SELECT count(*) FROM pg_proc WHERE proname = 'runstrong_counted'"
    for url in make_database(backend, tmp_path):
        engine = build_engine(Settings(database_url=url))
        try:
            migrate(url, "0016")
            before = sorted(inspect(engine).get_table_names())
            migrate(url)
            inspector = inspect(engine)
            assert sorted(inspector.get_table_names()) == before
            if backend == "sqlite":
                continue
            with engine.connect() as conn:
                assert conn.execute(sa.text(defined)).scalar_one() == 1
                assert conn.execute(sa.text("SELECT runstrong_counted(0, 10, 10)")).scalar_one() == 10
                with pytest.raises(sa.exc.DBAPIError) as wrong:
                    conn.execute(sa.text("SELECT runstrong_counted(3, 0, 1)"))
                assert wrong.value.orig.sqlstate == batched.LOST_STATE  # type: ignore[union-attr]
                assert wrong.value.orig.diag.message_detail == "3"  # type: ignore[union-attr]
            migrate(url, "0016", down=True)
            with engine.connect() as conn:
                assert conn.execute(sa.text(defined)).scalar_one() == 0
        finally:
            engine.dispose()
