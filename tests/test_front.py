"""The front (app/core/front.py): a kept catalogue answer is sent before the middleware
stack, with the same status, headers and body the stack sends, and is counted and logged
as the stack counts and logs it; whatever the front leaves alone still gets the stack's
answer."""

from __future__ import annotations

import io
import json
import logging
import logging.config
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
KEPT = {"catalogue_version_ttl_s": 3600}  # as served (the suite's own reads the version on every request)


def app_with(settings: Settings, engine: Engine, db_session: Session, **changes: Any) -> FastAPI:
    return build_test_app(settings.model_copy(update={**KEPT, **changes}), engine, db_session)


@pytest.fixture
def app(settings: Settings, engine: Engine, db_session: Session) -> FastAPI:
    return app_with(settings, engine, db_session)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the front answered, in order."""
    seen: list[str] = []
    original = Front.answer

    async def answer(self: Front, scope: Any, entry: Any, send: Any) -> None:
        seen.append(scope["path"])
        await original(self, scope, entry, send)

    monkeypatch.setattr(Front, "answer", answer)
    return seen


def through_stack(app: FastAPI, client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    front, app.front = app.front, None  # type: ignore[attr-defined]
    try:
        return client.request(method, path, headers=headers)
    finally:
        app.front = front  # type: ignore[attr-defined]


def same_answers(app: FastAPI, client: TestClient, answered: list[str], method: str, path: str) -> Any:
    """The front's answer to ``path`` (after the route made it and the stack answered it
    once), checked to be the stack's own answer to the same request."""
    for _ in range(2):
        assert client.get(path).status_code == 200
    headers = {"X-Request-ID": "same-id"}
    before = len(answered)
    front = client.request(method, path, headers=headers)
    assert len(answered) == before + 1, f"the front did not answer {path}"
    stack = through_stack(app, client, method, path, headers)
    assert len(answered) == before + 1
    assert (front.status_code, front.headers.multi_items(), front.content) == (
        stack.status_code,
        stack.headers.multi_items(),
        stack.content,
    ), path
    return front


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_kept_answer_from_the_front_is_the_stacks_answer(
    app: FastAPI, client: TestClient, answered: list[str], method: str
) -> None:
    for path in PATHS:
        front = same_answers(app, client, answered, method, path)
        assert front.headers["x-request-id"] == "same-id"
        assert front.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert front.headers["x-content-type-options"] == "nosniff" and front.headers["etag"]
        assert (front.content == b"") is (method == "HEAD"), path
    # Each answer its own generated id when the client sends none.
    ids = {client.get(PATHS[0]).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_in_production_the_front_sends_what_the_stack_sends(
    settings: Settings, engine: Engine, db_session: Session, answered: list[str]
) -> None:
    app = app_with(settings, engine, db_session, environment="production", metrics_on_api_port=True)
    with TestClient(app) as client:
        front = same_answers(app, client, answered, "GET", PATHS[1])
        assert front.headers["strict-transport-security"] == "max-age=31536000"


def test_the_front_leaves_to_the_stack_what_the_stack_must_answer(client: TestClient, answered: list[str]) -> None:
    path = "/v1/exercises/eccentric-heel-raise"
    first = client.get(path)
    client.get(path)
    etag = first.headers["etag"]
    answered.clear()
    conditional = client.get(path, headers={"If-None-Match": etag})
    assert conditional.status_code == 304 and conditional.headers["etag"] == etag
    too_many = client.get(path, headers={f"x-filler-{i}": "1" for i in range(101)})
    assert too_many.status_code == 431 and too_many.headers["content-type"] == "application/problem+json"
    too_large = client.get(path, headers={"Authorization": "Bearer " + "x" * (16 * 1024)})
    assert too_large.status_code == 431
    assert client.post(path).status_code == 405
    assert answered == []
    assert client.get(path).json() == first.json()
    assert answered == [path]


def test_links_follow_the_scheme_the_page_was_asked_with(app: FastAPI, answered: list[str]) -> None:
    path = "/v1/exercises?limit=5"
    for scheme in ("https", "http", "https", "http"):
        with TestClient(app, base_url=f"{scheme}://api.example") as client:
            for _ in range(3):
                link = client.get(path).headers["link"]
                assert link.startswith(f"<{scheme}://api.example/v1/exercises?"), (scheme, link)
    assert answered  # the later ones from the front


def test_with_cors_on_the_front_sends_the_stacks_vary_and_leaves_cross_origin_requests_alone(
    settings: Settings, engine: Engine, db_session: Session, answered: list[str]
) -> None:
    app = app_with(settings, engine, db_session, cors_origins=["https://app.runstrong.example"])
    with TestClient(app) as client:
        path = "/v1/muscles"
        plain = same_answers(app, client, answered, "GET", path)
        assert plain.headers["vary"] == "Origin" and "access-control-allow-origin" not in plain.headers
        answered.clear()
        ours = client.get(path, headers={"Origin": "https://app.runstrong.example"})
        assert ours.headers["access-control-allow-origin"] == "https://app.runstrong.example"
        assert answered == []


def test_a_version_due_for_reading_goes_down_the_stack(
    settings: Settings, engine: Engine, db_session: Session, answered: list[str]
) -> None:
    app = build_test_app(settings, engine, db_session)  # the suite's: the version read on every request
    with TestClient(app) as client:
        bodies = {client.get("/v1/muscles").content for _ in range(3)}
        assert len(bodies) == 1
        assert answered == []


def counted(client: TestClient, labels: dict[str, str]) -> tuple[float, float, float]:
    """Requests counted for ``labels``, their durations counted, and the requests in flight."""
    found = {"http_requests_total": 0.0, "http_request_duration_seconds_count": 0.0, "http_requests_in_flight": 0.0}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name in found and (sample.labels == labels or sample.name == "http_requests_in_flight"):
                found[sample.name] = float(sample.value)
    return found["http_requests_total"], found["http_request_duration_seconds_count"], found["http_requests_in_flight"]


def test_a_front_answer_is_counted_and_logged_as_the_stack_does(
    client: TestClient, answered: list[str], logs: pytest.LogCaptureFixture
) -> None:
    path = "/v1/exercises/eccentric-heel-raise"
    labels = {"method": "GET", "handler": "/v1/exercises/{slug}", "status": "200"}
    for _ in range(2):
        assert client.get(path).status_code == 200
    head = {**labels, "method": "HEAD"}
    before, before_head = counted(client, labels), counted(client, head)
    logs.clear()
    answered.clear()
    for number in range(3):
        assert client.get(path, headers={"X-Request-ID": f"front-{number}"}).status_code == 200
    assert client.head(path).status_code == 200
    assert answered == [path] * 4
    # Counted and timed by method; in flight: only the scrape itself, as before.
    assert counted(client, labels) == (before[0] + 3, before[1] + 3, before[2])
    assert counted(client, head)[:2] == (before_head[0] + 1, before_head[1] + 1)
    lines = [r for r in logs.records if r.name == "runstrong.access" and " /v1/" in r.getMessage()]
    assert [getattr(r, "correlation_id", None) for r in lines][:3] == ["front-0", "front-1", "front-2"]
    for line, method in zip(lines, ["GET", "GET", "GET", "HEAD"], strict=True):
        assert (line.method, line.path, line.route, line.status) == (method, path, "/v1/exercises/{slug}", 200)  # type: ignore[attr-defined]
        assert line.duration_ms >= 0 and line.user_id is None  # type: ignore[attr-defined]


def test_the_access_line_as_served_is_the_stacks(
    app: FastAPI, answered: list[str], service_logging: io.StringIO
) -> None:
    """With the service's own logging (JSON lines, batched, written from templates), the
    front's access line is the stack's but for the time and the duration."""
    with TestClient(app) as client:
        same_answers(app, client, answered, "GET", "/v1/muscles")
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = [json.loads(text) for text in service_logging.getvalue().splitlines() if '"runstrong.access"' in text]
    varying = ("time", "duration_ms", "message")
    front, stack = [{k: v for k, v in line.items() if k not in varying} for line in lines[-2:]]
    assert front == stack and front["request_id"] == "same-id" and front["route"] == "/v1/muscles"
    assert lines[-2]["message"].startswith("GET /v1/muscles 200 ")


def test_what_the_stack_adds_to_a_kept_answer_does_not_depend_on_the_request(app: FastAPI, client: TestClient) -> None:
    """The front sends every later request the headers the stack sent the first: they hold
    only while no layer adds a header of the request's own (a cookie, a timing, a limit)."""
    path = "/v1/exercises?limit=5"
    assert client.get(path).status_code == 200
    variants = [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"User-Agent": "runner-app/2.1", "Accept-Language": "de", "Cookie": "a=b"},
        {"X-Forwarded-For": "203.0.113.9", "Accept-Encoding": "gzip", "Accept": "application/json"},
        {"Origin": "https://elsewhere.example"},  # CORS is off here
    ]
    answers = [through_stack(app, client, "GET", path, {**headers, "X-Request-ID": "same"}) for headers in variants]
    assert {tuple(answer.headers.multi_items()) for answer in answers} == {tuple(answers[0].headers.multi_items())}


def test_a_second_host_header_cannot_change_the_links_others_get(app: FastAPI, client: TestClient) -> None:
    """A page's links name the first Host (as Starlette reads it): a request with two is
    kept under the first, never served to the second's clients."""
    path = "/v1/phases"
    forged = client.get(path, headers=[("host", "evil.example"), ("host", "testserver")])
    assert forged.status_code == 200 and "evil.example" in forged.headers["link"]
    for _ in range(3):
        plain = client.get(path)
        assert "evil.example" not in plain.headers["link"] and "//testserver/" in plain.headers["link"]
