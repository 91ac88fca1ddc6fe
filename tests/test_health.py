"""Liveness and readiness."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.conftest import migrate


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_when_migrated(client: TestClient, backend: str) -> None:
    body = client.get("/readyz").json()
    assert body["status"] == "ready" and body["database"] == backend


def test_readyz_is_503_until_migrations_reach_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with TestClient(create_app(Settings(database_url=url))) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert "no migrations" in response.json()["detail"]
        migrate(url)
        assert client.get("/readyz").status_code == 200
        migrate(url, "-1")  # one migration behind head: a deploy whose migrations have not run
        behind = client.get("/readyz")
        assert behind.status_code == 503 and "head is" in behind.json()["detail"]
        migrate(url, "base")
        assert "base" in client.get("/readyz").json()["detail"]
