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
"""

from __future__ import annotations

import json
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from app.core.config import get_settings

log = logging.getLogger("runstrong.edge")

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
