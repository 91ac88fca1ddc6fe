"""The service's JSON log lines: the fast formatter writes what python-json-logger would."""

from __future__ import annotations

import logging
import sys

import pytest
from pythonjsonlogger.json import JsonFormatter

from app.core.config import Settings
from app.core.logs import JsonLines, RedactSecrets
from app.core.observability import Telemetry, logging_config


def formatters() -> tuple[JsonLines, JsonFormatter]:
    spec = dict(logging_config(Settings(database_url="sqlite://"))["formatters"]["json"])
    assert spec.pop("()") == "app.core.logs.JsonLines"
    return JsonLines(**spec), JsonFormatter(**spec)


def record(**extra: object) -> logging.LogRecord:
    made = logging.getLogger("runstrong.access").makeRecord(
        "runstrong.access", logging.INFO, __file__, 1, "%s %s %s %.1f ms", ("GET", "/v1/me", 200, 1.5), None
    )
    made.__dict__.update(extra)
    return made


def test_an_access_line_is_the_same_json_as_python_json_logger_writes() -> None:
    fast, library = formatters()
    line = record(
        correlation_id="trace-1",
        method="GET",
        path="/v1/me",
        route="/v1/me",
        status=200,
        duration_ms=1.5,
        client="127.0.0.1",
        user_id=None,
        _private="left out",
    )
    assert fast.format(line) == library.format(line)
    assert '"request_id": "trace-1"' in fast.format(line) and "_private" not in fast.format(line)


def test_a_line_with_an_exception_is_the_same_json_as_python_json_logger_writes() -> None:
    fast, library = formatters()
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        line = record(correlation_id=None)
        line.exc_info = sys.exc_info()
    assert fast.format(line) == library.format(line)
    assert "RuntimeError: boom" in fast.format(line)


def test_the_access_line_is_redacted_at_its_source_and_written_as_the_library_would(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scope = {"method": "GET", "path": "/v1/nowhere/rs_feed_abc123", "client": ("127.0.0.1", 1), "state": {}}
    with caplog.at_level(logging.INFO, logger="runstrong.access"):
        Telemetry._log(scope, "unmatched", 404, 0.0015)
    line = caplog.records[-1]
    assert line.name == "runstrong.access" and line.levelno == logging.INFO
    assert line.getMessage() == "GET /v1/nowhere/[redacted] 404 1.5 ms"
    assert line.path == "/v1/nowhere/[redacted]"  # type: ignore[attr-defined]
    assert "rs_feed_abc123" not in str(line.__dict__)
    assert RedactSecrets().filter(line) and line.getMessage() == "GET /v1/nowhere/[redacted] 404 1.5 ms"
    fast, library = formatters()
    line.correlation_id = "trace-1"
    assert fast.format(line) == library.format(line)
