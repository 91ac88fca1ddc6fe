"""``runstrong worker`` processes on PostgreSQL: several share the work and deliver each event
to each subscription once; one killed with SIGKILL mid-delivery loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.core.config import Settings
from app.main import create_app
from tests.conftest import TEST_SECRET, register
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_webhooks import log_workout, subscribe, verified

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
WORKER = [sys.executable, "-c", "from app.cli import app; app()", "worker"]


def start_worker(database_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "RUNSTRONG_ENVIRONMENT": "test",
        "RUNSTRONG_SECRET_KEY": TEST_SECRET,
        "RUNSTRONG_WORKER_POLL_S": "0.1",
        "RUNSTRONG_WORKER_LEASE_S": "4",
        "RUNSTRONG_WEBHOOK_TIMEOUT_S": "3",
        "RUNSTRONG_WEBHOOK_RETRY_DELAYS_S": "[0.5, 0.5, 0.5]",
        "RUNSTRONG_DB_POOL_SIZE": "2",
        "RUNSTRONG_LOG_LEVEL": "warning",
    }
    return subprocess.Popen(WORKER, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


@pytest.fixture
def live(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine)) as client:
        yield client


def test_two_workers_deliver_each_event_to_each_subscription_exactly_once(live: TestClient, database_url: str) -> None:
    receiver = Receiver().start()
    workers = [start_worker(database_url), start_worker(database_url)]
    try:
        athlete = register(live, "busy")
        first = subscribe(live, athlete.headers, receiver.url + "/a", "workout.created")
        subscribe(live, athlete.headers, receiver.url + "/b", "workout.created", "workout.updated")
        for _ in range(15):
            log_workout(live, athlete)
        got = receiver.wait_for(30, timeout=120)
        time.sleep(2)  # room for a duplicate to arrive, were there one
        assert len(receiver.received) == 30
        per_subscription = Counter((r.path, r.headers["webhook-id"]) for r in got)
        assert set(per_subscription.values()) == {1}
        assert Counter(path for path, _ in per_subscription) == {"/hooks/a": 15, "/hooks/b": 15}
        ids = {verified(first["secret"], r)["data"]["id"] for r in got if r.path == "/hooks/a"}
        assert len(ids) == 15
        assert all(w.poll() is None for w in workers)
    finally:
        for worker in workers:
            stop(worker)
        receiver.stop()


def test_a_worker_killed_mid_delivery_loses_nothing(live: TestClient, database_url: str) -> None:
    def answer(n: int) -> int:
        if n == 1:  # hold the first attempt open while its worker is killed
            time.sleep(6)
        return 200

    receiver = Receiver(answer=answer).start()
    first = start_worker(database_url)
    second: subprocess.Popen[bytes] | None = None
    try:
        athlete = register(live, "killed")
        sub = subscribe(live, athlete.headers, receiver.url, "workout.created")
        workout_id = log_workout(live, athlete)
        assert len(receiver.wait_for(1, timeout=60)) == 1
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        second = start_worker(database_url)
        got = receiver.wait_for(2, timeout=60)  # once the killed worker's lease runs out
        assert len(got) == 2
        assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
        assert verified(sub["secret"], got[1])["data"]["id"] == workout_id
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            log = live.get(f"/v1/webhooks/{sub['id']}/deliveries", headers=athlete.headers).json()["items"]
            if log[0]["status"] == "delivered":
                break
            time.sleep(0.2)
        assert [(d["status"], d["response_code"]) for d in log] == [("delivered", 200)]
    finally:
        first.kill()
        if second is not None:
            stop(second)
        receiver.stop()
