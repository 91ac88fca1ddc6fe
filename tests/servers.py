"""Real server processes for the tests that need them: ``runstrong serve`` as production
runs it (JSON logs, graceful shutdown), on a free port, against the test database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests import web
from tests.conftest import PASSWORD, TEST_SECRET, Athlete, register

SERVE = [sys.executable, "-c", "from app.cli import app; app()", "serve"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server process; use it as a context manager so it stops even when a test fails."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path | None = None

    def stop(self, timeout: float = 40) -> int:
        """SIGTERM and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_lines(self) -> list[str]:
        assert self.log_path is not None
        return self.log_path.read_text(encoding="utf-8").splitlines()


def spawn_server(
    database_url: str,
    *,
    env: dict[str, str] | None = None,
    workers: int = 1,
    log_path: Path | None = None,
) -> Server:
    """Start a server process without waiting for it: start several, then wait for each."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "RUNSTRONG_ENVIRONMENT": "test",
        "RUNSTRONG_SECRET_KEY": TEST_SECRET,
        "RUNSTRONG_ARGON2_TIME_COST": "1",
        "RUNSTRONG_ARGON2_MEMORY_KIB": "1024",
        "RUNSTRONG_IDEMPOTENCY_LEASE_S": "2",
        "RUNSTRONG_LOGIN_LIMIT_PER_ADDRESS": "1000",
        # Small pools: several servers run at once beside the tests, on one PostgreSQL.
        "RUNSTRONG_DB_POOL_SIZE": "4",
        "RUNSTRONG_DB_MAX_OVERFLOW": "4",
        "RUNSTRONG_LOG_LEVEL": "info" if log_path else "warning",
        **(env or {}),
    }
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    out: IO[bytes] | int = log_path.open("wb") if log_path else subprocess.DEVNULL
    try:
        process = subprocess.Popen(
            [*SERVE, "--port", str(port), "--workers", str(workers)],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
        )
    finally:
        if not isinstance(out, int):
            out.close()  # the child has its own copy
    return Server(f"http://127.0.0.1:{port}", process, log_path)


def wait_until_serving(server: Server) -> Server:
    """Poll /healthz until the server answers; fail if it exits, or takes three minutes
    (a start takes a second or two, but over a minute on a machine loaded many times over)."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited with {server.process.returncode}")
        try:
            if web.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.05)
    server.process.kill()
    raise AssertionError("the server did not start")


def start_server(
    database_url: str,
    *,
    env: dict[str, str] | None = None,
    workers: int = 1,
    log_path: Path | None = None,
) -> Server:
    server = wait_until_serving(spawn_server(database_url, env=env, workers=workers, log_path=log_path))
    if workers > 1 and log_path is not None:
        every_worker_started(server, workers)
    return server


def every_worker_started(server: Server, workers: int) -> None:
    """Wait until ``workers`` processes have logged uvicorn's start-up line: /healthz answers
    as soon as one does, and a test that needs all of them serving must not race the others."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        started = set()
        for line in server.log_lines():
            if line.startswith("{") and '"Application startup complete."' in line:
                started.add(json.loads(line)["pid"])
        if len(started) >= workers:
            return
        if server.process.poll() is not None:
            raise AssertionError(f"the server exited with {server.process.returncode}")
        time.sleep(0.05)
    raise AssertionError(f"{workers} workers did not all start")


def start_servers(database_url: str, count: int, *, env: dict[str, str] | None = None) -> list[Server]:
    """``count`` servers on one database, started side by side."""
    spawned = [spawn_server(database_url, env=env) for _ in range(count)]
    try:
        return [wait_until_serving(server) for server in spawned]
    except BaseException:
        for server in spawned:
            server.process.kill()
            server.process.wait(timeout=10)
        raise


def account_on(database_url: str, name: str = "runner") -> Athlete:
    """An account made in-process (no limits apply), usable on every server of the test:
    they share the database and the signing secret."""
    settings = Settings(
        environment="test",
        database_url=database_url,
        secret_key=TEST_SECRET,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )
    with TestClient(create_app(settings)) as client:
        return register(client, f"{name}-{uuid.uuid4().hex[:6]}", PASSWORD)
