"""The front: a kept catalogue response answered before the middleware stack.

A cached catalogue answer needs none of what the stack does for other requests (routing,
limits, error handling, FastAPI's and Starlette's layers), yet it went through every one
of them and through each layer's wrapper of ``send``: more of a hit's CPU than the answer
itself. The front answers a hit in one step, with what the stack would have added: the
security headers (:func:`app.core.edge.secured`, worked out once per kept response), the
request id, the metrics and the access line (:func:`app.core.observability.noted`). The
bytes sent are the stack's own.

Anything else goes down the stack as before: a miss, a version due for re-reading, a
conditional request (``If-None-Match``: the cache layer answers its 304), a request whose
headers the edge refuses, a cross-origin request when CORS is on, an entry whose route is
not known.
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from app.core.config import Settings
from app.core.edge import header_refusal, secured, security_headers
from app.core.http_cache import Entry, Responses
from app.core.observability import IN_FLIGHT, identified, noted

# Request headers that send a hit down the stack.
_ASIDE = frozenset({b"if-none-match"})
_ASIDE_WITH_CORS = _ASIDE | {b"origin"}


class Front:
    def __init__(self, responses: Responses, settings: Settings) -> None:
        self.responses = responses
        self.security = security_headers(settings)
        self.max_headers = settings.max_headers
        self.max_header_bytes = settings.max_header_bytes
        self.metrics = settings.metrics_enabled
        self.aside = _ASIDE_WITH_CORS if settings.cors_origins else _ASIDE
        # Each kept response with the security headers after its own: (the entry, the headers).
        self._secured: dict[int, tuple[Entry, list[tuple[bytes, bytes]]]] = {}

    async def answer(self, scope: Scope, send: Send) -> bool:
        """Answer ``scope`` from the kept responses if it is a plain hit; False (nothing
        sent) if it must go down the stack."""
        if not self.responses.covers(scope):
            return False
        host = b""
        headers = scope["headers"]
        for name, value in headers:
            if name == b"host":
                host = value
            elif name in self.aside:
                return False
        entry = self.responses.fresh(scope, host)
        if (
            entry is None
            or entry.route is None
            or header_refusal(headers, self.max_headers, self.max_header_bytes) is not None
        ):
            return False
        start = time.perf_counter()
        rid_header = identified(scope)
        if self.metrics:
            IN_FLIGHT.inc()
        try:
            await send(
                {"type": "http.response.start", "status": 200, "headers": [*self._headers(entry, scope), rid_header]}
            )
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else entry.body})
        finally:
            noted(scope, entry.route, 200, time.perf_counter() - start, metrics=self.metrics)
        return True

    def _headers(self, entry: Entry, scope: Scope) -> list[tuple[bytes, bytes]]:
        """The entry's headers with the security headers, as the edge adds them: worked
        out once per entry (a kept response carries its Cache-Control, so the request's
        credentials change nothing, and no catalogue path is a documentation page)."""
        made = self._secured.get(id(entry))
        if made is None or made[0] is not entry:
            if len(self._secured) >= 2 * max(self.responses.max_entries, 1):
                self._secured.clear()
            made = self._secured[id(entry)] = (entry, secured(entry.headers, self.security, scope))
        return made[1]


class Service(FastAPI):
    """FastAPI, with the front (:class:`Front`) before its middleware stack."""

    front: Front | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is not None and scope["type"] == "http" and await front.answer(scope, send):
            return
        await super().__call__(scope, receive, send)
