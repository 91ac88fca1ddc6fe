"""HTTP caching for read-only resources: strong ETags, ``If-None-Match`` -> 304,
``Cache-Control``, and an in-process cache of rendered responses.

Catalogue responses change only when the catalogue is re-seeded, which stores a new
content version in the database. Each worker re-reads that version at most once per
``version_ttl`` seconds and keys its cache on it, so a re-seed reaches every worker
within that time; no worker keeps anything another needs. Entries are bounded (LRU).
A hit is answered here without routing, validation or a database query.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from app.core.http_parser import KeptHead

VersionSource = Callable[[], str | None]


@dataclass(slots=True)
class Entry:
    headers: list[tuple[bytes, bytes]]  # the 200's, Content-Length included
    body: bytes
    etag: bytes
    route: str | None  # the template of the route that made it
    # The headers the whole stack sent with it, but the request id (app.core.front), and
    # those headers as uvicorn writes them, where it can write them so.
    answered: list[tuple[bytes, bytes]] | None = None
    head: KeptHead | None = None


def etag_matches(if_none_match: bytes, etag: bytes) -> bool:
    """RFC 9110 weak comparison, as ``If-None-Match`` requires."""
    if if_none_match.strip() == b"*":
        return True
    bare = etag.removeprefix(b"W/")
    return any(tag.strip().removeprefix(b"W/") == bare for tag in if_none_match.split(b","))


Key = tuple[str, str, bytes, bytes, bytes]


def host_key(scope: Scope, host: bytes | None) -> bytes:
    """What a page's links are written with, for the key: the request's first ``Host``
    header (``host``, as Starlette reads it), else the server's address (marked with a
    NUL, which no header value holds)."""
    if host is not None:
        return host
    server = scope.get("server")
    return b"\x00" if server is None else b"\x00%s:%d" % (str(server[0]).encode(), server[1] or 0)


def _key(version: str, host: bytes, scope: Scope) -> Key:
    return (version, scope.get("scheme", "http"), host, scope["path"].encode(), scope["query_string"])


class Responses:
    """The rendered responses kept for the read-only prefixes, keyed on the catalogue
    version (re-read at most once per ``version_ttl``), scheme, host, path and query (the
    links in a page name its scheme and host); bounded (LRU).
    Shared by the :class:`HttpCache` layer, which fills it, and the front
    (:mod:`app.core.front`), which answers from it."""

    def __init__(
        self,
        *,
        prefixes: tuple[str, ...],
        version_source: VersionSource,
        max_entries: int,
        max_age: int,
        version_ttl: float,
    ) -> None:
        self.prefixes = prefixes
        self.version_source = version_source
        self.max_entries = max_entries
        self.cache_control = f"public, max-age={max_age}".encode()
        self.version_ttl = version_ttl
        self._version: str | None = None
        self._version_read_at = float("-inf")
        self._refreshing = False
        self._entries: OrderedDict[Key, Entry] = OrderedDict()

    def covers(self, scope: Scope) -> bool:
        """Whether ``scope`` asks for a response that may be kept here."""
        return scope["method"] in ("GET", "HEAD") and scope["path"].startswith(self.prefixes)

    def clear(self) -> None:
        """Forget every stored response and the version read (the next request re-reads it)."""
        self._entries.clear()
        self._version = None
        self._version_read_at = float("-inf")

    def fresh(self, scope: Scope, host: bytes) -> Entry | None:
        """The entry for ``scope`` if there is one for the version read and that version
        need not be read again yet; None otherwise (:meth:`current_version` then tells)."""
        if time.monotonic() - self._version_read_at >= self.version_ttl:
            return None
        return self.get(self._version, host, scope)

    def get(self, version: str | None, host: bytes, scope: Scope) -> Entry | None:
        if not version:
            return None
        key = _key(version, host, scope)
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, version: str | None, host: bytes, scope: Scope, entry: Entry) -> None:
        if version and self.max_entries > 0:
            self._entries[_key(version, host, scope)] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    async def current_version(self) -> str | None:
        """The catalogue version, re-read at most once per TTL by one request at a time:
        the refresh is claimed before the read is awaited, so the requests that arrive
        meanwhile keep using the version they have instead of each starting a read."""
        now = time.monotonic()
        if now - self._version_read_at >= self.version_ttl and not self._refreshing:
            self._refreshing = True
            try:
                self._version = await anyio.to_thread.run_sync(self.version_source)
                self._version_read_at = now
            finally:
                self._refreshing = False
        return self._version


class HttpCache:
    """The layer that answers from :class:`Responses` and fills it."""

    def __init__(self, app: ASGIApp, *, responses: Responses) -> None:
        self.app = app
        self.responses = responses
        self.cache_control = responses.cache_control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.responses.covers(scope):
            await self.app(scope, receive, send)
            return
        version = await self.responses.current_version()
        host: bytes | None = None
        conditions: list[bytes] = []
        for name, value in scope["headers"]:
            if name == b"host" and host is None:  # the first, as Starlette reads it
                host = value
            elif name == b"if-none-match":  # each is a list of tags: together, one list
                conditions.append(value)
        if_none_match = b", ".join(conditions) if conditions else None
        host = host_key(scope, host)
        entry = self.responses.get(version, host, scope)
        if entry is None:
            entry = await self._render(scope, receive, send)
            if entry is None:
                return  # not cacheable: already sent as it was
            self.responses.put(version, host, scope, entry)
        await self._send(entry, if_none_match, scope["method"] == "HEAD", send)

    async def _render(self, scope: Scope, receive: Receive, send: Send) -> Entry | None:
        """Run the app; return a 200 as an entry, or pass any other response straight on."""
        start: Message | None = None
        chunks: list[bytes] = []
        passing_through = False

        async def capture(message: Message) -> None:
            nonlocal start, passing_through
            if message["type"] == "http.response.start":
                if message["status"] != 200:
                    passing_through = True
                    await send(message)
                    return
                start = message
            elif passing_through:
                await send(message)
            else:
                chunks.append(message.get("body", b""))

        inner = {**scope, "method": "GET"} if scope["method"] == "HEAD" else scope
        await self.app(inner, receive, capture)
        if passing_through or start is None:
            return None
        body = b"".join(chunks)
        etag = b'"' + hashlib.sha256(body).hexdigest()[:40].encode() + b'"'
        kept = [
            (k, v)
            for k, v in start.get("headers", [])
            if k.lower() not in (b"content-length", b"etag", b"cache-control")
        ]
        kept += [(b"etag", etag), (b"cache-control", self.cache_control), (b"content-length", b"%d" % len(body))]
        route = getattr(inner.get("route"), "path_format", None)
        return Entry(headers=kept, body=body, etag=etag, route=route if isinstance(route, str) else None)

    async def _send(self, entry: Entry, if_none_match: bytes | None, head: bool, send: Send) -> None:
        if if_none_match is not None and etag_matches(if_none_match, entry.etag):
            await send(
                {
                    "type": "http.response.start",
                    "status": 304,
                    "headers": [(b"etag", entry.etag), (b"cache-control", self.cache_control)],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200, "headers": list(entry.headers)})
        await send({"type": "http.response.body", "body": b"" if head else entry.body})
