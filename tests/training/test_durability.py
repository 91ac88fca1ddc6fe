"""Never lost, never twice, with real server processes on the real database.

Two uvicorn processes serve one database. Sixteen clients write workouts at once, each
with its own Idempotency-Key; a quarter of the requests are sent again with the same key
after they succeeded; one server is killed (SIGKILL) in the middle, and its clients
retry on the other. Afterwards every acknowledged workout is present exactly once."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests import web
from tests.conftest import PASSWORD
from tests.servers import Server, start_server

CLIENTS = 16
WORKOUTS_PER_CLIENT = 6
KILL_AFTER = CLIENTS * WORKOUTS_PER_CLIENT // 3


@pytest.fixture
def servers(database_url: str, shared_server: Server) -> Iterator[list[Server]]:
    """The first is killed by the test, the second (shared with other tests) keeps serving."""
    with start_server(database_url) as doomed:
        yield [doomed, shared_server]


@dataclass
class Ledger:
    """What the clients were told."""

    acknowledged: dict[str, str] = field(default_factory=dict)  # key -> workout id
    replays: int = 0
    errors: list[str] = field(default_factory=list)
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def body(key: str) -> dict[str, Any]:
    return {
        "started_at": "2026-11-20T17:30:00Z",
        "duration_minutes": 30,
        "notes": key,
        "sets": [{"position": 1, "exercise": "eccentric-heel-raise", "reps": 12, "load_kg": 5}],
    }


def post_until_acknowledged(urls: list[str], preferred: int, headers: dict[str, str], key: str) -> dict[str, Any]:
    """Retry like a phone on a flaky network: other server on connection loss, wait on 409."""
    target = preferred
    for _ in range(200):
        try:
            response = web.post(
                f"{urls[target]}/v1/athletes/me/workouts",
                json=body(key),
                headers={**headers, "Idempotency-Key": key},
                timeout=15,
            )
        except httpx.TransportError:
            target = (target + 1) % len(urls)
            continue
        if response.status_code == 201:
            return dict(response.json())
        if response.status_code == 409:
            time.sleep(0.2)
            continue
        raise AssertionError(f"unexpected {response.status_code}: {response.text}")
    raise AssertionError(f"{key} was never acknowledged")


def client(n: int, urls: list[str], headers: dict[str, str], ledger: Ledger, rng: random.Random) -> None:
    try:
        for i in range(WORKOUTS_PER_CLIENT):
            key = f"client{n}-workout{i}-{uuid.uuid4().hex[:6]}"
            first = post_until_acknowledged(urls, n % 2, headers, key)
            with ledger.lock:
                ledger.acknowledged[key] = first["id"]
                ledger.sent += 1
            if rng.random() < 0.25:  # the phone never saw the answer and sends again
                again = post_until_acknowledged(urls, (n + 1) % 2, headers, key)
                assert again["id"] == first["id"], "a retry created a second workout"
                with ledger.lock:
                    ledger.replays += 1
    except BaseException as exc:
        ledger.errors.append(repr(exc))


def test_every_acknowledged_workout_is_stored_exactly_once(servers: list[Server]) -> None:
    urls = [s.url for s in servers]
    email = f"durable-{uuid.uuid4().hex[:8]}@example.com"
    assert web.post(f"{urls[0]}/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 202
    login = web.post(f"{urls[0]}/v1/auth/token", data={"username": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

    ledger = Ledger()
    rng = random.Random(7)
    threads = [
        threading.Thread(target=client, args=(n, urls, headers, ledger, random.Random(rng.random())))
        for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    while ledger.sent < KILL_AFTER and any(t.is_alive() for t in threads):
        time.sleep(0.01)
    servers[0].process.kill()  # SIGKILL: no graceful shutdown, requests cut off mid-flight
    servers[0].process.wait(timeout=10)
    for thread in threads:
        thread.join(timeout=180)
    assert not ledger.errors, ledger.errors[:3]
    assert len(ledger.acknowledged) == CLIENTS * WORKOUTS_PER_CLIENT
    assert ledger.replays > 0

    stored: list[dict[str, Any]] = []
    url: str | None = f"{urls[1]}/v1/athletes/me/workouts?limit=100"
    while url:
        page = web.get(url, headers=headers, timeout=15)
        assert page.status_code == 200
        stored += page.json()["items"]
        url = page.links.get("next", {}).get("url")
    by_key: dict[str, list[str]] = {}
    for item in stored:
        by_key.setdefault(item["notes"], []).append(item["id"])
    duplicates = {k: ids for k, ids in by_key.items() if len(ids) > 1}
    assert duplicates == {}
    assert {k: ids[0] for k, ids in by_key.items()} == ledger.acknowledged
