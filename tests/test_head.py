"""HEAD is GET without the content (RFC 9110, 9.3.2) on every route that answers GET: the
same status and headers, an empty body, nothing done that GET would not do."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import register
from tests.test_front import counted


def test_head_answers_what_get_answers_without_its_content(client: TestClient) -> None:
    athlete = register(client)
    made = client.post(
        "/v1/athletes/me/workouts",
        headers=athlete.headers,
        json={
            "started_at": "2026-11-02T07:00:00Z",
            "duration_seconds": 1800,
            "sets": [{"position": 1, "exercise": "eccentric-heel-raise", "reps": 5}],
        },
    )
    assert made.status_code == 201, made.text
    for path in ("/v1/me", made.headers["Location"], "/v1/athletes/me/workouts?limit=5", "/v1/exercises?limit=2"):
        got = client.get(path, headers=athlete.headers)
        head = client.head(path, headers=athlete.headers)
        assert got.status_code == head.status_code == 200, path
        assert head.content == b"", path
        for name in ("content-type", "content-length", "etag", "cache-control"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)
    refused = client.head("/v1/me")
    assert refused.status_code == 401 and refused.content == b""
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    missing = client.head("/v1/athletes/me/workouts/00000000-0000-4000-8000-000000000000", headers=athlete.headers)
    assert missing.status_code == 404 and missing.content == b""


def test_head_on_a_path_without_get_is_a_405_naming_the_methods(client: TestClient) -> None:
    refused = client.head("/v1/auth/token")
    assert refused.status_code == 405 and refused.content == b""
    assert refused.headers["Allow"] == "POST"


def test_head_is_logged_and_counted_as_head(client: TestClient, logs: pytest.LogCaptureFixture) -> None:
    athlete = register(client)
    labels = {"method": "HEAD", "handler": "/v1/me", "status": "200"}
    before = counted(client, labels)
    assert client.head("/v1/me", headers=athlete.headers).status_code == 200
    *_, line = [r for r in logs.records if r.name == "runstrong.access" and getattr(r, "path", None) == "/v1/me"]
    assert (line.method, line.route, line.status) == ("HEAD", "/v1/me", 200)  # type: ignore[attr-defined]
    assert counted(client, labels)[:2] == (before[0] + 1, before[1] + 1)
