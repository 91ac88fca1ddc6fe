"""The front (app/core/front.py): a kept catalogue answer is sent before the middleware
stack, with the same status, headers and body the stack sends, and is counted and logged
as the stack counts and logs it; whatever the front leaves alone still gets the stack's
answer."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlmodel import Session

from app.core import http_parser
from app.core.config import Settings
from app.core.front import Front
from app.core.http_parser import BoundedHttpToolsProtocol
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


# On uvicorn's own protocol, as `runstrong serve` runs it: the front writes a kept answer's
# head itself (app.core.http_parser.start_kept), and what reaches the client is what
# uvicorn's `send` writes.


@contextmanager
def served(app: FastAPI, **config: Any) -> Iterator[int]:
    """``app`` on uvicorn with the service's protocol, in a thread, on a socket of its own."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    options = {"http": BoundedHttpToolsProtocol, "loop": "asyncio", "log_config": None, "access_log": False}
    server = uvicorn.Server(uvicorn.Config(app, **{**options, **config}))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        yield int(listening.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        listening.close()


def exchange(port: int, requests: bytes) -> bytes:
    """What the server writes back to ``requests`` (GETs and HEADs) sent on one connection:
    their responses, each read to the end its Content-Length gives (a HEAD's, its head)."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:

        def until(size: int) -> None:
            nonlocal received
            while len(received) < size:
                received += sock.recv(65536) or pytest.fail(f"the connection closed: {received!r}")

        sock.sendall(requests)
        end = 0
        for method in re.findall(rb"(?m)^(GET|HEAD) ", requests):
            while (blank := received.find(b"\r\n\r\n", end)) < 0:
                until(len(received) + 1)
            length = re.search(rb"(?im)^content-length: (\d+)\r$", received[end:blank] + b"\r\n")
            assert length is not None, received[end:blank]
            end = blank + 4 + (0 if method == b"HEAD" else int(length.group(1)))
            until(end)
    return received


@pytest.fixture
def kept_heads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the front wrote each of its answers' heads itself, in order."""
    seen: list[bool] = []
    original = http_parser.start_kept

    async def start_kept(*args: Any) -> bool:
        wrote = await original(*args)
        seen.append(wrote)
        return wrote

    monkeypatch.setattr("app.core.front.start_kept", start_kept)  # as the front calls it
    return seen


def heads(kept_heads: list[bool], before: int, answers: int) -> list[bool]:
    """The ``answers`` entries of ``kept_heads`` after its first ``before``, once there
    (a HEAD's whole answer may reach the client before the front has noted it)."""
    deadline = time.monotonic() + 10
    while len(kept_heads) < before + answers and time.monotonic() < deadline:
        time.sleep(0.001)
    return kept_heads[before : before + answers]


def request_of(method: str, path: str, *, version: str = "1.1", close: bool = False) -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: testserver", "X-Request-ID: same-id"]
    return ("\r\n".join([*lines, *(["Connection: close"] if close else []), "", ""])).encode()


@pytest.mark.parametrize(
    ("config", "dated"),
    [({"date_header": False, "headers": [("X-Served-By", "a")]}, False), ({}, True)],
    ids=["own-default-header", "date"],
)
def test_on_uvicorn_the_fronts_own_head_is_the_head_send_writes(
    app: FastAPI,
    answered: list[str],
    kept_heads: list[bool],
    monkeypatch: pytest.MonkeyPatch,
    config: dict[str, Any],
    dated: bool,
) -> None:
    """Byte for byte what uvicorn's ``send`` writes for the same answer (the date aside,
    which moves each second): GET, HEAD, a connection closed after the answer (asked for,
    HTTP/1.0), and answers pipelined on one connection."""
    cases = [
        (request_of("GET", PATHS[0]), 1),
        (request_of("HEAD", PATHS[1]), 1),
        (request_of("GET", PATHS[1], close=True), 1),
        (request_of("GET", PATHS[2], version="1.0"), 1),
        (request_of("GET", PATHS[3]) + request_of("GET", PATHS[0]) + request_of("HEAD", PATHS[3]), 3),
    ]
    undated = (lambda text: re.sub(rb"(?m)^date: [^\r]*\r$", b"date: -\r", text)) if dated else (lambda text: text)
    with served(app, **config) as port:
        warmed(port)
        for requests, answers in cases:
            before = len(answered)
            front = exchange(port, requests)
            assert len(answered) == before + answers and heads(kept_heads, before, answers) == [True] * answers
            with monkeypatch.context() as patched:
                patched.setattr(http_parser, "SENDS_AS", frozenset())
                by_send = exchange(port, requests)
            assert heads(kept_heads, before + answers, answers) == [False] * answers, "uvicorn's send wrote these"
            assert front.count(b"HTTP/1.1 200 OK\r\n") == answers
            assert undated(front) == undated(by_send), requests
            assert (b"date: " in front) is dated and (b"x-served-by: a\r\n" in front) is not dated
            assert b"x-request-id: same-id\r\n" in front and b"etag: " in front
            assert (b"connection: close\r\n" in front) is (b"close" in requests or b"HTTP/1.0" in requests)


def test_the_front_leaves_the_head_to_send_where_send_would_treat_a_header_apart(
    app: FastAPI, answered: list[str], kept_heads: list[bool]
) -> None:
    """A server default header that ``send`` reads (here Connection) sends the head through
    ``send``, which acts on it: the answer says the connection closes."""
    with served(app, headers=[("Connection", "close")]) as port:
        exchange(port, request_of("GET", PATHS[0]))
        exchange(port, request_of("GET", PATHS[0]))
        front = exchange(port, request_of("GET", PATHS[0]))
    assert answered and kept_heads[-1] is False
    assert front.startswith(b"HTTP/1.1 200 OK\r\n") and b"connection: close\r\n" in front


def warmed(port: int) -> None:
    """Each path made, then answered once by the stack: kept with its headers."""
    for path in PATHS:
        for _ in range(2):
            exchange(port, request_of("GET", path))


def test_on_h11_the_front_leaves_the_head_to_send(app: FastAPI, answered: list[str], kept_heads: list[bool]) -> None:
    with served(app, http="h11") as port:
        warmed(port)
        before = len(answered)
        both = exchange(port, request_of("GET", PATHS[0]) + request_of("HEAD", PATHS[1]))
    assert len(answered) == before + 2 and heads(kept_heads, before, 2) == [False, False]
    assert both.count(b"HTTP/1.1 200 OK\r\n") == 2


def test_with_uvicorns_access_log_on_the_front_leaves_the_head_to_send(
    app: FastAPI, answered: list[str], kept_heads: list[bool]
) -> None:
    """uvicorn writes its access line in ``send``: with it on, ``send`` starts the answer."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    access = logging.getLogger("uvicorn.access")
    level, disabled = access.level, access.disabled
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.disabled = False
    try:
        with served(app, access_log=True) as port:
            warmed(port)
            before, logged = len(answered), len(lines)
            exchange(port, request_of("GET", PATHS[0]))
            assert heads(kept_heads, before, 1) == [False]
            assert len(lines) == logged + 1 and "GET /v1/exercises?limit=5 HTTP/1.1" in lines[-1]
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
        access.disabled = disabled


def test_a_head_send_would_not_write_as_it_stands_is_left_to_send() -> None:
    valid = [(b"content-type", b"application/json"), (b"Content-Length", b"2")]
    made = http_parser.kept_head(valid)
    assert made == http_parser.KeptHead(b"content-type: application/json\r\ncontent-length: 2\r\n", 2)
    for headers in (
        [(b"content-type", b"a\nb"), (b"content-length", b"2")],  # a value send refuses
        [(b"bad name", b"x"), (b"content-length", b"2")],
        [(b"content-type", b"x")],  # no length: send would frame it as chunked
        [(b"content-length", b"2"), (b"content-length", b"2")],
        [(b"content-length", b"2"), (b"connection", b"close")],
        [(b"content-length", b"2"), (b"transfer-encoding", b"chunked")],
        [(b"content-length", b"+2")],
    ):
        assert http_parser.kept_head(headers) is None, headers


def test_the_uvicorn_the_fronts_head_was_written_against_is_the_one_installed() -> None:
    """The front writes a head itself only on the uvicorn whose ``send`` it mirrors: an
    upgrade fails here until its ``send`` has been read and the version added."""
    assert uvicorn.__version__ in http_parser.SENDS_AS
