"""A record write's credential check, on the app's own sessions (not the test suite's one
shared session): on PostgreSQL the check is the first statement of the write's own
transaction, on the connection the write takes anyway; on SQLite it reads on the
request's read connection, so the check never holds the database's write lock. Either
way a write whose login has ended, whose token is unknown or whose coach may only read
stores nothing, and every connection goes back."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select, text
from sqlmodel import Session

from app.main import create_app
from app.training import records
from app.training.models import Workout
from tests.conftest import Athlete, own_database, register
from tests.training.test_log import workout


@contextmanager
def served(backend: str, tmp_path: Path) -> Iterator[tuple[TestClient, Engine]]:
    """The app on a migrated, seeded database of its own, with its own sessions."""
    with own_database(backend, tmp_path) as (settings, engine):
        with TestClient(create_app(settings, engine)) as client:
            yield client, engine
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


@pytest.fixture
def world(backend: str, tmp_path: Path) -> Iterator[tuple[TestClient, Engine]]:
    with served(backend, tmp_path) as world:
        yield world


class Statements:
    """The statements the app's engine runs, each with the driver connection it ran on,
    and the connections checked out of the pool, from when it is made."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[tuple[int, str]] = []  # the pool's check-ins too, as (0, "checkin")
        self.checkouts = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine.pool, "checkout", self._checkout)
        event.listen(engine.pool, "checkin", self._checkin)
        event.listen(engine, "rollback", self._rollback)

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append((id(conn.connection.dbapi_connection), " ".join(statement.split())))

    def _checkout(self, *args: Any) -> None:
        self.checkouts += 1

    def _checkin(self, *args: Any) -> None:
        self.seen.append((0, "checkin"))

    def _rollback(self, conn: Any) -> None:
        self.seen.append((id(conn.connection.dbapi_connection), "ROLLBACK"))

    def on(self, start: str) -> set[int]:
        """The driver connections a statement starting with ``start`` ran on (or one
        sending it with other writes, ``app.core.batched``)."""
        return {where for where, sql in self.seen if _runs(sql, start)}

    def between(self, first: str, then: str) -> list[tuple[int, str]]:
        """What happened from the first statement starting with ``first`` to the first
        starting with ``then``."""
        sqls = [sql for _, sql in self.seen]
        start = next(i for i, sql in enumerate(sqls) if _runs(sql, first))
        end = next(i for i, sql in enumerate(sqls) if _runs(sql, then))
        return self.seen[start:end]

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine.pool, "checkout", self._checkout)
        event.remove(self.engine.pool, "checkin", self._checkin)
        event.remove(self.engine, "rollback", self._rollback)


def _runs(sql: str, start: str) -> bool:
    """Whether ``sql`` is a statement starting with ``start``, or sends one with others
    (a member of a combined statement: ``WITH q0 AS (INSERT INTO workout ...``)."""
    return sql.startswith(start) or re.search(rf"\bq\d+ AS \({re.escape(start)}", sql) is not None


def _workouts(engine: Engine, athlete: Athlete) -> int:
    with engine.connect() as connection:
        counted = select(func.count()).select_from(Workout).where(Workout.athlete_id == uuid.UUID(athlete.id))  # type: ignore[arg-type]
        return int(connection.scalar(counted) or 0)


def test_a_write_is_checked_on_the_connection_it_writes_on_postgresql_only(
    world: tuple[TestClient, Engine], backend: str
) -> None:
    client, engine = world
    athlete = register(client)
    register(client)  # the SQLite read connections kept, the pool warm
    statements = Statements(engine)
    try:
        made = client.post("/v1/athletes/me/workouts", json=workout(), headers=athlete.headers)
    finally:
        statements.close()
    assert made.status_code == 201, made.text
    checked, written = statements.on("SELECT login_session"), statements.on("INSERT INTO workout ")
    assert len(checked) == 1 and len(written) == 1, statements.seen
    between = statements.between("SELECT login_session", "INSERT INTO workout ")
    if backend == "postgresql":
        assert checked == written, "one connection for the check and the write"
        assert (0, "checkin") not in between, "not given back between the check and the write"
        assert all(sql != "ROLLBACK" for _, sql in between), "the write's transaction not ended before it writes"
        assert statements.checkouts == 1
    else:
        assert checked != written, "SQLite's check reads on the read connection, not under the write lock"
        (reader,) = checked
        assert (reader, "ROLLBACK") in between, "the check's read transaction ended before the write"
    assert _workouts(engine, athlete) == 1


def test_a_write_whose_login_has_ended_stores_nothing(world: tuple[TestClient, Engine]) -> None:
    client, engine = world
    athlete = register(client)
    assert client.post("/v1/auth/logout", json={"refresh_token": athlete.refresh_token}).status_code == 204
    refused = client.post("/v1/athletes/me/workouts", json=workout(), headers=athlete.headers)
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "login has ended" in refused.json()["detail"]
    forged = client.post(
        "/v1/athletes/me/workouts", json=workout(), headers={"Authorization": "Bearer rs_pat_" + "0" * 32}
    )
    assert forged.status_code == 401, forged.text
    assert _workouts(engine, athlete) == 0
    again = register(client)  # the connections the refusals took serve the next write
    assert client.post("/v1/athletes/me/workouts", json=workout(), headers=again.headers).status_code == 201
    assert _workouts(engine, again) == 1


def test_a_personal_token_writes_and_is_marked_used(world: tuple[TestClient, Engine]) -> None:
    """The token's use is stored (its own commit, before the write's) and so is the write."""
    client, engine = world
    athlete = register(client)
    made = client.post("/v1/me/tokens", headers=athlete.headers, json={"name": "watch", "scopes": ["training:write"]})
    assert made.status_code == 201, made.text
    pat = {"Authorization": f"Bearer {made.json()['token']}"}
    written = client.post("/v1/athletes/me/workouts", json=workout(), headers=pat)
    assert written.status_code == 201, written.text
    (token,) = client.get("/v1/me/tokens", headers=athlete.headers).json()["items"]
    assert token["last_used_at"] is not None
    assert _workouts(engine, athlete) == 1


def test_a_coach_writes_with_a_write_grant_and_not_with_a_read_grant(
    world: tuple[TestClient, Engine], backend: str
) -> None:
    """The grant is read where the credential is: on PostgreSQL the write's connection."""
    client, engine = world
    athlete, writer, reader = register(client, "athlete"), register(client, "writer"), register(client, "reader")
    for coach, access in ((writer, "write"), (reader, "read")):
        offered = client.post(
            "/v1/me/coaches", headers=athlete.headers, json={"coach_email": coach.email, "access": access}
        )
        assert offered.status_code == 201, offered.text
        (invitation,) = client.get("/v1/me/invitations", headers=coach.headers).json()["items"]
        accepted = client.post(f"/v1/me/invitations/{invitation['id']}/accept", headers=coach.headers)
        assert accepted.status_code == 200, accepted.text
    path = f"/v1/athletes/{athlete.id}/workouts"
    statements = Statements(engine)
    try:
        assert client.post(path, json=workout(), headers=writer.headers).status_code == 201
    finally:
        statements.close()
    login, grant = statements.on("SELECT login_session"), statements.on("SELECT coach_grant")
    assert len(grant) == 1 and grant == login, statements.seen
    between = statements.between("SELECT login_session", "INSERT INTO workout ")
    if backend == "postgresql":
        assert grant == statements.on("INSERT INTO workout ") and statements.checkouts == 1
        assert (0, "checkin") not in between and all(sql != "ROLLBACK" for _, sql in between), statements.seen
    else:
        (read_on,) = grant
        after_grant = statements.between("SELECT coach_grant", "INSERT INTO workout ")
        assert (read_on, "ROLLBACK") in after_grant, "the grant's read transaction ended before the write"
    refused = client.post(path, json=workout(), headers=reader.headers)
    assert refused.status_code == 403, refused.text
    assert _workouts(engine, athlete) == 1


def test_a_postgresql_write_holds_no_lock_of_its_check_while_it_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check's reads run before the write's transaction begins: nothing of them, not
    even a table's lock (which an ALTER TABLE of a migration waits for), lasts through the
    write. (SQLite has no such locks, and its check reads on another connection.)"""
    with served("postgresql", tmp_path) as (client, engine):
        athlete, coach = register(client, "athlete"), register(client, "coach")
        offered = client.post(
            "/v1/me/coaches", headers=athlete.headers, json={"coach_email": coach.email, "access": "write"}
        )
        assert offered.status_code == 201, offered.text
        (invitation,) = client.get("/v1/me/invitations", headers=coach.headers).json()["items"]
        assert client.post(f"/v1/me/invitations/{invitation['id']}/accept", headers=coach.headers).status_code == 200
        held: list[list[str]] = []
        create = records.create

        def watched(session: Session, *args: Any) -> Any:
            """The check's tables the write's backend holds a lock on, as the write begins."""
            pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with engine.connect() as other:
                locked = other.execute(
                    text(
                        "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                        "WHERE l.pid = :pid AND c.relname IN ('login_session', 'coach_grant') ORDER BY 1"
                    ),
                    {"pid": pid},
                )
                held.append(list(locked.scalars()))
            return create(session, *args)

        monkeypatch.setattr(records, "create", watched)
        for headers, athlete_id in ((athlete.headers, "me"), (coach.headers, athlete.id)):
            made = client.post(f"/v1/athletes/{athlete_id}/workouts", json=workout(), headers=headers)
            assert made.status_code == 201, made.text
        assert held == [[], []]
