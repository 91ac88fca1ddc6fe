"""A response's status line and headers, written as uvicorn's httptools cycle writes them,
with every name and every value checked at once instead of one header at a time.

uvicorn's ``RequestResponseCycle.send`` checks each header's name and value with a
regular expression, lowers the name and compares it with three names, in Python, one
header at a time: 16 us for the eleven headers of a catalogue page on the twenty-second
round's host (about a tenth of a cached answer's CPU). ``FastHeadCycle`` writes the same
bytes for the usual head: names already in lower case, no ``connection`` or
``transfer-encoding`` header, every name and value valid. It joins the names and the
values and looks for the bytes uvicorn refuses in each (``bytes.translate``: the
same bytes, found in C), and reads ``content-length`` as uvicorn does. Any other head (and every body
message, and an access log of uvicorn's own, which ``runstrong serve`` turns off) goes to
uvicorn's ``send`` unchanged, which writes it or raises its own error.

uvicorn's version is pinned (uv.lock); tests/test_response_head.py compares the bytes
and the cycle's state with uvicorn's own for heads of every kind.
"""

from __future__ import annotations

from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle

# The bytes uvicorn's HEADER_RE refuses in a name (and capital letters, which uvicorn
# lowers: such a name is left to it), and those its HEADER_VALUE_RE refuses in a value.
# Each is checked byte by byte, so all names (and all values) are checked at once.
_NAME_REFUSED = bytes(range(0x20)) + b'\x7f()<>@,;:[]={} \t\\"' + bytes(range(ord("A"), ord("Z") + 1))
_VALUE_REFUSED = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"
_SPECIAL = frozenset({b"connection", b"transfer-encoding"})


def head_lines(headers: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes | None] | None:
    """The header lines uvicorn would write for ``headers`` and the first
    ``content-length`` value, or None where uvicorn must look at them itself (a name
    with a capital letter, ``connection``, ``transfer-encoding``, a byte it refuses,
    anything but bytes)."""
    try:
        names = [name for name, _ in headers]
        values = [value for _, value in headers]
        all_names = b"".join(names)
        all_values = b"".join(values)
        if (
            len(all_names.translate(None, _NAME_REFUSED)) != len(all_names)
            or len(all_values.translate(None, _VALUE_REFUSED)) != len(all_values)
            or not _SPECIAL.isdisjoint(names)
        ):
            return None
    except (TypeError, ValueError):  # not pairs of bytes: uvicorn's own check raises its error
        return None
    lines = b"".join([name + b": " + value + b"\r\n" for name, value in headers])
    length = values[names.index(b"content-length")] if b"content-length" in names else None
    return lines, length


class FastHeadCycle(RequestResponseCycle):
    """uvicorn's cycle, writing the usual response head with ``head_lines``."""

    async def send(self, message: ASGISendEvent) -> None:
        if (
            self.response_started
            or self.disconnected
            or self.flow.write_paused
            or self.access_log
            or message["type"] != "http.response.start"
        ):
            await super().send(message)
            return
        headers = self.default_headers + list(message.get("headers", []))
        made = head_lines(headers)
        length = None
        if made is not None and made[1] is not None:
            try:
                length = int(made[1].decode())
            except ValueError:  # uvicorn raises it, from its own send
                made = None
        if made is None:
            await super().send(message)
            return
        self.response_started = True
        self.waiting_for_100_continue = False
        status_code = message["status"]
        content = [STATUS_LINE[status_code], made[0]]
        if length is not None:
            self.expected_content_length = length
            self.chunked_encoding = False
        if not self.keep_alive:
            content.append(b"connection: close\r\n")
        if self.chunked_encoding is None and self.scope["method"] != "HEAD" and status_code not in (204, 304):
            self.chunked_encoding = True
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        self.transport.write(b"".join(content))
