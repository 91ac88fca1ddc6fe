"""uvicorn's httptools protocol with a bound on what it reads of a request's head.

httptools (llhttp) is uvicorn's fast HTTP/1.1 parser, but it buffers a request's line and
headers whatever their size; h11 stops at ``h11_max_incomplete_event_size``. This protocol
counts the bytes of each head as they arrive and, once a head passes ``h11_max_head_bytes``
(four times ``RUNSTRONG_MAX_HEADER_BYTES``) before it is complete, answers 431 and closes
the connection, so httptools never holds more than that plus one read. Heads within that
bound reach the edge, which answers 431 to those over ``RUNSTRONG_MAX_HEADER_BYTES`` or
``RUNSTRONG_MAX_HEADERS`` as a problem document (:class:`app.core.edge.Guard`).

``runstrong serve`` uses it by default (``--http httptools``); with workers in separate
processes uvicorn imports it by name, so the bound comes from the settings, read once.

The module also writes a kept catalogue answer's head for the front (:func:`start_kept`):
its headers checked once rather than by uvicorn on every answer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import Send
from uvicorn.protocols.http.httptools_impl import HEADER_RE as _HEADER_NAME
from uvicorn.protocols.http.httptools_impl import HEADER_VALUE_RE as _HEADER_VALUE
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from app.core.config import get_settings

log = logging.getLogger("runstrong.edge")
_UVICORN = uvicorn.__version__  # the code imported, whatever the metadata says

_REFUSAL = json.dumps(
    {
        "type": "/problems/request-header-fields-too-large",
        "title": "Request Header Fields Too Large",
        "status": 431,
        "detail": "The request's line and headers are larger than this server reads.",
    }
).encode()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes: int | None = None  # from the settings, on the first connection

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if BoundedHttpToolsProtocol.max_head_bytes is None:
            BoundedHttpToolsProtocol.max_head_bytes = get_settings().h11_max_head_bytes
        self._limit: int = BoundedHttpToolsProtocol.max_head_bytes
        self._reading_head = True  # between requests and until a head is complete
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._reading_head and self._head_bytes > self._limit and not self.transport.is_closing():
            self._refuse()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True
        self._head_bytes = 0

    def _refuse(self) -> None:
        log.warning("request head over %d bytes: answered 431 and closed", self._limit)
        head = [STATUS_LINE[431]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/problem+json\r\n",
            b"content-length: %d\r\n" % len(_REFUSAL),
            b"connection: close\r\n\r\n",
            _REFUSAL,
        ]
        self.transport.write(b"".join(head))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._reading_head = False
        super().connection_lost(exc)


# A kept response's head, written without uvicorn's per-header work
# ---------------------------------------------------------------------------------------
# uvicorn's ``send`` checks, lowercases and copies every header of every response: for a
# kept catalogue answer, with its dozen headers (the page's links, its ETag, the security
# headers), that was about a fifth of the answer's CPU as served, the same work on the
# same headers each time. The front (app.core.front) has them checked once, here, as
# ``send`` checks them, into the lines ``send`` would write (:func:`kept_head`), and has
# them written by :func:`start_kept`, which does what ``send`` does with a response's
# start and those headers. It does so only on the uvicorn it was written against
# (``SENDS_AS``), whose ``send`` the tests compare it with, byte for byte and state for
# state (tests/test_front.py on served connections, tests/test_http_parser.py on cycles
# side by side); anywhere else (another server, ``--http h11``, another uvicorn, uvicorn's
# own access log on, a server default header ``send`` acts on, a ``send`` wrapped by
# another layer) the front calls ``send``.

SENDS_AS = frozenset({"0.54.0"})
_SPECIAL = frozenset({b"content-length", b"transfer-encoding", b"connection"})


@dataclass(frozen=True, slots=True)
class KeptHead:
    """A 200's headers as uvicorn's ``send`` writes them (``lines``), and the body's length
    their Content-Length gives."""

    lines: bytes
    length: int


def _written(headers: Sequence[tuple[bytes, bytes]]) -> tuple[bytes, int | None] | None:
    """``headers`` checked and written as uvicorn's ``send`` checks and writes them, and the
    Content-Length among them (None if there is none); None where ``send`` would not write
    them as they are: a header it refuses, Transfer-Encoding or Connection (which it acts
    on), a second Content-Length or one not of plain digits."""
    lines: list[bytes] = []
    length: int | None = None
    for name, value in headers:
        if _HEADER_NAME.search(name) or _HEADER_VALUE.search(value):
            return None
        name = name.lower()
        if name == b"content-length":
            if length is not None or not value.isdigit():
                return None
            length = int(value)
        elif name in _SPECIAL:
            return None
        lines += [name, b": ", value, b"\r\n"]
    return b"".join(lines), length


def kept_head(headers: Sequence[tuple[bytes, bytes]]) -> KeptHead | None:
    """A kept 200's ``headers`` as ``send`` writes them, with their Content-Length; None
    where ``send`` must send them (see :func:`_written`; a length is needed too)."""
    written = _written(headers)
    if written is None or written[1] is None:
        return None
    return KeptHead(written[0], written[1])


# The last list of the server's default headers seen (uvicorn makes a new one each second,
# with the new date), and their lines (None when ``send`` must treat one of them apart).
_defaults: tuple[list[tuple[bytes, bytes]] | None, bytes | None] = (None, None)


def _default_lines(defaults: list[tuple[bytes, bytes]]) -> bytes | None:
    """The server's default headers written as ``send`` writes them; None when ``send``
    would treat one of them apart, a Content-Length among them too (then it sends the
    start itself)."""
    global _defaults
    known, lines = _defaults
    if defaults is not known:
        written = _written(defaults)
        lines = None if written is None or written[1] is not None else written[0]
        _defaults = (defaults, lines)
    return lines


async def start_kept(send: Send, head: KeptHead, request_id: tuple[bytes, bytes]) -> bool:
    """Start a 200 with ``head`` and then ``request_id`` as uvicorn's ``send`` starts one
    with those headers, when ``send`` is that ``send`` (``SENDS_AS``); False, having done
    nothing, when the caller must send the start itself."""
    cycle = getattr(send, "__self__", None)
    if (
        getattr(send, "__func__", None) is not RequestResponseCycle.send
        or _UVICORN not in SENDS_AS
        or cycle is None
        or cycle.access_log
        or cycle.response_started
        or _HEADER_VALUE.search(request_id[1])
    ):
        return False
    defaults = _default_lines(cycle.default_headers)
    if defaults is None:
        return False
    if cycle.flow.write_paused and not cycle.disconnected:
        await cycle.flow.drain()
    if cycle.disconnected:
        return True  # as send: nothing is written to a connection that is gone
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    cycle.expected_content_length = head.length
    cycle.chunked_encoding = False
    name, value = request_id
    content = [STATUS_LINE[200], defaults, head.lines, name, b": ", value, b"\r\n"]
    if not cycle.keep_alive:
        content.append(b"connection: close\r\n")
    content.append(b"\r\n")
    cycle.transport.write(b"".join(content))
    return True
