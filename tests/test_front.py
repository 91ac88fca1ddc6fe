"""The front (app/core/front.py): a kept catalogue answer is sent before the middleware
stack, with the same status, headers and body the stack sends, and is counted and logged
as the stack counts and logs it; whatever the front leaves alone still gets the stack's
answer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlmodel import Session

from app.core.config import Settings
from app.core.front import Front
from tests.conftest import build_test_app

PATHS = ["/v1/exercises?limit=5", "/v1/exercises/eccentric-heel-raise", "/v1/muscles", "/v1/injuries?limit=3"]


@pytest.fixture
def app(settings: Settings, engine: Engine, db_session: Session) -> FastAPI:
    """The test app with the catalogue version kept for an hour, as served (the suite's
    own reads it on every request, so that a new seed shows at once)."""
    return build_test_app(settings.model_copy(update={"catalogue_version_ttl_s": 3600}), engine, db_session)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the front answered, request by request."""
    seen: list[bool] = []
    original = Front.answer

    async def answer(self: Front, scope: Any, send: Any) -> bool:
        done = await original(self, scope, send)
        seen.append(done)
        return done

    monkeypatch.setattr(Front, "answer", answer)
    return seen


def through_stack(app: FastAPI, client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    front, app.front = app.front, None  # type: ignore[attr-defined]
    try:
        return client.request(method, path, headers=headers)
    finally:
        app.front = front  # type: ignore[attr-defined]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_kept_answer_from_the_front_is_the_stacks_answer(
    app: FastAPI, client: TestClient, answered: list[bool], method: str
) -> None:
    for path in PATHS:
        headers = {"X-Request-ID": "same-id"}
        assert client.get(path).status_code == 200  # rendered by the route, kept by the cache
        answered.clear()
        front = client.request(method, path, headers=headers)
        assert answered == [True], path
        stack = through_stack(app, client, method, path, headers)
        assert (front.status_code, front.headers.multi_items(), front.content) == (
            stack.status_code,
            stack.headers.multi_items(),
            stack.content,
        ), path
        assert front.headers["x-request-id"] == "same-id"
        assert front.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert front.headers["x-content-type-options"] == "nosniff" and front.headers["etag"]
        assert (front.content == b"") is (method == "HEAD"), path
    # Each answer its own generated id when the client sends none.
    ids = {client.get(PATHS[0]).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_the_front_leaves_to_the_stack_what_the_stack_must_answer(client: TestClient, answered: list[bool]) -> None:
    path = "/v1/exercises/eccentric-heel-raise"
    first = client.get(path)
    etag = first.headers["etag"]
    answered.clear()
    conditional = client.get(path, headers={"If-None-Match": etag})
    assert conditional.status_code == 304 and conditional.headers["etag"] == etag
    too_many = client.get(path, headers={f"x-filler-{i}": "1" for i in range(101)})
    assert too_many.status_code == 431 and too_many.headers["content-type"] == "application/problem+json"
    too_large = client.get(path, headers={"Authorization": "Bearer " + "x" * (16 * 1024)})
    assert too_large.status_code == 431
    assert answered == [False, False, False]
    other = client.get(path + "?fields=x")  # another query: another response, made by the route
    assert other.status_code in (200, 422)
    assert client.get(path).json() == first.json()
    assert answered[-2:] == [False, True]
    assert client.post(path).status_code == 405
    assert answered[-1] is False


def test_with_cors_on_a_cross_origin_request_gets_the_stacks_cors_headers(
    settings: Settings, engine: Engine, db_session: Session, answered: list[bool]
) -> None:
    changes = {"cors_origins": ["https://app.runstrong.example"], "catalogue_version_ttl_s": 3600}
    app = build_test_app(settings.model_copy(update=changes), engine, db_session)
    with TestClient(app) as client:
        path = "/v1/muscles"
        assert client.get(path).status_code == 200
        answered.clear()
        ours = client.get(path, headers={"Origin": "https://app.runstrong.example"})
        assert ours.headers["access-control-allow-origin"] == "https://app.runstrong.example"
        plain = client.get(path)
        assert "access-control-allow-origin" not in plain.headers
        assert answered == [False, True]


def test_a_version_due_for_reading_goes_down_the_stack(
    settings: Settings, engine: Engine, db_session: Session, answered: list[bool]
) -> None:
    app = build_test_app(settings, engine, db_session)  # the suite's: the version read on every request
    with TestClient(app) as client:
        bodies = {client.get("/v1/muscles").content for _ in range(3)}
        assert len(bodies) == 1
        assert answered == [False, False, False]  # every request re-reads the version


def requests_counted(client: TestClient, labels: dict[str, str]) -> tuple[float, float]:
    metrics = client.get("/metrics").text
    found = {"http_requests_total": 0.0, "http_request_duration_seconds_count": 0.0}
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name in found and sample.labels == labels:
                found[sample.name] = float(sample.value)
    return found["http_requests_total"], found["http_request_duration_seconds_count"]


def test_a_front_answer_is_counted_and_logged_as_the_stack_does(
    client: TestClient, answered: list[bool], logs: pytest.LogCaptureFixture
) -> None:
    path = "/v1/exercises/eccentric-heel-raise"
    labels = {"method": "GET", "handler": "/v1/exercises/{slug}", "status": "200"}
    assert client.get(path).status_code == 200
    before = requests_counted(client, labels)
    logs.clear()
    answered.clear()
    for number in range(3):
        assert client.get(path, headers={"X-Request-ID": f"front-{number}"}).status_code == 200
    assert answered == [True, True, True]
    after = requests_counted(client, labels)
    assert after == (before[0] + 3, before[1] + 3)
    lines = [r for r in logs.records if r.name == "runstrong.access" and r.getMessage().startswith("GET /v1/")]
    assert [getattr(r, "correlation_id", None) for r in lines] == ["front-0", "front-1", "front-2"]
    for line in lines:
        assert (line.method, line.path, line.route, line.status) == ("GET", path, "/v1/exercises/{slug}", 200)  # type: ignore[attr-defined]
        assert line.duration_ms >= 0 and line.user_id is None  # type: ignore[attr-defined]
