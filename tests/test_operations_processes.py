"""Operations with real server processes on the real database: the rate limit shared by
two workers, JSON logs and metrics from a two-worker server, and SIGTERM in the middle
of writes."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import web
from tests.conftest import PASSWORD, Athlete
from tests.servers import Server, account_on, free_port, start_server, start_servers

WORKOUT = {
    "started_at": "2026-11-20T17:30:00Z",
    "duration_minutes": 30,
    "sets": [{"position": 1, "exercise": "eccentric-heel-raise", "reps": 12, "load_kg": 5}],
}


def stored_workouts(url: str, athlete: Athlete) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    next_url: str | None = f"{url}/v1/athletes/me/workouts?limit=100"
    while next_url:
        page = web.get(next_url, headers=athlete.headers, timeout=15)
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        next_url = page.links.get("next", {}).get("url")
    return found


@pytest.fixture
def limited_pair(database_url: str) -> Iterator[list[Server]]:
    env = {"RUNSTRONG_RATE_LIMIT_ENABLED": "true", "RUNSTRONG_RATE_LIMIT_WRITES": "10"}
    started = start_servers(database_url, 2, env=env)
    with started[0], started[1]:
        yield started


def test_the_write_limit_holds_across_two_workers(database_url: str, limited_pair: list[Server]) -> None:
    athlete = account_on(database_url)
    urls = [server.url for server in limited_pair]

    def write(n: int) -> httpx.Response:
        return web.post(f"{urls[n % 2]}/v1/athletes/me/workouts", json=WORKOUT, headers=athlete.headers, timeout=30)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(write, range(24)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 10, statuses
    assert statuses.count(429) == 14, statuses
    served = {urls[n % 2] for n, r in enumerate(responses) if r.status_code == 201}
    assert served == set(urls)  # both workers accepted writes, against one shared budget
    for refused in (r for r in responses if r.status_code == 429):
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["content-type"] == "application/problem+json"
    assert len(stored_workouts(urls[0], athlete)) == 10


def test_two_workers_log_json_with_request_ids_and_report_metrics_together(database_url: str, tmp_path: Path) -> None:
    server = start_server(database_url, workers=2, log_path=tmp_path / "server.log")
    try:
        athlete = account_on(database_url)
        request_id = f"e2e-{uuid.uuid4().hex[:12]}"
        me = web.get(f"{server.url}/v1/me", headers={**athlete.headers, "X-Request-ID": request_id})
        assert me.status_code == 200 and me.headers["x-request-id"] == request_id
        # New connections spread over both workers; every scrape reports all of them.
        sent = 40
        for _ in range(sent):
            assert web.get(f"{server.url}/v1/exercises/eccentric-heel-raise").status_code == 200
        labels = {"method": "GET", "handler": "/v1/exercises/{slug}", "status": "200"}
        for _ in range(4):
            metrics = web.get(f"{server.url}/metrics").text
            counted = [
                s.value
                for family in text_string_to_metric_families(metrics)
                for s in family.samples
                if s.name == "http_requests_total" and s.labels == labels
            ]
            assert counted == [sent]
    finally:
        assert server.stop() == 0
    lines = [json.loads(line) for line in server.log_lines()]  # every line is one JSON object
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert len(mine) == 1
    line = mine[0]
    assert (line["method"], line["route"], line["status"], line["user_id"]) == ("GET", "/v1/me", 200, athlete.id)
    assert line["logger"] == "runstrong.access" and line["duration_ms"] > 0 and line["time"]
    catalogue = [line for line in lines if line.get("route") == "/v1/exercises/{slug}"]
    assert len(catalogue) == sent
    assert len({line["pid"] for line in catalogue}) == 2, "both workers served requests"
    text = server.log_path.read_text() if server.log_path else ""
    assert athlete.access_token not in text and PASSWORD not in text


@dataclass
class Ledger:
    acknowledged: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> workout id
    answered_after_signal: int = 0
    unexpected: list[str] = field(default_factory=list)
    signalled_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def test_sigterm_during_writes_finishes_in_flight_requests_and_loses_nothing(
    database_url: str, tmp_path: Path, shared_server: Server
) -> None:
    with start_server(
        database_url, env={"RUNSTRONG_GRACEFUL_SHUTDOWN_S": "30"}, log_path=tmp_path / "server.log"
    ) as server:
        athlete = account_on(database_url)
        ledger = Ledger()
        stop = threading.Event()

        def writer(n: int) -> None:
            with web.client(base_url=server.url, headers=athlete.headers, timeout=30) as client:
                for i in range(10_000):
                    if stop.is_set():
                        return
                    key = f"w{n}-{i}-{uuid.uuid4().hex[:6]}"
                    try:
                        response = client.post(
                            "/v1/athletes/me/workouts", json=WORKOUT, headers={"Idempotency-Key": key}
                        )
                    except httpx.TransportError:
                        return  # the server has stopped listening: not acknowledged, a phone would retry later
                    with ledger.lock:
                        if response.status_code == 201:
                            ledger.acknowledged[key] = response.json()["id"]
                            if ledger.signalled_at is not None:
                                ledger.answered_after_signal += 1
                        elif response.status_code != 503:
                            ledger.unexpected.append(f"{response.status_code} {response.text[:200]}")

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(ledger.acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        with ledger.lock:
            ledger.signalled_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        exit_code = server.process.wait(timeout=40)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    # uvicorn shuts down gracefully, then re-raises the signal: the exit is by SIGTERM.
    assert exit_code in (0, -signal.SIGTERM)
    messages = [json.loads(line)["message"] for line in server.log_lines()]
    assert "Application shutdown complete." in messages
    assert not ledger.unexpected, ledger.unexpected[:3]
    assert ledger.answered_after_signal > 0, "requests in flight at SIGTERM were answered"
    stored = {w["id"] for w in stored_workouts(shared_server.url, athlete)}  # another server, same database
    assert set(ledger.acknowledged.values()) <= stored
    assert len(ledger.acknowledged) >= 40


def test_metrics_have_their_own_port_with_one_listener_for_two_workers(database_url: str) -> None:
    metrics_port = free_port()
    with start_server(database_url, workers=2, env={"RUNSTRONG_METRICS_PORT": str(metrics_port)}) as server:
        sent = 30
        for _ in range(sent):
            response = web.get(f"{server.url}/v1/exercises/eccentric-heel-raise")
            assert response.status_code == 200 and "server" not in response.headers  # no "server: uvicorn"
        assert web.get(f"{server.url}/metrics").status_code == 404  # not on the API's port
        labels = {"method": "GET", "handler": "/v1/exercises/{slug}", "status": "200"}
        for _ in range(3):
            metrics = web.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
            assert metrics.status_code == 200
            counted = [
                s.value
                for family in text_string_to_metric_families(metrics.text)
                for s in family.samples
                if s.name == "http_requests_total" and s.labels == labels
            ]
            assert counted == [sent]  # both workers' requests, from one listener


def send_head(url: str, head: bytes) -> tuple[bool, bytes]:
    """Send a raw request head; whether all of it was taken, and what came back."""
    address = httpx.URL(url)
    with socket.create_connection((address.host, address.port or 80), timeout=20) as sock:
        taken = True
        try:
            sock.sendall(head)
        except (BrokenPipeError, ConnectionResetError):
            taken = False  # the server stopped reading and closed the connection
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and not taken:
                    break
        except (ConnectionResetError, TimeoutError):
            pass
        return taken, answer


def test_request_heads_are_bounded_by_the_server_and_the_edge(shared_server: Server) -> None:
    """Sent to the worker's plain server, which must serve on after all of it."""
    path = "/v1/exercises/eccentric-heel-raise"
    start = f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n".encode()
    # A 16 MB header: the server stops reading it long before the end.
    taken, answer = send_head(shared_server.url, start + b"Authorization: Bearer " + b"x" * 16_000_000 + b"\r\n\r\n")
    assert not taken, "the server read a 16 MB header"
    assert answer == b"" or answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 431"))
    # 100,000 headers: refused as well.
    taken, answer = send_head(shared_server.url, start + b"x-a: 1\r\n" * 100_000 + b"\r\n")
    assert not taken or answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 431"))
    assert answer == b"" or answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 431"))
    # Within what the server buffers but over the edge's limits: a 431 problem.
    for headers in ({"Authorization": "Bearer " + "x" * 20_000}, {f"x-a-{i}": "1" for i in range(150)}):
        refused = web.get(f"{shared_server.url}{path}", headers=headers)
        assert refused.status_code == 431
        assert refused.headers["content-type"] == "application/problem+json"
    assert web.get(f"{shared_server.url}{path}").status_code == 200  # and the server serves on
