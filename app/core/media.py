"""Responses of our own making: JSON already written (by pydantic-core), and responses
that are not JSON (SVG charts, iCalendar, CSV), declared with their own media type only, so
generated clients read them as text instead of decoding JSON."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Response
from pydantic_core import to_json


def json_text(text: bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """JSON text already written, sent as it is (``application/json``, as ``JSONResponse``
    labels what it writes itself)."""
    return Response(text, status, headers, media_type="application/json")


def json_answer(value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``value`` (a public model, as the route's ``response_model`` declares it) written
    once by pydantic-core as the answer: FastAPI neither validates nor serialises it again."""
    return json_text(to_json(value), status, headers)


class NoJsonDefault(Response):
    """A route's response class that adds no ``application/json`` entry to the contract:
    the route's ``responses=`` (see :func:`file_response`) says what 200 carries."""

    media_type = None


def file_response(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry for a 200 that is a file of this media type (text)."""
    return {200: {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}}
