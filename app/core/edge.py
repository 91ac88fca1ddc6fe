"""The service's edge: what every request passes before it reaches a route.

``Guard`` (outer) answers 431 to a request with more than ``max_headers`` headers or more
than ``max_header_bytes`` of them (the server, h11, has bounded what it read: see
``runstrong serve``), puts security headers on every response and turns an unhandled error
into a logged 500 problem carrying the request id.

``Limits`` (inner, after CORS) refuses what is too big, too frequent or too slow:

* bodies larger than ``max_body_bytes`` (the upload allowance on upload paths) get 413,
  from ``Content-Length`` before anything is read, or while a chunked body streams in;
* writes (POST, PUT, PATCH, DELETE) and plan generation count against per-client
  fixed-window limits kept in the database (:mod:`app.core.ratelimit`), so every worker
  and host shares them; over the limit is 429 with ``Retry-After``. A client is its user
  (from the bearer credential) or, anonymous, its address;
* a request that has not started its response within ``request_timeout_s`` gets 504.
  Work already running in a thread finishes (the database's statement timeout bounds
  it) but its response is dropped; a write retried with its Idempotency-Key is safe.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import anyio.to_thread
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import ratelimit
from app.core.config import Settings
from app.core.db import NotNow
from app.core.errors import problem_response, unexpected_error
from app.core.observability import RATE_LIMIT_COUNTS, RATE_LIMITED, TIMED_OUT

log = logging.getLogger("runstrong.edge")

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})

API_CSP = b"default-src 'none'; frame-ancestors 'none'"
SVG_CSP = b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
# The documentation pages load their assets from this service only (app/core/docs.py);
# Swagger UI's page starts it with an inline script, ReDoc draws with a worker from a blob.
DOCS_CSP = (
    b"default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; "
    b"frame-ancestors 'none'"
)

# A client's identity for the rate limits, from its bearer credential, read on the rate
# limit's own connection (None: unknown, so the client counts by its address). Given no
# connection, a credential only the database can tell raises ratelimit.LookupNeeded.
Identify = Callable[[Session | Connection | None, str], str | None]
MAX_ADDRESS = 64  # characters of a client address kept in a bucket key
COUNTED_ON_THE_DRIVER = RATE_LIMIT_COUNTS.labels("driver")
COUNTED_IN_THE_POOL = RATE_LIMIT_COUNTS.labels("thread_pool")


def _without_content(send: Send) -> Send:
    """``send`` with every part of the response's body left empty (its headers, the
    ``Content-Length`` a GET would have included, unchanged)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return sending


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """OWASP's set for a JSON API. Document-only headers (Permissions-Policy,
    Cross-Origin-Opener-Policy) are left out: uvicorn checks every header of every
    response in Python, about 2 us each, which is a tenth of a cached catalogue answer."""
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
    ]
    if settings.hsts_seconds:
        headers.append((b"strict-transport-security", f"max-age={settings.hsts_seconds}".encode()))
    return headers


class Guard:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.headers = security_headers(settings)
        self.max_header_bytes = settings.max_header_bytes
        self.max_headers = settings.max_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        refusal = header_refusal(scope["headers"], self.max_headers, self.max_header_bytes)

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = self._secured(scope, message)
            await send(message)

        if refusal is not None:
            response = problem_response(Request(scope), 431, refusal, slug="request-header-fields-too-large")
            await response(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if started:  # the response is cut short; the server closes the connection
                raise
            response = await unexpected_error(Request(scope), exc)
            await response(scope, receive, send_with_headers)

    def _secured(self, scope: Scope, start: Message) -> Message:
        """The response start with the security headers (one pass over its headers)."""
        headers = [*start.get("headers", ()), *self.headers]
        csp = cache_control = False
        content_type: bytes | None = None
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"content-type":
                if content_type is None:
                    content_type = value
            elif lowered == b"content-security-policy":
                csp = True
            elif lowered == b"cache-control":
                cache_control = True
        if not csp:
            headers.append((b"content-security-policy", self._csp(scope, content_type or b"")))
        if not cache_control and any(n == b"authorization" for n, _ in scope["headers"]):
            headers.append((b"cache-control", b"no-store"))  # personal data: no shared caches
        return {**start, "headers": headers}

    @staticmethod
    def _csp(scope: Scope, content_type: bytes) -> bytes:
        if scope["path"] in DOCS_PATHS:
            return DOCS_CSP
        return SVG_CSP if content_type.startswith(b"image/svg+xml") else API_CSP


def header_refusal(headers: list[tuple[bytes, bytes]], max_headers: int, max_header_bytes: int) -> str | None:
    """Why a request's headers are refused (too many, too large), or None. A few additions
    per request: the server has already bounded what it read."""
    if len(headers) > max_headers:
        return f"The request has {len(headers)} headers; at most {max_headers} are accepted."
    size = sum(len(name) + len(value) for name, value in headers)
    if size > max_header_bytes:
        return f"The request's headers total {size} bytes; at most {max_header_bytes} are accepted."
    return None


class Limits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        connections: Callable[[], AbstractContextManager[Session | Connection]],
        count_now: Callable[[], ratelimit.CountNow | None] = lambda: None,
        identify: Identify,
        uploads: tuple[re.Pattern[str], int],
        plan_generation: re.Pattern[str],
    ) -> None:
        """``uploads``: paths that take files and how many bytes they may send;
        ``plan_generation``: paths that count against the plan budget, not the write one."""
        self.app = app
        self.settings = settings
        self.connections = connections
        self.count_now = count_now
        self.identify = identify
        self.upload_paths, self.upload_bytes = uploads
        self.plan_generation = plan_generation
        self.timeout = settings.request_timeout_s
        self.buckets = {
            "writes": (settings.rate_limit_writes, settings.rate_limit_writes_window_s),
            "plans": (settings.rate_limit_plans, settings.rate_limit_plans_window_s),
        }
        # Every bucket in the table (these and the login limits) restarts after at most this.
        self.longest_window = max(
            settings.rate_limit_writes_window_s, settings.rate_limit_plans_window_s, settings.login_window_s
        )
        self._hits = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":  # GET's answer without its content (see _within_deadline)
            send = _without_content(send)
        request = Request(scope)
        method = scope["method"]
        cap = self.upload_bytes if self.upload_paths.match(scope["path"]) else self.settings.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            await self._too_large(request, cap)(scope, receive, send)
            return
        if self.settings.rate_limited and method in WRITE_METHODS:
            refusal, quota = await self._rate_limit(request)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            if quota:
                send = _with_headers(send, quota)
        # Routes that may work long (a file import) stop by this time.monotonic() deadline.
        scope.setdefault("state", {})["deadline"] = time.monotonic() + self.timeout
        await self._within_deadline(scope, _capped(receive, cap), send)

    def _too_large(self, request: Request, cap: int) -> JSONResponse:
        return problem_response(request, 413, too_large(cap))

    async def _rate_limit(self, request: Request) -> tuple[JSONResponse | None, list[tuple[bytes, bytes]]]:
        """A 429 when the client is over its limit, and the IETF draft's ``RateLimit-Policy``
        and ``RateLimit`` headers for the answer either way (none when the count failed)."""
        name = "plans" if self.plan_generation.match(request.url.path) else "writes"
        limit, window = self.buckets[name]
        auth = request.headers.get("authorization", "")
        scheme, _, credential = auth.partition(" ")
        credential = credential.strip() if scheme.lower() == "bearer" else ""
        address = "addr:" + (request.client.host if request.client else "unknown")[:MAX_ADDRESS]
        # This hit's number, taken before anything awaits, so that concurrent hits never
        # skip the one that sweeps.
        self._hits += 1
        sweep = self._hits % ratelimit.SWEEP_EVERY == 0
        try:
            decision = None if sweep else await self._count_now(name, credential, address, limit, window)
            if decision is None:
                decision = await anyio.to_thread.run_sync(self._hit, name, credential, address, limit, window, sweep)
                COUNTED_IN_THE_POOL.inc()
            else:
                COUNTED_ON_THE_DRIVER.inc()
        except SQLAlchemyError:
            log.warning("rate limit not checked: the database did not answer", exc_info=True)
            return None, []
        quota = rate_limit_headers(name, limit, window, decision)
        if decision.allowed:
            return None, quota
        RATE_LIMITED.labels(name).inc()
        what = "plan generations" if name == "plans" else "writes"
        refusal = problem_response(
            request,
            429,
            f"Too many {what}: at most {limit} every {window} s. Try again in {decision.retry_after_s} s.",
            slug="too-many-requests",
            headers={"Retry-After": str(decision.retry_after_s)},
        )
        refusal.raw_headers.extend(quota)
        return refusal, []

    async def _count_now(
        self, name: str, credential: str, address: str, limit: int, window: int
    ) -> ratelimit.Decision | None:
        """The count on the database driver, on the event loop, without SQLAlchemy's
        layers or a thread-pool hop (ratelimit.CountNow: SQLite's while its write lock is
        free this instant, PostgreSQL's asynchronous round trip); about 300 us of CPU less
        a count than :meth:`_hit`. None when the credential must be looked up or the
        driver's way failed (a held lock, no free connection, an error): then :meth:`_hit`
        counts, in the thread pool, waiting its turn."""
        count = self.count_now()
        if count is None:
            return None
        try:
            who = (self.identify(None, credential) if credential else None) or address
            return await count(f"{name}:{who}", limit=limit, window_s=window)
        except (ratelimit.LookupNeeded, NotNow):
            return None

    def _hit(
        self, name: str, credential: str, address: str, limit: int, window: int, sweep: bool
    ) -> ratelimit.Decision:
        """The count through SQLAlchemy, in the thread pool; and, once every SWEEP_EVERY
        hits, the sweep of expired buckets."""
        with self.connections() as conn:
            who = (self.identify(conn, credential) if credential else None) or address
            decision = ratelimit.hit(conn, f"{name}:{who}", limit=limit, window_s=window)
            if sweep:
                ratelimit.sweep(conn, older_than=time.time() - self.longest_window)
                conn.commit()
        if sweep and (count := self.count_now()) is not None:
            count.after_sweep()
        return decision

    async def _within_deadline(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app; answer 504 if it has not started a response in time. Once it has
        started (a stream, say), it runs to the end. A timer, not a task per request: the
        answer goes out from a task made only when the timer fires."""
        started = False
        finished = False
        timed_out = False
        answering: asyncio.Task[None] | None = None

        async def send_unless_timed_out(message: Message) -> None:
            nonlocal started
            if timed_out:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def answer_timeout() -> None:
            nonlocal timed_out
            if started or finished:
                return
            timed_out = True
            TIMED_OUT.inc()
            log.warning("%s %s did not answer within %g s", scope["method"], scope["path"], self.timeout)
            response = problem_response(
                Request(scope),
                504,
                f"The request did not finish within {self.timeout:g} s. If it was a write, "
                "send it again with the same Idempotency-Key.",
                slug="timeout",
            )
            await response(scope, receive, send)

        def fire() -> None:
            nonlocal answering
            answering = asyncio.ensure_future(answer_timeout())

        # HEAD is GET without the content (RFC 9110, 9.3.2): the routes are declared for GET
        # only (a HEAD operation each would double the document), so the app is asked for
        # GET's answer, whose body ``__call__`` empties. Everything else here and outside
        # (the access line, metrics, these log lines) sees the request's own method.
        asked = {**scope, "method": "GET"} if scope["method"] == "HEAD" else scope
        timer = asyncio.get_running_loop().call_later(self.timeout, fire)
        try:
            await self.app(asked, receive, send_unless_timed_out)
        except Exception:
            if not timed_out:
                raise
            log.exception("%s %s failed after its timeout", scope["method"], scope["path"])
        finally:
            finished = True  # a 504 not yet begun stays unsent: the app has answered or failed
            timer.cancel()
            if answering is not None:
                await answering  # a 504 being sent is sent whole before the request ends


def rate_limit_headers(name: str, limit: int, window: int, decision: ratelimit.Decision) -> list[tuple[bytes, bytes]]:
    """``RateLimit-Policy: "writes";q=120;w=60`` and ``RateLimit: "writes";r=119;t=42``
    (draft-ietf-httpapi-ratelimit-headers): the quota, what is left and when it restarts."""
    remaining = max(0, limit - decision.count)
    return [
        (b"ratelimit-policy", f'"{name}";q={limit};w={window}'.encode()),
        (b"ratelimit", f'"{name}";r={remaining};t={decision.retry_after_s}'.encode()),
    ]


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *extra]}
        await send(message)

    return sending


def too_large(cap: int) -> str:
    return f"The request body is larger than this endpoint accepts ({cap} bytes)."


def _capped(receive: Receive, cap: int) -> Receive:
    """``receive`` that raises 413 once the body grows past ``cap`` bytes."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise HTTPException(413, too_large(cap))
        return message

    return capped
