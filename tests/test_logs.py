"""The service's JSON log lines: the fast formatter writes what python-json-logger would."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from asgi_correlation_id import correlation_id
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonjsonlogger.json import JsonEncoder, JsonFormatter

from app.core import access_log
from app.core.access_log import ACCESS_LOG
from app.core.config import Settings
from app.core.logs import BatchedLines, JsonLines, RedactSecrets, iso_time
from app.core.observability import logging_config


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
        access_log.write(scope, "unmatched", 404, 0.0015)
    line = caplog.records[-1]
    assert line.name == "runstrong.access" and line.levelno == logging.INFO
    assert line.getMessage() == "GET /v1/nowhere/[redacted] 404 1.5 ms"
    assert line.path == "/v1/nowhere/[redacted]"  # type: ignore[attr-defined]
    assert "rs_feed_abc123" not in str(line.__dict__)
    assert RedactSecrets().filter(line) and line.getMessage() == "GET /v1/nowhere/[redacted] 404 1.5 ms"
    fast, library = formatters()
    line.correlation_id = "trace-1"
    assert fast.format(line) == library.format(line)


NAN = float("nan")
ACCESS_CASES: list[tuple[dict[str, Any], str, int, float]] = [
    # (scope, route, status, seconds): non-ASCII, a secret, quotes and newlines, no client,
    # a user id of each kind, a duration that is not a number
    (
        {"method": "GET", "path": "/v1/é/rs_feed_abc123", "client": None, "state": {"user_id": 7}},
        "unmatched",
        404,
        0.0015,
    ),
    ({"method": "POST", "path": '/v1/"q"\n\\', "client": ("::1", 1), "state": {}}, "/v1/x", 201, 12.3456789),
    (
        {"method": "GET", "path": "/v1/me", "client": ("10.0.0.1", 1), "state": {"user_id": "u☃"}},
        "/v1/me",
        200,
        float("nan"),
    ),
]


def last_line(stream: io.StringIO) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return stream.getvalue().splitlines()[-1]


@pytest.mark.parametrize("request_id", ["trace-1", None])
def test_the_access_line_written_directly_is_the_line_logging_writes(
    service_logging: io.StringIO, monkeypatch: pytest.MonkeyPatch, request_id: str | None
) -> None:
    correlation_id.set(request_id)
    made: list[dict[str, Any]] = []
    monkeypatch.setattr(access_log, "_record", lambda attrs: access_record_of(attrs, made))
    # pytest's own capture handler on the root logger would take the records' way.
    monkeypatch.setattr(
        logging.getLogger(), "handlers", [h for h in logging.getLogger().handlers if h.name == "stdout"]
    )
    for scope, route, status, seconds in ACCESS_CASES:
        made.clear()
        access_log.write(scope, route, status, seconds)
        direct = last_line(service_logging)
        assert made == [], "the service's own handler gets the line without a LogRecord"
        # The same request through logging's own path: a filter on the logger (which
        # lets everything through) is enough to make the line a record again.
        ACCESS_LOG.addFilter(logging.Filter())
        try:
            access_log.write(scope, route, status, seconds)
        finally:
            ACCESS_LOG.filters.clear()
        assert len(made) == 1
        through_logging = last_line(service_logging)
        # Written a few microseconds apart: everything but the time is the same text.
        assert direct.rpartition(', "time": ')[0] == through_logging.rpartition(', "time": ')[0]
        assert json.loads(direct)["request_id"] == request_id
        assert "rs_feed_abc123" not in direct


def access_record_of(attrs: dict[str, Any], made: list[dict[str, Any]]) -> logging.LogRecord:
    made.append(attrs)
    record = logging.LogRecord.__new__(logging.LogRecord)
    record.__dict__.update(attrs)
    return record


def test_a_capture_handler_or_text_lines_get_the_access_record(
    service_logging: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    scope, route, status, seconds = ACCESS_CASES[0]
    with caplog.at_level(logging.INFO, logger="runstrong.access"):
        access_log.write(scope, route, status, seconds)
    assert [r.getMessage() for r in caplog.records] == ["GET /v1/é/[redacted] 404 1.5 ms"]
    assert '"status": 404' in last_line(service_logging), "the service's handler still writes it"
    text = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    logging.getLogger().handlers[0].setFormatter(text)
    access_log.write(scope, route, status, seconds)
    assert last_line(service_logging) == "INFO runstrong.access: GET /v1/é/[redacted] 404 1.5 ms"


def test_a_template_writes_what_the_formatter_writes() -> None:
    fast, library = formatters()
    renamed = JsonLines(
        "%(levelname)s %(message)s %(lineno)d", rename_fields={"path": "url", "lineno": "time"}, timestamp="time"
    )
    variable = ("status", "path", "created", "message")
    for formatter in (fast, renamed):
        line = record(correlation_id="trace-1", method="GET", path="/v1/me", status=200, _private=1)
        line.other = [1, "é", "100%"]  # a constant with the format's own character
        line.message = line.getMessage()
        attrs = dict(line.__dict__)
        template = formatter.template(attrs, variable)
        assert template is not None
        for path, status, when in (
            ("/v1/x", 201, 0.0),
            ('"é"\n%s%%', None, 1_800_000_000.123456),
            ("/", True, 1.5),
            ("/", 1.0, 1_799_999_999.9999996),  # rounds up into the next second
        ):
            changed = record(
                correlation_id="trace-1", method="GET", path=path, status=status, _private=1, other=[1, "é", "100%"]
            )
            changed.created = when
            changed.message = changed.getMessage()
            assert template(tuple(changed.__dict__[name] for name in variable)) == formatter.format(changed)
            if formatter is fast:
                assert formatter.format(changed) == library.format(changed)
    indented = JsonLines("%(message)s", json_indent=2)
    assert indented.template(attrs, ("message", "created")) is None
    assert fast.template(attrs, ("message",)) is None, "a line's time is never a constant"


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.floats(min_value=-2e9, max_value=4e9), st.integers(-2_000_000_000, 4_000_000_000).map(float)))
def test_the_time_is_written_as_isoformat_writes_it(created: float) -> None:
    assert iso_time(created) == datetime.fromtimestamp(created, tz=UTC).isoformat()
    nearby = created + 0.5
    assert iso_time(nearby) == datetime.fromtimestamp(nearby, tz=UTC).isoformat(), "the second kept is not reused"


def test_the_direct_line_follows_a_filter_or_prefix_changed_after_the_first_line(
    service_logging: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler for handler in root.handlers if handler.name == "stdout"])
    handler = root.handlers[0]
    request_ids = handler.filters[0]
    correlation_id.set("trace-2")
    scope, route, status, seconds = ACCESS_CASES[1]

    def both() -> tuple[str, str]:
        access_log.write(scope, route, status, seconds)
        direct = last_line(service_logging)
        ACCESS_LOG.addFilter(logging.Filter())
        try:
            access_log.write(scope, route, status, seconds)
        finally:
            ACCESS_LOG.filters.clear()
        return direct.rpartition(', "time": ')[0], last_line(service_logging).rpartition(', "time": ')[0]

    handler.removeFilter(request_ids)
    direct, through_logging = both()
    assert direct == through_logging and '"request_id": null' in direct
    handler.addFilter(request_ids)
    direct, through_logging = both()
    assert direct == through_logging and '"request_id": "trace-2"' in direct
    assert isinstance(handler.formatter, JsonLines)
    handler.formatter.prefix = "@cee: "
    direct, through_logging = both()
    assert direct == through_logging and direct.startswith("@cee: {")


def crowd() -> None:
    """Many threads making access records at once: every thread's prototype is forgotten."""
    ready = threading.Barrier(70)

    def make() -> None:
        access_log.access_record(access_log.MESSAGE, ("GET", "/", 200, 1.0), {})
        ready.wait()

    workers = [threading.Thread(target=make) for _ in range(70)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_a_thread_renamed_after_its_templates_were_forgotten_gets_its_new_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    handler = BatchedLines(stream, capacity=1)
    handler.setFormatter(JsonLines("%(threadName)s %(message)s"))
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    scope, route, status, seconds = ACCESS_CASES[2]
    thread = threading.current_thread()
    monkeypatch.setattr(thread, "name", "first")
    crowd()
    access_log.write(scope, route, status, seconds)
    assert json.loads(stream.getvalue().splitlines()[-1])["threadName"] == "first"
    thread.name = "second"
    crowd()
    access_log.write(scope, route, status, seconds)
    assert json.loads(stream.getvalue().splitlines()[-1])["threadName"] == "second"
    handler.close()


def reporting(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> tuple[BatchedLines, list[logging.LogRecord], access_log.Line]:
    """A batching handler on ``stream`` whose reports of lost lines are kept in a list, and
    an access line's template that writes "a line"."""
    handler = BatchedLines(stream, **options)
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", reported.append)
    return handler, reported, access_log.Line(lambda values: "a line", {"created": 0.0, "relativeCreated": 0.0})


def test_a_failed_batch_write_is_reported_by_logging_not_raised_into_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    handler, reported, line = reporting(Broken(), monkeypatch, capacity=1)
    raw = ("GET", "/v1/calendar/rs_feed_abc123", "/v1/calendar/{token}", 200, 0.0015, None, None, None, 0.0)
    handler.add_later(line, raw)  # no exception
    handler.add_later(lambda values: str(values), "values of no known kind")
    assert [r.getMessage() for r in reported] == [
        "GET /v1/calendar/[redacted] 200 1.5 ms",
        "a line that could not be written",
    ]
    handler.close()


def test_a_batch_the_stream_refuses_on_the_flusher_thread_is_reported_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines written by the flusher thread (a batch not yet full, ``interval`` after its
    first line) that the stream refuses are reported through ``handleError``: their number
    and the first, its token redacted; none is raised, and a later batch is written."""
    refusing = [True]

    class Flaky(io.StringIO):
        def write(self, text: str) -> int:
            if refusing[0]:
                raise BrokenPipeError(32, "Broken pipe")
            return super().write(text)

    stream = Flaky()
    handler, reported, line = reporting(stream, monkeypatch, capacity=64, interval=0.01)
    raw = ("GET", "/v1/calendar/rs_feed_abc123", "/v1/calendar/{token}", 200, 0.0015, None, None, None, 0.0)
    handler.add_later(line, raw)
    handler.add_later(line, raw)
    deadline = time.monotonic() + 5
    while not reported and time.monotonic() < deadline:
        time.sleep(0.005)
    assert [r.getMessage() for r in reported] == [
        "2 lines could not be written, the first: GET /v1/calendar/[redacted] 200 1.5 ms"
    ]
    refusing[0] = False
    handler.add_later(line, raw)
    handler.close()
    assert stream.getvalue() == "a line\n"
    assert len(reported) == 1


def test_lines_a_buffered_stream_refuses_at_its_flush_are_reported_each_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A buffered stream (stdout without PYTHONUNBUFFERED) takes a batch and refuses it at
    its flush: the batch is reported as lost all the same. A line whose template failed is
    reported as that, once, and is not counted again among the lines the stream refused."""

    class Buffered(io.StringIO):
        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    handler, reported, line = reporting(Buffered(), monkeypatch, capacity=3)
    raw = ("POST", "/v1/athletes/me/workouts", "/v1/athletes/{athlete_id}/workouts", 201, 0.0042, None, None, None, 0.0)

    def broken(values: object) -> str:
        raise ValueError("cannot be made")

    handler.add_later(broken, "values of no known kind")
    handler.add_later(line, raw)
    handler.add_later(line, raw)  # the third: the batch is written
    assert [r.getMessage() for r in reported] == [
        "a line that could not be written",
        "2 lines could not be written, the first: POST /v1/athletes/me/workouts 201 4.2 ms",
    ]
    handler.capacity = 1
    handler.add_later(broken, "values of no known kind")  # a batch of one line that cannot be made
    assert len(reported) == 3  # that line once, not again when the stream then refuses to flush
    monkeypatch.setattr(handler, "stream", io.StringIO())
    handler.close()


def test_a_token_is_redacted_whatever_the_case_of_its_prefix() -> None:
    """The filter's quick test reads text as its expression does, without regard to case."""
    for text, redacted in [
        ("GET /v1/calendar/RS_FEED_abc123", "GET /v1/calendar/[redacted]"),
        ("GET /v1/calendar/feed?TOKEN=xyz", "GET /v1/calendar/feed?TOKEN=[redacted]"),
    ]:
        made = logging.makeLogRecord({"msg": text})
        assert RedactSecrets().filter(made)
        assert made.getMessage() == redacted


def test_json_lines_match_the_library_with_a_default_of_its_own_and_numeric_extra_keys() -> None:
    options: dict[str, Any] = {
        "fmt": "%(message)s",
        "timestamp": True,
        "json_encoder": JsonEncoder,
        "json_default": lambda value: f"<{type(value).__name__}>",
    }
    line = record()
    assert JsonLines(**options).format(line) == JsonFormatter(**options).format(line)
    assert '"timestamp": "<datetime>"' in JsonLines(**options).format(line)
    numbered = record()
    cast(dict[Any, Any], numbered.__dict__)[1] = "one"
    fast, library = formatters()
    assert fast.format(numbered) == library.format(numbered)
    assert '"1": "one"' in fast.format(numbered)


def test_a_line_made_while_another_thread_forgets_every_prototype_is_still_written(
    service_logging: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler for handler in root.handlers if handler.name == "stdout"])
    formatter = root.handlers[0].formatter
    assert isinstance(formatter, JsonLines)
    making = formatter.template

    def forgetting(attrs: dict[str, Any], variable: Sequence[str]) -> Any:
        # What a crowd of other threads does between this thread's steps (see crowd()).
        access_log._PROTOTYPES.clear()
        access_log._TEMPLATES.clear()
        return making(attrs, variable)

    monkeypatch.setattr(formatter, "template", forgetting)
    access_log._forget()
    scope, route, status, seconds = ACCESS_CASES[1]
    access_log.write(scope, route, status, seconds)  # no KeyError into the request
    assert json.loads(last_line(service_logging))["route"] == route
