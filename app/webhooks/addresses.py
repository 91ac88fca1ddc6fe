"""Where a webhook may be sent: http(s) only and, unless allowed, never to a private,
loopback, link-local or otherwise internal address (server-side request forgery)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


def refusal(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` may not receive webhooks, or None. Names are resolved: every address a
    name resolves to must be public (checked again before each delivery)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return "must be an http or https URL"
    if not parts.hostname:
        return "has no host"
    if parts.username or parts.password:
        return "must not carry credentials"
    if allow_private:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError):
        return "has a host name that does not resolve"
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global or address.is_multicast:
            return "resolves to a private or reserved address"
    return None
