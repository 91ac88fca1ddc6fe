"""Responses that are not JSON (SVG charts, iCalendar, CSV): declared with their own media
type only, so generated clients read them as text instead of decoding JSON."""

from __future__ import annotations

from typing import Any

from fastapi import Response


class NoJsonDefault(Response):
    """A route's response class that adds no ``application/json`` entry to the contract:
    the route's ``responses=`` (see :func:`file_response`) says what 200 carries."""

    media_type = None


def file_response(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry for a 200 that is a file of this media type (text)."""
    return {200: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}}
