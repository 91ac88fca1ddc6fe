"""``FastHeadCycle`` (app/core/response_head.py) writes what uvicorn's own cycle writes,
ends in the same state and raises the same errors, for heads of every kind."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from app.core.response_head import FastHeadCycle, head_lines

DATE = (b"date", b"Fri, 04 Dec 2026 19:19:40 GMT")
JSON = [(b"content-type", b"application/json"), (b"content-length", b"2")]


class Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, _name: str, default: Any = None) -> Any:
        return default


def exchange(kind: type[RequestResponseCycle], method: str, keep_alive: bool, messages: list[Any]) -> dict[str, Any]:
    """The bytes written, the error raised (its type and text) and the cycle's state."""
    transport = Transport()
    cycle = kind(
        scope={"type": "http", "method": method, "http_version": "1.1"},  # type: ignore[typeddict-item]
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("test"),
        access_logger=logging.getLogger("test.access"),
        access_log=False,
        default_headers=[DATE],
        message_event=asyncio.Event(),
        expect_100_continue=False,
        keep_alive=keep_alive,
        on_response=lambda: None,
    )
    error = None
    try:
        for message in messages:
            asyncio.run(cycle.send(message))
    except Exception as raised:
        error = (type(raised), str(raised))
    state = {
        name: getattr(cycle, name)
        for name in (
            "response_started",
            "response_complete",
            "chunked_encoding",
            "expected_content_length",
            "keep_alive",
            "waiting_for_100_continue",
        )
    }
    return {"written": transport.written, "closed": transport.closed, "error": error, "state": state}


HEADS: list[tuple[int, list[Any]]] = [
    (200, JSON),
    (200, [*JSON, (b"etag", b'"1"'), (b"x-request-id", b"ab12"), (b"link", b'<http://h/v1?limit=1>; rel="next"')]),
    (201, [(b"content-length", b"2"), (b"content-length", b"7")]),  # the first counts
    (200, [(b"content-type", b"application/json")]),  # no length: chunked
    (204, []),
    (304, [(b"etag", b'"1"')]),
    (200, [(b"Content-Length", b"2")]),  # a capital letter: uvicorn lowers it
    (200, [(b"connection", b"close"), (b"content-length", b"2")]),
    (200, [(b"connection", b"keep-alive, Upgrade"), (b"content-length", b"2")]),
    (200, [(b"transfer-encoding", b"chunked")]),
    (200, [(b"content-length", b" 2 ")]),  # int() takes it
    (200, [(b"content-length", b"two")]),
    (200, [(b"content-length", b"\xff")]),
    (200, [(b"x bad", b"1"), *JSON]),
    (200, [(b"x:bad", b"1"), *JSON]),
    (200, [(b"x-ok", b"a\nb"), *JSON]),
    (200, [(b"x-ok", b"a\x00b"), *JSON]),
    (200, [(b"x-ok", b"a\tb \xe2\x9c\x93"), (b"x-\xe2\x9c\x93", b"1"), *JSON]),  # allowed by uvicorn
    (200, [(b"", b"empty name"), *JSON]),
    (200, [["x-list", b"1"], *JSON]),
    (200, [(bytearray(b"x-bytearray"), b"1"), *JSON]),
    (200, [("x-text", "1"), *JSON]),
    (200, [(b"x-three", b"1", b"2"), *JSON]),
    (299, JSON),
    (600, JSON),
]


@pytest.mark.parametrize(("status", "headers"), HEADS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("keep_alive", [True, False])
def test_the_head_is_uvicorns(status: int, headers: list[Any], method: str, keep_alive: bool) -> None:
    body = b"" if method == "HEAD" or status in (204, 304) else b"{}"
    messages = [
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body[:1], "more_body": True},
        {"type": "http.response.body", "body": body[1:]},
    ]
    ours = exchange(FastHeadCycle, method, keep_alive, messages)
    theirs = exchange(RequestResponseCycle, method, keep_alive, messages)
    assert ours == theirs


def test_the_usual_head_takes_the_fast_way_and_the_others_do_not() -> None:
    """Where ``head_lines`` answers, the test above shows its bytes are uvicorn's; here,
    that it does answer for the heads the service sends, and leaves the rest to uvicorn."""
    usual = [DATE, *HEADS[1][1]]
    made = head_lines(usual)
    assert made is not None and made[1] == b"2"
    assert made[0].startswith(b"date: Fri, 04 Dec 2026 19:19:40 GMT\r\ncontent-type: application/json\r\n")
    for status, headers in HEADS[6:10] + HEADS[13:17] + HEADS[20:23]:
        assert head_lines([DATE, *headers]) is None, (status, headers)
