"""What an operator sees: JSON log lines carrying the request id, one access line per
request, and Prometheus metrics at ``/metrics``.

* ``X-Request-ID`` is taken from the client when it is a plain token (letters, digits,
  ``.``, ``_``, ``:``, ``-``; at most 128 characters) or generated, echoed in the response,
  and attached to every log line written while the request runs (asgi-correlation-id's
  context variable and log filter; ``Telemetry`` sets it, one middleware layer instead of two).
* Request count and latency per method, route template and status, requests in flight
  and database connections in use, with prometheus_client (the official client). Under
  several workers ``runstrong serve`` gives it a shared ``PROMETHEUS_MULTIPROC_DIR``, so
  any worker's ``/metrics`` reports them all.
* The access line is written with the metrics, once the response is sent: method, path,
  route, status, duration, client address and, when the caller authenticated, the user
  id. Never headers, query strings or bodies.

The route template comes from the matched route (FastAPI puts it in the scope); responses
answered before routing (catalogue cache hits, 429s) look it up in an index of compiled
templates, memoised per path. Matching every route per request, as generic
instrumentation middleware does, cost ~150 us per request here, doubling a cache hit.

The JSON lines are python-json-logger's format; ``app.core.logs.JsonLines`` writes the common line (a
message without exception or stack) without that library's generic per-record work, the
same bytes for about half the work; the access line (``app.core.access_log``), written for
every request, goes to the service's own handler as text made from a template, without a
``LogRecord``.
"""

from __future__ import annotations

import hmac
import logging
import os
import random
import re
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from asgi_correlation_id import correlation_id
from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.metrics_core import Metric
from pydantic import SecretStr
from pythonjsonlogger.core import RESERVED_ATTRS
from sqlalchemy import Engine, event
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import access_log
from app.core.config import Settings
from app.core.db import kept_idle
from app.core.errors import problem_response
from app.core.routes import UNMATCHED, route_index
from app.core.tally import Tally

REQUEST_ID_LOG = logging.getLogger("asgi_correlation_id")  # where the request-id warning always went
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_HEADER_NAME = REQUEST_ID_HEADER.lower().encode()
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_PID = re.compile(r"_(\d+)\.db$")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# One set of metrics per process (the default registry), shared by every app built in it.
REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "handler", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the request to the end of the response, by method, route template and status.",
    ["method", "handler", "status"],
    buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "http_requests_in_flight",
    "Requests being served now (summed over workers).",
    multiprocess_mode="livesum",
)
DB_IN_USE = Gauge(
    "runstrong_db_connections_in_use",
    "Database connections checked out of the pool (summed over workers).",
    multiprocess_mode="livesum",
)
DB_OPEN = Gauge(
    "runstrong_db_connections_open",
    "Database connections the pool holds open (summed over workers).",
    multiprocess_mode="livesum",
)
DB_CAPACITY = Gauge(
    "runstrong_db_pool_capacity",
    "Most connections the pool may open: pool size plus overflow (summed over workers).",
    multiprocess_mode="livesum",
)
RATE_LIMITED = Counter("runstrong_rate_limited_total", "Requests refused with 429, by limit.", ["limit"])
RATE_LIMIT_COUNTS = Counter(
    "runstrong_rate_limit_counts_total",
    "Write rate-limit counts, by where they ran: on the database driver on the event loop "
    "(driver), or through SQLAlchemy in the thread pool (thread_pool: a held SQLite lock, no "
    "free count connection, a personal access token to look up, a sweep, a failure).",
    ["way"],
)
TIMED_OUT = Counter("runstrong_request_timeouts_total", "Requests answered 504 for running too long.")
# The requests' count, latency and in-flight gauge, folded into the series once a turn.
TALLY = Tally(REQUESTS, LATENCY, IN_FLIGHT)

_instrumented_pools: weakref.WeakSet[Any] = weakref.WeakSet()


def new_request_id() -> str:
    """32 hex digits. Not a secret, only unique: the process's Mersenne Twister (seeded from
    os.urandom) is ten times cheaper than uuid4's system call on every request."""
    return f"{random.getrandbits(128):032x}"


def valid_request_id(value: str) -> bool:
    return _REQUEST_ID.fullmatch(value) is not None


def request_id(scope: Scope) -> str:
    """The client's ``X-Request-ID`` if it is a plain token, else a new one (a warning
    says so when the client's was refused)."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER_NAME:
            given: str = value.decode("latin-1")
            if not given:
                break
            if valid_request_id(given):
                return given
            generated = new_request_id()
            REQUEST_ID_LOG.warning(
                "Generated new request ID (%s), since request header value failed validation", generated
            )
            return generated
    return new_request_id()


def logging_config(settings: Settings) -> dict[str, Any]:
    """``logging.config.dictConfig`` for the service and uvicorn: JSON (or text) lines on
    stdout, each with the request id; uvicorn's own access log is replaced by ours."""
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "asgi_correlation_id.CorrelationIdFilter"},
            "redact": {"()": "app.core.logs.RedactSecrets"},
        },
        "formatters": {
            "json": {
                "()": "app.core.logs.JsonLines",
                "fmt": "%(levelname)s %(name)s %(message)s %(correlation_id)s %(process)d",
                "rename_fields": {
                    "levelname": "level",
                    "name": "logger",
                    "correlation_id": "request_id",
                    "process": "pid",
                },
                "timestamp": "time",
                # uvicorn's colour-coded copy of its message has no place in JSON.
                "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
            },
            "text": {"format": "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s"},
        },
        "handlers": {
            "stdout": {
                # The access line of every request is written in batches (a write and a
                # flush per line cost as much as formatting it); anything else at once.
                "class": "app.core.logs.BatchedLines",
                "stream": "ext://sys.stdout",
                "formatter": settings.log_format,
                "filters": ["request_id", "redact"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stdout"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "alembic": {"level": "WARNING"},  # the readiness probe loads migration scripts
        },
        "root": {"handlers": ["stdout"], "level": level},
    }


def instrument_engine(engine: Engine) -> None:
    """Count the pool's connections in the metrics (once per pool)."""
    pool = engine.pool
    if pool in _instrumented_pools:
        return
    _instrumented_pools.add(pool)
    size = getattr(pool, "size", None)
    if callable(size):
        DB_CAPACITY.set(size() + max(getattr(pool, "_max_overflow", 0), 0))

    if not (callable(getattr(pool, "checkedout", None)) and callable(getattr(pool, "checkedin", None))):
        return
    pool_ref = weakref.ref(pool)  # the listeners live on the pool: no cycle keeping it alive
    idle = kept_idle(pool)  # checked out, but kept for the next requests' reads

    def observe(*_: Any, returning: int = 0) -> None:
        # Read from the pool, not counted from events: right even if connections were
        # out before the listeners were attached.
        current = pool_ref()
        if current is not None:
            out = current.checkedout()  # type: ignore[attr-defined]
            DB_IN_USE.set(out - returning - idle.count)
            DB_OPEN.set(out + current.checkedin())  # type: ignore[attr-defined]

    def returned(*_: Any) -> None:
        observe(returning=1)  # the pool tells of a checkin before it counts the connection back

    for name in ("checkout", "connect", "close"):
        event.listen(pool, name, observe)
    event.listen(pool, "checkin", returned)
    # A kept connection taken or given back changes only what is in use: one update, not
    # the pool's counts read again (on every read request).
    idle.watchers.append(lambda change: DB_IN_USE.dec(change))
    observe()


class Telemetry:
    """The request id, metrics and the access line for every HTTP request: one layer (the
    id used to be asgi-correlation-id's middleware, a layer of its own with a header copy)."""

    def __init__(self, app: ASGIApp, *, metrics: bool) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                correlation_id.set(request_id(scope))
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        rid_header = identified(scope)

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), rid_header]}
            await send(message)

        if self.metrics:
            TALLY.began()
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            noted(scope, route_template(scope), status, time.perf_counter() - start, metrics=self.metrics)


def identified(scope: Scope) -> tuple[bytes, bytes]:
    """The request's id, set for its log lines; the response header that carries it."""
    rid = request_id(scope)
    correlation_id.set(rid)
    return (REQUEST_ID_HEADER_NAME, rid.encode("latin-1"))


def noted(scope: Scope, route: str, status: int, duration: float, *, metrics: bool) -> None:
    """A request answered: counted and timed by route and status, out of the requests in
    flight (``metrics``: counted in with ``TALLY.began()`` when it came), and its access
    line written."""
    if metrics:
        TALLY.ended(scope["method"], route, status, duration)
    if access_log.ACCESS_LOG.isEnabledFor(logging.INFO):
        access_log.write(scope, route, status, duration)


def route_template(scope: Scope) -> str:
    """The path template the request matched (``/v1/exercises/{slug}``), or ``unmatched``."""
    template = getattr(scope.get("route"), "path_format", None)
    if isinstance(template, str):
        return template
    app = scope.get("app")
    return route_index(app).template_of(scope["path"]) if app is not None else UNMATCHED


def forget_dead_workers(folder: Path) -> None:
    """Drop the live gauges (in flight, connections) of workers that have exited: uvicorn
    replaces a worker that dies, and its last values would otherwise stay in the sums.
    Counters and histograms of dead workers are kept, as Prometheus expects."""
    pids = {int(match.group(1)) for path in folder.glob("gauge_live*.db") if (match := _PID.search(path.name))}
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]
        except PermissionError:
            continue  # alive, under another user


class _EveryWorker:
    """Collects every worker's metrics from the multiprocess folder, forgetting the live
    gauges of exited workers first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # prometheus_client's multiprocess module has no annotations, hence the ignores.
        self.collector = multiprocess.MultiProcessCollector(None, path=str(folder))  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        TALLY.fold()  # this worker's requests, in its files before they are read
        forget_dead_workers(self.folder)
        collected: Iterable[Metric] = self.collector.collect()  # type: ignore[no-untyped-call]
        return collected


class _Folded:
    """This process's metrics, with the requests counted since the last fold."""

    def collect(self) -> Iterable[Metric]:
        TALLY.fold()
        return REGISTRY.collect()


def metrics_registry() -> CollectorRegistry:
    """This process's metrics or, with several workers, all of theirs together; every
    request answered before a scrape of it is counted (``TALLY`` folds first)."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    registry = CollectorRegistry()
    registry.register(_EveryWorker(Path(folder)) if folder else _Folded())
    return registry


def metrics_endpoint(token: SecretStr | None) -> Callable[[Request], Awaitable[Response]]:
    """``/metrics`` on the API's port, behind ``Authorization: Bearer <token>`` when one is set."""
    expected = f"Bearer {token.get_secret_value()}".encode() if token is not None else None

    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return problem_response(
                    request,
                    401,
                    "The metrics need the metrics bearer token.",
                    slug="unauthorized",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return Response(generate_latest(metrics_registry()), media_type=CONTENT_TYPE_LATEST)

    return metrics


def start_metrics_server(host: str, port: int) -> None:
    """Serve ``/metrics`` on its own port from a thread of this process: with several workers,
    the process that supervises them, reading every worker's counts (one listener)."""
    start_http_server(port, addr=host, registry=metrics_registry())


def install_observability(app: FastAPI, settings: Settings, engine: Engine) -> None:
    """Add the request id, metrics and access-log middleware, outermost; serve
    ``/metrics`` on the API's port if the settings say so (see ``Settings.metrics_on_api_port``).
    Call it after every other ``add_middleware`` (the last added runs first)."""
    if settings.metrics_enabled:
        instrument_engine(engine)
    if settings.metrics_on_api_port:
        app.add_route("/metrics", metrics_endpoint(settings.metrics_token), include_in_schema=False)
    app.add_middleware(Telemetry, metrics=settings.metrics_enabled)
