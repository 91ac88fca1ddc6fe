"""What an operator relies on, in process: metrics, request ids in logs, security headers,
body limits, timeouts, CORS and rate limits (the multi-process half is in
test_operations_processes.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import Engine, delete, text
from sqlmodel import Session, col

from app.accounts import security
from app.accounts.models import PersonalAccessToken, User, utcnow
from app.accounts.service import client_identity
from app.catalogue.seed import seed
from app.core import ratelimit
from app.core.config import Settings
from app.core.db import NotNow, build_engine, write_connection
from app.core.observability import forget_dead_workers, logging_config
from app.main import create_app
from tests.conftest import Athlete, build_test_app, migrate, register

WORKOUT = {
    "started_at": "2026-11-20T17:30:00Z",
    "duration_minutes": 30,
    "sets": [{"position": 1, "exercise": "eccentric-heel-raise", "reps": 12, "load_kg": 5}],
}
PREVIEW = {"kind": "resilience", "start_date": "2026-11-23", "profile": {}}


def app_with(settings: Settings, engine: Engine, db_session: Session, **changes: Any) -> FastAPI:
    return build_test_app(settings.model_copy(update=changes), engine, db_session)


def sample(metrics: str, name: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(metrics):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return 0.0


# ---------------------------------------------------------------- metrics


def test_metrics_count_requests_per_route_template_and_status(client: TestClient) -> None:
    labels = {"method": "GET", "handler": "/v1/exercises/{slug}", "status": "200"}
    before = client.get("/metrics").text
    # The first request renders; the second is a cache hit answered before routing.
    for _ in range(2):
        assert client.get("/v1/exercises/eccentric-heel-raise").status_code == 200
    assert client.get("/v1/exercises/no-such-exercise").status_code == 404
    after = client.get("/metrics")
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    text = after.text
    assert sample(text, "http_requests_total", labels) == sample(before, "http_requests_total", labels) + 2
    count = "http_request_duration_seconds_count"
    assert sample(text, count, labels) == sample(before, count, labels) + 2
    missing = {**labels, "status": "404"}
    assert sample(text, "http_requests_total", missing) == sample(before, "http_requests_total", missing) + 1
    # Unknown paths share one series instead of one each.
    client.get("/wp-admin/setup.php")
    assert 'handler="/wp-admin' not in client.get("/metrics").text
    assert sample(
        client.get("/metrics").text, "http_requests_total", {**labels, "handler": "unmatched", "status": "404"}
    )
    for gauge in ("http_requests_in_flight", "runstrong_db_connections_in_use", "runstrong_db_pool_capacity"):
        assert re.search(rf"^{gauge} \d", text, re.MULTILINE), gauge
    assert sample(text, "runstrong_db_pool_capacity", {}) >= 1


def test_metrics_can_be_switched_off(settings: Settings, engine: Engine, db_session: Session) -> None:
    with TestClient(app_with(settings, engine, db_session, metrics_enabled=False)) as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/healthz").status_code == 200


def test_metrics_on_the_api_port_can_require_a_bearer_token(
    settings: Settings, engine: Engine, db_session: Session
) -> None:
    token = "metrics-" + uuid.uuid4().hex
    with TestClient(
        app_with(settings, engine, db_session, environment="production", metrics_token=SecretStr(token))
    ) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
            assert "http_requests_total" not in refused.text
        allowed = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200 and "http_requests_total" in allowed.text


def test_production_serves_no_metrics_or_docs_on_the_api_port_unless_asked(
    settings: Settings, engine: Engine, db_session: Session
) -> None:
    hidden = ("/metrics", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/docs/assets/swagger-ui.css")
    with TestClient(app_with(settings, engine, db_session, environment="production")) as client:
        for path in hidden:
            assert client.get(path).status_code == 404, path
        assert client.get("/v1/exercises/eccentric-heel-raise").status_code == 200
    with TestClient(app_with(settings, engine, db_session, environment="production", docs_enabled=True)) as client:
        assert client.get("/docs").status_code == 200 and client.get("/openapi.json").json()["paths"]
    with TestClient(app_with(settings, engine, db_session, metrics_port=9464)) as client:
        assert client.get("/metrics").status_code == 404  # served on its own port instead
        assert client.get("/docs").status_code == 200  # docs stay on outside production


# ---------------------------------------------------------------- request ids and logs


def test_request_id_is_taken_from_the_client_or_generated(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "app-7f3a.42:b"}).headers["x-request-id"] == "app-7f3a.42:b"
    generated = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert client.get("/healthz").headers["x-request-id"] != generated
    for unsafe in ("x" * 129, "two words", "quote'd"):
        echoed = client.get("/healthz", headers={"X-Request-ID": unsafe}).headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", echoed), unsafe
    # Problems carry it too.
    assert client.get("/nope", headers={"X-Request-ID": "trace-404"}).headers["x-request-id"] == "trace-404"


def test_every_log_line_of_a_request_carries_its_id(
    app: FastAPI, client: TestClient, logs: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("runstrong.tests")

    @app.get("/_test/log")
    def logs_inside() -> dict[str, str]:
        log.warning("inside the handler")
        return {}

    athlete = register(client)
    logs.clear()
    assert client.get("/_test/log", headers={"X-Request-ID": "trace-1"}).status_code == 200
    assert client.get("/v1/me", headers={**athlete.headers, "X-Request-ID": "trace-2"}).status_code == 200
    inside = [r for r in logs.records if r.getMessage() == "inside the handler"]
    assert [getattr(r, "correlation_id", None) for r in inside] == ["trace-1"]
    access = {getattr(r, "correlation_id", None): r for r in logs.records if r.name == "runstrong.access"}
    assert set(access) == {"trace-1", "trace-2"}
    line = access["trace-2"]
    assert (line.method, line.route, line.status, line.user_id) == ("GET", "/v1/me", 200, athlete.id)  # type: ignore[attr-defined]
    assert access["trace-1"].user_id is None  # type: ignore[attr-defined]

    # As the service writes it: one JSON object, with no credential in it.
    spec = dict(logging_config(Settings())["formatters"]["json"])
    spec.pop("()")
    formatter = JsonFormatter(**spec)
    written = json.loads(formatter.format(line))
    assert written["request_id"] == "trace-2" and written["user_id"] == athlete.id
    assert {"time", "level", "method", "path", "route", "status", "duration_ms", "client"} <= set(written)
    assert athlete.access_token not in formatter.format(line)


def test_an_unhandled_error_is_a_logged_500_problem(
    app: FastAPI, client: TestClient, logs: pytest.LogCaptureFixture
) -> None:
    @app.get("/_test/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    response = client.get("/_test/boom", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "trace-500"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "secret internals" not in response.text
    logged = [r for r in logs.records if r.exc_info and getattr(r, "correlation_id", None) == "trace-500"]
    assert logged and "secret internals" in str(logged[0].exc_info[1])  # type: ignore[index]


def test_a_failing_statement_is_logged_without_its_parameters(
    app: FastAPI, client: TestClient, db_session: Session, logs: pytest.LogCaptureFixture
) -> None:
    secret = "my achilles note 7f3a"

    @app.get("/_test/sql")
    def failing_statement() -> None:
        with db_session.begin_nested():
            db_session.execute(text("SELECT :note FROM no_such_table"), {"note": secret})

    response = client.get("/_test/sql", headers={"X-Request-ID": "trace-sql"})
    assert response.status_code == 500 and secret not in response.text
    logged = [r for r in logs.records if getattr(r, "correlation_id", None) == "trace-sql" and r.levelname == "ERROR"]
    assert logged, "the failure is logged"
    spec = dict(logging_config(Settings())["formatters"]["json"])
    spec.pop("()")
    written = JsonFormatter(**spec).format(logged[0])
    assert "no_such_table" in written  # the statement is named...
    assert secret not in written  # ...but not the values bound to it


# ---------------------------------------------------------------- security headers and CORS


def test_security_headers_are_on_every_response(client: TestClient, make_athlete: Any) -> None:
    athlete: Athlete = make_athlete()
    responses = {
        "catalogue": client.get("/v1/exercises"),
        "problem": client.get("/v1/exercises/nope"),
        "validation": client.post("/v1/auth/token", data={}),
        "personal": client.get("/v1/me", headers=athlete.headers),
        "chart": client.get("/v1/athletes/me/load.svg", headers=athlete.headers),
        "docs": client.get("/docs"),
    }
    for name, response in responses.items():
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["x-frame-options"] == "DENY", name
        assert headers["referrer-policy"] == "no-referrer", name
        assert "frame-ancestors 'none'" in headers["content-security-policy"], name
        assert "strict-transport-security" not in headers, name  # development: no HSTS
    assert responses["catalogue"].headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    # The docs load nothing from elsewhere: their CSP names no other origin.
    docs_csp = responses["docs"].headers["content-security-policy"]
    assert "script-src 'self' 'unsafe-inline';" in docs_csp and "https:" not in docs_csp
    assert "/docs/assets/swagger-ui-bundle.js" in responses["docs"].text and "cdn." not in responses["docs"].text
    assert "style-src 'unsafe-inline'" in responses["chart"].headers["content-security-policy"]
    assert responses["personal"].headers["cache-control"] == "no-store"
    assert responses["catalogue"].headers["cache-control"].startswith("public")


def test_request_headers_over_the_limits_get_431(client: TestClient) -> None:
    cases = {
        "large": {"Authorization": "Bearer " + "x" * (16 * 1024)},
        "many": {f"x-filler-{i}": "1" for i in range(101)},
    }
    for name, headers in cases.items():
        response = client.get("/v1/exercises/eccentric-heel-raise", headers=headers)
        assert response.status_code == 431, name
        assert response.headers["content-type"] == "application/problem+json", name
        assert response.headers["x-content-type-options"] == "nosniff", name
        assert "at most" in response.json()["detail"], name
    fine = {f"x-filler-{i}": "1" for i in range(80)} | {"Authorization": "Bearer " + "x" * 8000}
    assert client.get("/v1/exercises/eccentric-heel-raise", headers=fine).status_code == 200


def test_hsts_is_sent_in_production(settings: Settings, engine: Engine, db_session: Session) -> None:
    app = app_with(settings, engine, db_session, environment="production")
    with TestClient(app) as client:
        assert client.get("/healthz").headers["strict-transport-security"] == "max-age=31536000"


def test_cors_is_closed_by_default(client: TestClient) -> None:
    origin = {"Origin": "https://elsewhere.example"}
    preflight = client.options("/v1/exercises", headers={**origin, "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in client.get("/v1/exercises", headers=origin).headers


def test_cors_allows_the_configured_origins(settings: Settings, engine: Engine, db_session: Session) -> None:
    app = app_with(settings, engine, db_session, cors_origins=["https://app.runstrong.example"])
    with TestClient(app) as client:
        ours = {"Origin": "https://app.runstrong.example"}
        preflight = client.options(
            "/v1/athletes/me/workouts",
            headers={
                **ours,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, idempotency-key, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.runstrong.example"
        assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
        assert preflight.headers["x-content-type-options"] == "nosniff"
        response = client.get("/v1/exercises", headers=ours)
        assert response.headers["access-control-allow-origin"] == "https://app.runstrong.example"
        exposed = response.headers["access-control-expose-headers"].lower()
        # Every header a client reads is readable by a browser's script, as declared in the contract.
        assert {
            "x-request-id",
            "etag",
            "link",
            "location",
            "retry-after",
            "idempotent-replayed",
            "ratelimit",
            "ratelimit-policy",
            "content-disposition",
            "www-authenticate",
        } <= {h.strip() for h in exposed.split(",")}
        other = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"}
        assert client.options("/v1/exercises", headers=other).status_code == 400


# ---------------------------------------------------------------- limits


def test_oversized_bodies_get_413_and_nothing_is_stored(client: TestClient, make_athlete: Any) -> None:
    athlete: Athlete = make_athlete()
    big = {**WORKOUT, "notes": "x" * (1024 * 1024)}
    declared = client.post("/v1/athletes/me/workouts", json=big, headers=athlete.headers)
    assert declared.status_code == 413
    assert declared.headers["content-type"] == "application/problem+json"
    assert "1048576 bytes" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield b'{"started_at": "2026-11-20T17:30:00Z", "notes": "'
        for _ in range(40):
            yield b"y" * 32_768
        yield b'"}'

    streamed = client.post(
        "/v1/athletes/me/workouts",
        content=chunks(),
        headers={**athlete.headers, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert streamed.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/athletes/me/workouts", headers=athlete.headers).json()["items"] == []
    # Uploads have a larger allowance: a 2 MiB file reaches the importer (which rejects it as not a FIT/GPX).
    upload = client.post(
        "/v1/athletes/me/runs/import",
        files={"file": ("run.gpx", b"<" * (2 * 1024 * 1024), "application/gpx+xml")},
        headers=athlete.headers,
    )
    assert upload.status_code == 422, upload.text


def test_a_slow_request_gets_504_but_a_started_stream_runs_on(
    settings: Settings, engine: Engine, db_session: Session, logs: pytest.LogCaptureFixture
) -> None:
    app = app_with(settings, engine, db_session, request_timeout_s=0.3)

    @app.get("/_test/slow")
    def slow() -> dict[str, str]:
        time.sleep(1.0)
        return {}

    @app.get("/_test/stream")
    def stream() -> StreamingResponse:
        def body() -> Iterator[bytes]:
            yield b"first "
            time.sleep(0.6)
            yield b"second"

        return StreamingResponse(body(), media_type="text/plain")

    with TestClient(app) as client:
        started = time.monotonic()
        slow_response = client.get("/_test/slow", headers={"X-Request-ID": "trace-slow"})
        assert slow_response.status_code == 504
        assert slow_response.headers["content-type"] == "application/problem+json"
        assert slow_response.headers["x-request-id"] == "trace-slow"
        assert "Idempotency-Key" in slow_response.json()["detail"]
        assert time.monotonic() - started >= 0.3
        head = client.head("/_test/slow")  # GET's answer without its content, named HEAD in the log
        assert head.status_code == 504 and head.content == b""
        assert "HEAD /_test/slow did not answer within 0.3 s" in logs.text
        assert "GET /_test/slow did not answer within 0.3 s" in logs.text
        streamed = client.get("/_test/stream")
        assert streamed.status_code == 200 and streamed.text == "first second"


def test_writes_and_plan_generation_are_rate_limited_per_client(
    client: TestClient, settings: Settings, engine: Engine, db_session: Session
) -> None:
    runner, other = register(client, "runner"), register(client, "other")  # made before limits apply
    app = app_with(settings, engine, db_session, rate_limit_enabled=True, rate_limit_writes=3, rate_limit_plans=2)
    with TestClient(app, client=("198.51.100.7", 50000)) as limited:
        for left in (2, 1, 0):
            made = limited.post("/v1/athletes/me/workouts", json=WORKOUT, headers=runner.headers)
            assert made.status_code == 201
            # The IETF draft's headers say the quota and what is left of it, on every limited answer.
            assert made.headers["ratelimit-policy"] == '"writes";q=3;w=60'
            assert re.fullmatch(rf'"writes";r={left};t=\d+', made.headers["ratelimit"]), made.headers["ratelimit"]
        refused = limited.post("/v1/athletes/me/workouts", json=WORKOUT, headers=runner.headers)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit"] == f'"writes";r=0;t={refused.headers["retry-after"]}'
        assert "at most 3 every 60 s" in refused.json()["detail"]
        # Reads are not limited; nothing refused was stored; other clients have their own budget.
        listed = limited.get("/v1/athletes/me/workouts", headers=runner.headers)
        assert listed.status_code == 200 and len(listed.json()["items"]) == 3
        assert limited.post("/v1/athletes/me/workouts", json=WORKOUT, headers=other.headers).status_code == 201
        # A personal access token counts against its user's budget, not a fresh one.
        made = client.post("/v1/me/tokens", headers=runner.headers, json={"name": "app", "scopes": ["training:write"]})
        pat = {"Authorization": f"Bearer {made.json()['token']}"}
        assert limited.post("/v1/athletes/me/workouts", json=WORKOUT, headers=pat).status_code == 429
        # Plan generation has its own, smaller budget; anonymous callers count by address,
        # and so do made-up credentials (a new one each time buys nothing).
        previews = [limited.post("/v1/plans/preview", json=PREVIEW) for _ in range(3)]
        assert [p.status_code for p in previews] == [200, 200, 429]
        assert previews[0].headers["ratelimit-policy"] == '"plans";q=2;w=60'
        assert "ratelimit" not in limited.get("/v1/exercises").headers  # reads are not limited
        assert "plan generations" in limited.post("/v1/plans/preview", json=PREVIEW).json()["detail"]
        for forged in (f"rs_pat_{uuid.uuid4().hex}", "not.a.jwt"):
            headers = {"Authorization": f"Bearer {forged}"}
            assert limited.post("/v1/plans/preview", json=PREVIEW, headers=headers).status_code == 429


def test_rate_limits_are_on_in_production_and_off_in_development() -> None:
    assert not Settings().rate_limited
    assert Settings(environment="production", secret_key="p" * 40).rate_limited
    assert not Settings(environment="production", secret_key="p" * 40, rate_limit_enabled=False).rate_limited
    assert Settings(rate_limit_enabled=True).rate_limited


# ---------------------------------------------------------------- a read replica for the catalogue


def test_catalogue_reads_can_go_to_a_read_replica(tmp_path: Path) -> None:
    """The primary here has an empty catalogue, the "replica" a seeded one: catalogue
    reads come from the replica, everything else from the primary."""
    primary, replica = f"sqlite:///{tmp_path / 'primary.db'}", f"sqlite:///{tmp_path / 'replica.db'}"
    migrate(primary)
    migrate(replica)
    replica_engine = build_engine(Settings(database_url=replica))
    seed(replica_engine)
    replica_engine.dispose()
    settings = Settings(
        environment="test", database_url=primary, secret_key="r" * 40, argon2_time_cost=1, argon2_memory_kib=1024
    )
    with TestClient(create_app(settings)) as alone:
        assert alone.get("/v1/exercises").json()["total"] == 0
    with TestClient(create_app(settings.model_copy(update={"catalogue_database_url": replica}))) as client:
        assert client.get("/v1/exercises").json()["total"] > 50
        assert client.get("/v1/exercises/eccentric-heel-raise").status_code == 200
        assert client.get("/readyz").status_code == 200
        athlete = register(client)  # accounts live on the primary
        assert client.get("/v1/me", headers=athlete.headers).status_code == 200
        migrate(replica, "base")
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503 and "catalogue replica" in not_ready.json()["detail"]


def test_metrics_forget_the_live_gauges_of_workers_that_exited(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for pid in (dead.pid, os.getpid()):
        (tmp_path / f"gauge_livesum_{pid}.db").write_bytes(b"")
    (tmp_path / f"counter_{dead.pid}.db").write_bytes(b"")
    forget_dead_workers(tmp_path)
    left = sorted(path.name for path in tmp_path.iterdir())
    assert left == sorted([f"counter_{dead.pid}.db", f"gauge_livesum_{os.getpid()}.db"])


def test_a_failing_row_is_logged_without_its_values(
    client: TestClient, db_session: Session, logs: pytest.LogCaptureFixture, backend: str
) -> None:
    """A database error the service does not expect (a constraint added behind its back) is a
    500 whose log names the statement, not the note in the row PostgreSQL quotes."""
    athlete = register(client)
    if backend == "postgresql":
        db_session.execute(text("ALTER TABLE run ADD CONSTRAINT probe CHECK (notes NOT LIKE 'ZZ%')"))
    else:
        db_session.execute(
            text(
                "CREATE TRIGGER probe BEFORE INSERT ON run WHEN NEW.notes LIKE 'ZZ%' "
                "BEGIN SELECT RAISE(ABORT, 'probe refused the row'); END"
            )
        )
    db_session.commit()  # into the test's outer transaction, rolled back after it
    run = {"started_at": "2026-11-20T08:00:00+00:00", "distance_km": 10.0, "duration_s": 3000}
    response = client.post(
        "/v1/athletes/me/runs",
        json={**run, "notes": "ZZ private note 4711"},
        headers={**athlete.headers, "X-Request-ID": "trace-row"},
    )
    assert response.status_code == 500, response.text
    logged = [r for r in logs.records if getattr(r, "correlation_id", None) == "trace-row" and r.levelname == "ERROR"]
    assert logged, "the failure is logged"
    spec = dict(logging_config(Settings())["formatters"]["json"])
    spec.pop("()")
    written = "\n".join(JsonFormatter(**spec).format(r) for r in logged)
    assert "INSERT INTO run" in written and "probe" in written  # the statement and the reason...
    assert "4711" not in written  # ...but not the row


def test_a_started_app_freezes_what_start_up_made_unless_told_not_to(settings: Settings, engine: Engine) -> None:
    """RUNSTRONG_GC_FREEZE: full collections skip the app's own objects once it has started."""
    import gc

    assert not settings.freeze_heap  # off in tests by default: their apps start many times in one process
    assert settings.model_copy(update={"environment": "production"}).freeze_heap
    gc.unfreeze()
    try:
        with TestClient(create_app(settings.model_copy(update={"gc_freeze": True}), engine)):
            assert gc.get_freeze_count() > 100_000
        gc.unfreeze()
        with TestClient(create_app(settings.model_copy(update={"gc_freeze": False}), engine)):
            assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()


def test_a_started_app_sets_the_collectors_threshold_except_in_tests(settings: Settings, engine: Engine) -> None:
    """RUNSTRONG_GC_THRESHOLD: 10,000 in production; in tests an app leaves the collector as it
    found it unless set (the suite's workers set 10,000 themselves, so Python's 700 is put
    back here first: an app setting 10,000 in tests would otherwise go unseen)."""
    import gc

    assert settings.collector_threshold is None
    assert settings.model_copy(update={"environment": "production"}).collector_threshold == 10_000
    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])
    try:
        with TestClient(create_app(settings, engine)):
            assert gc.get_threshold() == (700, *before[1:])
        with TestClient(create_app(settings.model_copy(update={"gc_threshold": 12_345}), engine)):
            assert gc.get_threshold() == (12_345, *before[1:])
    finally:
        gc.set_threshold(*before)


def test_the_edge_counts_on_a_connection_of_its_own(settings: Settings, engine: Engine) -> None:
    """In production the edge counts on a Core connection of its own (the app tests hand it
    their session): there a personal access token is known by its owner, a made-up one is
    not, the count is committed for every worker to see, and a connection closed without a
    commit gives SQLite's write lock back at once."""
    secret = f"rs_pat_{uuid.uuid4().hex}"
    user = User(email=f"{uuid.uuid4().hex}@example.com", password_hash="-", display_name="edge")
    token = PersonalAccessToken(
        user_id=user.id,
        name="edge",
        prefix=secret[:12],
        token_hash=security.token_digest(secret),
        scopes=["training:write"],
        expires_at=utcnow() + timedelta(days=1),
    )
    user_id, token_id = user.id, token.id  # read before the commit expires the objects
    key = f"writes:user:{user_id}"
    with Session(engine) as session:
        session.add(user)
        session.flush()
        session.add(token)
        session.commit()
    try:
        identify = client_identity(settings)
        with write_connection(engine) as conn:
            assert identify(conn, secret) == f"user:{user_id}"
            assert identify(conn, f"rs_pat_{uuid.uuid4().hex}") is None
            counted = [ratelimit.hit(conn, key, limit=2, window_s=60) for _ in range(3)]
        assert [(d.allowed, d.count) for d in counted] == [(True, 1), (True, 2), (False, 3)]
        with write_connection(engine) as conn:
            conn.execute(text("SELECT 1"))  # a transaction begun (BEGIN IMMEDIATE on SQLite), never committed
        started = time.monotonic()
        with write_connection(engine) as conn:  # another connection sees the committed count
            assert ratelimit.hit(conn, key, limit=2, window_s=60).count == 4
        assert time.monotonic() - started < 1
    finally:
        with Session(engine) as session:
            ratelimit.forget(session, key)
            session.execute(delete(PersonalAccessToken).where(col(PersonalAccessToken.id) == token_id))
            session.execute(delete(User).where(col(User.id) == user_id))
            session.commit()


def test_the_count_on_the_driver_is_the_same_count(engine: Engine, backend: str) -> None:
    """The edge's count on the database driver (``ratelimit.count_now``: SQLite's driver,
    PostgreSQL's asynchronous pool) and ``ratelimit.hit`` through SQLAlchemy count one
    bucket alike: the window, the refusal past the limit, the restart once the window is
    over, the time to wait; a PAT holder's identity, which needs the database, is not
    guessed without it; and a count on a pool not yet opened gives way."""
    settings = Settings(environment="test", secret_key=SecretStr("x" * 40))
    key, t0 = f"writes:addr:{uuid.uuid4().hex}", 1_000_000.0

    def hit_the_sqlalchemy_way(now: float) -> ratelimit.Decision:
        with write_connection(engine) as conn:
            return ratelimit.hit(conn, key, limit=2, window_s=60, now=now)

    async def counts() -> list[ratelimit.Decision]:
        count = ratelimit.count_now(engine, settings)
        if backend == "postgresql":
            with pytest.raises(NotNow):
                await count(key, limit=2, window_s=60, now=t0)
        await count.start()
        if isinstance(count, ratelimit.PostgresqlCountNow):
            await count.pool.wait()  # its first connection made (it opens in the background)
        try:
            first = await count(key, limit=2, window_s=60, now=t0)
            second = await asyncio.to_thread(hit_the_sqlalchemy_way, t0 + 10)
            third = await count(key, limit=2, window_s=60, now=t0 + 20)
            restarted = await count(key, limit=2, window_s=60, now=t0 + 61)
        finally:
            await count.stop()
        return [first, second, third, restarted]

    try:
        assert [(d.allowed, d.count, d.retry_after_s) for d in asyncio.run(counts())] == [
            (True, 1, 60),
            (True, 2, 50),
            (False, 3, 40),
            (True, 1, 60),
        ]
        identify = client_identity(settings)
        with pytest.raises(ratelimit.LookupNeeded):
            identify(None, f"rs_pat_{uuid.uuid4().hex}")
    finally:
        with Session(engine) as session:
            ratelimit.forget(session, key)
            session.commit()
