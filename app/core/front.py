"""The front: a kept catalogue response answered before the middleware stack.

A cached catalogue answer needs none of what the stack does for other requests (routing,
limits, error handling, FastAPI's and Starlette's layers), yet it went through every one
of them and through each layer's wrapper of ``send``: more of a hit's CPU than the answer
itself. The front answers a hit in one step.

What it sends is what the stack sent: the first plain hit on a kept response goes down the
stack, and the headers the stack sends with it (the security headers, CORS's ``Vary``,
whatever a layer adds), but the request id, are kept with the response. Later hits get
those headers, the request's own id (:func:`app.core.observability.identified`), the
kept body, and are counted and logged as the stack counts and logs them
(:func:`app.core.observability.noted`). On uvicorn's httptools protocol, as ``runstrong
serve`` runs, those headers are checked once, when kept, and their lines written as they
are (:func:`app.core.http_parser.start_kept`): uvicorn's ``send`` would check, lowercase and
copy each of the dozen on every answer.

Anything whose answer may differ goes down the stack as before: a miss, a version due for
re-reading, a conditional request (``If-None-Match``: the cache layer answers its 304), a
request whose headers the edge refuses, a cross-origin request when CORS is on, a response
whose route is not known.
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from app.core.config import Settings
from app.core.edge import header_refusal
from app.core.http_cache import Entry, Responses, host_key
from app.core.http_parser import kept_head, start_kept
from app.core.observability import REQUEST_ID_HEADER_NAME, TALLY, identified, noted

# Request headers that send a hit down the stack.
_ASIDE = frozenset({b"if-none-match"})
_ASIDE_WITH_CORS = _ASIDE | {b"origin"}


class Front:
    def __init__(self, responses: Responses, settings: Settings) -> None:
        self.responses = responses
        self.max_headers = settings.max_headers
        self.max_header_bytes = settings.max_header_bytes
        self.metrics = settings.metrics_enabled
        self.aside = _ASIDE_WITH_CORS if settings.cors_origins else _ASIDE

    def kept(self, scope: Scope) -> Entry | None:
        """The kept response a plain hit on ``scope`` gets (``scope`` is an HTTP request);
        None when the stack must answer it."""
        if not self.responses.covers(scope):
            return None
        host = None
        headers = scope["headers"]
        for name, value in headers:
            if name == b"host":
                if host is None:  # the first, as Starlette reads it for the page's links
                    host = value
            elif name in self.aside:
                return None
        entry = self.responses.fresh(scope, host_key(scope, host))
        if (
            entry is None
            or entry.route is None
            or header_refusal(headers, self.max_headers, self.max_header_bytes) is not None
        ):
            return None
        return entry

    async def answer(self, scope: Scope, entry: Entry, send: Send) -> None:
        """Send ``entry`` with the headers the stack sent with it (``entry.answered``)."""
        assert entry.answered is not None
        assert entry.route is not None
        start = time.perf_counter()
        request_id = identified(scope)
        if self.metrics:
            TALLY.began()
        try:
            if entry.head is None or not await start_kept(send, entry.head, request_id):
                await send({"type": "http.response.start", "status": 200, "headers": [*entry.answered, request_id]})
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else entry.body})
        finally:
            noted(scope, entry.route, 200, time.perf_counter() - start, metrics=self.metrics)

    @staticmethod
    def learning(entry: Entry, send: Send) -> Send:
        """``send`` for the stack's answer to a plain hit on ``entry``: when that answer is
        the entry's body (the cache answered it), its headers but the request id are
        kept with the entry for the front's answers."""
        start: Message | None = None

        async def noting(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif (
                start is not None
                and start["status"] == 200
                and message.get("body") is entry.body
                and not message.get("more_body", False)
            ):
                answered = [(n, v) for n, v in start.get("headers", ()) if n != REQUEST_ID_HEADER_NAME]
                entry.head, entry.answered = kept_head(answered), answered
            await send(message)

        return noting


class Service(FastAPI):
    """FastAPI, with the front (:class:`Front`) before its middleware stack."""

    front: Front | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is not None and scope["type"] == "http" and (entry := front.kept(scope)) is not None:
            if entry.answered is not None:
                await front.answer(scope, entry, send)
                return
            if scope["method"] == "GET":  # a HEAD's empty body tells nothing
                send = front.learning(entry, send)
        await super().__call__(scope, receive, send)
