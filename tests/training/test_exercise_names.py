"""A workout's exercises' names, taken on PostgreSQL from each process's copy and checked
against the catalogue's version with the write (``app.training.exercise_names``): the
answer always shows the catalogue's names as they are when the write commits."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from app.catalogue.models import CatalogueMeta, Exercise
from app.core.db import table_of
from tests.conftest import Athlete, register
from tests.test_batched import Sent
from tests.training.test_log import workout

EXERCISES = table_of(Exercise)
META = table_of(CatalogueMeta)
WORKOUTS = "/v1/athletes/me/workouts"


def created(client: TestClient, runner: Athlete, body: dict[str, Any], *, keyed: bool = False) -> dict[str, Any]:
    headers = {**runner.headers, **({"Idempotency-Key": uuid.uuid4().hex} if keyed else {})}
    made = client.post(WORKOUTS, json=body, headers=headers)
    assert made.status_code == 201, made.text
    return dict(made.json())


def names(answer: dict[str, Any]) -> list[str]:
    return [item["exercise"]["name"] for item in answer["sets"]]


def reseeded(db_session: Session, **renamed: str) -> None:
    """What ``runstrong seed`` does to a changed catalogue: its rows and its version in one
    transaction (here the test's, rolled back after it)."""
    for slug, name in renamed.items():
        db_session.execute(sa.update(EXERCISES).where(EXERCISES.c.slug == slug).values(name=name))
    db_session.execute(sa.update(META).where(META.c.key == "version").values(value=uuid.uuid4().hex))
    db_session.commit()  # its savepoint: the test's transaction still undoes it


def test_a_later_workout_takes_the_names_from_the_copy_on_postgresql(
    client: TestClient, engine: Engine, backend: str
) -> None:
    runner = register(client)
    first = created(client, runner, workout())
    with Sent(engine) as sent:
        second = created(client, runner, workout(), keyed=True)
    assert names(second) == names(first) == ["Eccentric heel raise on a step", "Plank"], names(second)
    read = [sql for sql in sent.sql if "FROM exercise" in sql]
    checked = [sql for sql in sent.sql if "FROM catalogue_meta" in sql and sql not in read]
    if backend == "postgresql":
        assert read == [], read  # no round trip for the names
        assert len(checked) == 1 and checked[0].startswith("WITH "), checked  # checked with the writes
    else:
        assert len(read) == 1 and checked == [], sent.sql


def test_a_workout_after_a_reseed_shows_the_new_names_and_is_stored_once(
    client: TestClient, db_session: Session
) -> None:
    runner = register(client)
    assert names(created(client, runner, workout())) == ["Eccentric heel raise on a step", "Plank"]
    reseeded(db_session, plank="Front plank")
    assert names(created(client, runner, workout())) == ["Eccentric heel raise on a step", "Front plank"]
    reseeded(db_session, plank="Forearm plank")
    keyed = created(client, runner, workout(), keyed=True)
    assert names(keyed) == ["Eccentric heel raise on a step", "Forearm plank"]
    listed = client.get(WORKOUTS, headers=runner.headers).json()["items"]
    assert len(listed) == 3  # the writes undone by the check were not stored
    assert listed[0]["id"] == keyed["id"] and names(listed[0]) == names(keyed)
    feed = client.get("/v1/athletes/me/changes", headers=runner.headers).json()["changes"]
    assert len(feed) == 3


def test_an_exercise_a_reseed_removed_is_refused_though_the_copy_had_it(
    client: TestClient, db_session: Session
) -> None:
    plank = db_session.execute(sa.select(EXERCISES).where(EXERCISES.c.slug == "plank")).one()._asdict()
    db_session.execute(sa.insert(EXERCISES).values({**plank, "slug": "short-lived-plank", "name": "Short-lived"}))
    reseeded(db_session)
    runner = register(client)
    body = workout(sets=[{"position": 1, "exercise": "short-lived-plank", "hold_seconds": 30}])
    made = created(client, runner, body)
    assert names(made) == ["Short-lived"]
    assert client.delete(f"{WORKOUTS}/{made['id']}", headers=runner.headers).status_code == 204
    db_session.execute(sa.delete(EXERCISES).where(EXERCISES.c.slug == "short-lived-plank"))
    reseeded(db_session)  # removed
    for keyed in (False, True):
        headers = {**runner.headers, **({"Idempotency-Key": uuid.uuid4().hex} if keyed else {})}
        refused = client.post(WORKOUTS, json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["type"] == "unknown_slug"
    assert client.get(WORKOUTS, headers=runner.headers).json()["items"] == []
