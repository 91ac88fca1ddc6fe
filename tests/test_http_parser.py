"""app/core/http_parser.py's kept head, side by side with uvicorn's own ``send``: two
identical cycles of uvicorn's httptools protocol on a recording transport, one started by
:func:`start_kept`, the other by ``send``, each then sent the body by ``send``. What the
client would get and the state each cycle ends in must be the same in every case: the
method, keep-alive, ``Expect: 100-continue``, the server's default headers, the kept
headers, the request id, and the connection's moment (writing paused then resumed, closed
meanwhile, already gone, the response already started)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

import pytest
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from app.core import http_parser
from app.core.http_parser import kept_head

DATE = [(b"date", b"Sat, 05 Dec 2026 11:00:00 GMT")]
DEFAULTS = [
    [],
    DATE,
    [*DATE, (b"server", b"uvicorn")],
    [(b"X-Served-By", b"A")],  # send writes the name lowercased
    [(b"connection", b"close")],  # send acts on these: the front leaves them to it
    [(b"content-length", b"3")],
    [(b"bad name", b"x")],
    [(b"x", b"a\nb")],
]
KEPT = [
    [(b"content-type", b"application/json"), (b"content-length", b"3"), (b"etag", b'"e"')],
    [(b"Content-Type", b"application/json"), (b"Content-Length", b"003")],
    [(b"content-length", b"4")],  # longer than the body: send raises, whoever started it
    [(b"content-length", b"3"), (b"x", b"\x80\xff\t")],
    [(b"content-length", b"3"), (b"vary", b"Origin")],
]
MOMENTS = ["plain", "paused", "paused, then closed", "paused, then keep-alive off", "closed", "started"]
STATE = (
    "response_started",
    "response_complete",
    "keep_alive",
    "chunked_encoding",
    "expected_content_length",
    "waiting_for_100_continue",
    "disconnected",
)


class Recording:
    """A transport that keeps what is written to it."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closed = 0

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        self.closed += 1

    def is_closing(self) -> bool:
        return self.closed > 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def answered(
    kept_by_us: bool,
    method: str,
    keep_alive: bool,
    expect: bool,
    defaults: list[tuple[bytes, bytes]],
    kept: list[tuple[bytes, bytes]],
    request_id: tuple[bytes, bytes],
    moment: str,
) -> tuple[Any, ...]:
    """One answer on a new cycle; what was written and the cycle's state after it."""
    transport = Recording()
    completed: list[int] = []
    cycle = RequestResponseCycle(
        scope={"type": "http", "method": method, "http_version": "1.1", "path": "/", "headers": []},  # type: ignore[typeddict-item]
        transport=transport,  # type: ignore[arg-type]
        flow=FlowControl(transport),  # type: ignore[arg-type]
        logger=logging.getLogger("uvicorn.error"),
        access_logger=logging.getLogger("uvicorn.access"),
        access_log=False,
        default_headers=list(defaults),
        message_event=asyncio.Event(),
        expect_100_continue=expect,
        keep_alive=keep_alive,
        on_response=lambda: completed.append(1),
    )
    head = kept_head(kept)
    if moment.startswith("paused"):
        cycle.flow.pause_writing()
    cycle.disconnected = moment == "closed"
    cycle.response_started = moment == "started"

    send: Any = cycle.send  # uvicorn's own ASGI types, not Starlette's

    async def answer() -> None:
        if not (kept_by_us and head is not None and await http_parser.start_kept(send, head, request_id)):
            await cycle.send({"type": "http.response.start", "status": 200, "headers": [*kept, request_id]})
        await cycle.send({"type": "http.response.body", "body": b"" if method == "HEAD" else b"abc"})

    task = asyncio.ensure_future(answer())
    await asyncio.sleep(0)
    if moment == "paused, then keep-alive off":
        cycle.keep_alive = False
    if moment == "paused, then closed":
        cycle.disconnected = True
        cycle.message_event.set()
    if moment.startswith("paused"):
        cycle.flow.resume_writing()
    try:
        await asyncio.wait_for(task, 5)
        failure = None
    except RuntimeError as failed:
        failure = str(failed)
    state = tuple(getattr(cycle, name) for name in STATE)
    return b"".join(transport.written), transport.closed, len(completed), cycle.message_event.is_set(), state, failure


def test_a_kept_head_starts_an_answer_as_send_starts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    started = 0
    original = http_parser.start_kept

    async def counted(*args: Any) -> bool:
        nonlocal started
        wrote = await original(*args)
        started += wrote
        return wrote

    async def every_case() -> int:
        cases = 0
        for method, keep_alive, expect, defaults, kept, request_id, moment in itertools.product(
            ["GET", "HEAD"],
            [True, False],
            [True, False],
            DEFAULTS,
            KEPT,
            [(b"x-request-id", b"same-id"), (b"x-request-id", b"a\nb")],
            MOMENTS,
        ):
            case = (method, keep_alive, expect, defaults, kept, request_id, moment)
            by_send = await answered(False, *case)
            ours = await answered(True, *case)
            assert ours == by_send, case
            cases += 1
        return cases

    monkeypatch.setattr(http_parser, "start_kept", counted)
    cases = asyncio.run(every_case())
    assert cases == 2 * 2 * 2 * len(DEFAULTS) * len(KEPT) * 2 * len(MOMENTS)
    assert started > cases / 8, "the kept head wrote the start in a share of the cases"


def test_the_date_written_is_the_servers_latest() -> None:
    """uvicorn makes a new list of default headers each second: each list's own lines."""
    first = http_parser._default_lines([(b"date", b"Sat, 05 Dec 2026 11:00:00 GMT")])
    second = http_parser._default_lines([(b"date", b"Sat, 05 Dec 2026 11:00:01 GMT")])
    assert first == b"date: Sat, 05 Dec 2026 11:00:00 GMT\r\n"
    assert second == b"date: Sat, 05 Dec 2026 11:00:01 GMT\r\n"
