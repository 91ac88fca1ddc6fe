"""SQLite runs in WAL mode with foreign keys on, and writers queue instead of failing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.catalogue import models as m
from app.core.config import Settings
from app.core.db import build_engine, write_session
from tests.conftest import migrate


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
