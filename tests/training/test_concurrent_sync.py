"""Offline sync retries at once: parallel PUTs of one new client UUID, against a real server
on the real database. Exactly one creates the record; the others are answered with it."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import pytest

from tests import web
from tests.servers import Server, account_on
from tests.training.test_durability import body as workout

PARALLEL = 10
ROUNDS = 9


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The worker's plain server (``shared_server``): these tests only send it requests, and
    a server of their own cost a start (about 2 s of CPU) per module and database."""
    return shared_server


def at_once(calls: list[tuple[str, dict[str, Any], dict[str, str]]], method: str = "PUT") -> list[httpx.Response]:
    """Send every (url, body, headers) from its own thread, all released together."""
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response | BaseException] = [RuntimeError("no answer")] * len(calls)

    def put(i: int) -> None:
        url, body, headers = calls[i]
        with web.client(timeout=30) as client:
            barrier.wait()
            try:
                answers[i] = client.request(method, url, json=body, headers=headers)
            except httpx.HTTPError as exc:
                answers[i] = exc

    threads = [threading.Thread(target=put, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    failed = [a for a in answers if not isinstance(a, httpx.Response)]
    assert not failed, failed
    return [a for a in answers if isinstance(a, httpx.Response)]


def test_parallel_puts_of_one_new_id_create_it_once(database_url: str, server: Server) -> None:
    athlete = account_on(database_url)
    headers = {"Authorization": f"Bearer {athlete.access_token}"}
    statuses: list[int] = []
    for round_ in range(ROUNDS):
        url = f"{server.url}/v1/athletes/me/workouts/{uuid.uuid4()}"
        answers = at_once([(url, workout(f"round {round_}"), headers)] * PARALLEL)
        statuses += [a.status_code for a in answers]
        assert sorted(a.status_code for a in answers) == [200] * (PARALLEL - 1) + [201], [a.text for a in answers]
        created = next(a.json() for a in answers if a.status_code == 201)
        assert all(a.json() == created for a in answers)  # the others are answered with the stored record
        assert {a.headers["etag"] for a in answers} == {'"1"'}
    assert statuses.count(201) == ROUNDS and len(statuses) == ROUNDS * PARALLEL
    listed = web.get(f"{server.url}/v1/athletes/me/workouts?limit=100", headers=headers).json()["items"]
    assert len(listed) == ROUNDS
    changes = web.get(f"{server.url}/v1/athletes/me/changes", headers=headers).json()["changes"]
    assert len(changes) == ROUNDS and {c["version"] for c in changes} == {1}


def test_parallel_puts_with_different_bodies_or_owners_never_fail(database_url: str, server: Server) -> None:
    athlete, rival = account_on(database_url, "athlete"), account_on(database_url, "rival")
    mine = {"Authorization": f"Bearer {athlete.access_token}"}
    theirs = {"Authorization": f"Bearer {rival.access_token}"}
    for _ in range(3):
        record_id = uuid.uuid4()
        calls = [
            (f"{server.url}/v1/athletes/me/workouts/{record_id}", workout(f"copy {i % 2}"), mine if i < 6 else theirs)
            for i in range(PARALLEL)
        ]
        answers = at_once(calls)
        codes = [a.status_code for a in answers]
        assert codes.count(201) == 1, codes
        winner = next(i for i, a in enumerate(answers) if a.status_code == 201)
        owner = mine if winner < 6 else theirs
        for i, answer in enumerate(answers):
            if i == winner:
                continue
            if calls[i][2] is not owner:
                assert answer.status_code == 404, answer.text  # someone else's id: as if unknown
            elif calls[i][1] == calls[winner][1]:
                assert answer.status_code == 200 and answer.json() == answers[winner].json()
            else:
                assert answer.status_code == 428, answer.text  # another body needs If-Match
        stored = web.get(f"{server.url}/v1/athletes/me/workouts/{record_id}", headers=owner)
        assert stored.json() == answers[winner].json()


def test_parallel_posts_with_one_idempotency_key_create_once_and_replay_to_the_rest(
    database_url: str, server: Server
) -> None:
    """A phone retrying at once: the retries that arrive while the first still runs wait for
    it and get its answer, marked as a replay; none is refused."""
    athlete = account_on(database_url)
    url = f"{server.url}/v1/athletes/me/workouts"
    for round_ in range(3):
        headers = {"Authorization": f"Bearer {athlete.access_token}", "Idempotency-Key": f"retry-{uuid.uuid4()}"}
        answers = at_once([(url, workout(f"posted {round_}"), headers)] * PARALLEL, method="POST")
        assert [a.status_code for a in answers] == [201] * PARALLEL, [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        replayed = [a for a in answers if a.headers.get("idempotent-replayed") == "true"]
        assert len(replayed) == PARALLEL - 1
    listed = web.get(f"{url}?limit=100", headers={"Authorization": f"Bearer {athlete.access_token}"}).json()
    assert len(listed["items"]) == 3


def test_parallel_writes_of_one_athlete_each_get_their_own_change_number(database_url: str, server: Server) -> None:
    """Concurrent writes of one athlete queue on its change counter only at their end: each
    record gets a number of its own, with none skipped, and the feed lists them in order."""
    athlete = account_on(database_url)
    headers = {"Authorization": f"Bearer {athlete.access_token}"}
    url = f"{server.url}/v1/athletes/me/workouts"
    created: list[str] = []
    for round_ in range(3):
        answers = at_once([(url, workout(f"set {round_}.{i}"), headers) for i in range(PARALLEL)], method="POST")
        assert [a.status_code for a in answers] == [201] * PARALLEL, [a.text for a in answers]
        created += [a.json()["id"] for a in answers]
    changes = web.get(f"{server.url}/v1/athletes/me/changes?limit=100", headers=headers).json()["changes"]
    assert [c["seq"] for c in changes] == list(range(1, 3 * PARALLEL + 1))
    assert sorted(c["id"] for c in changes) == sorted(created)
