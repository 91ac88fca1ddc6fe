"""A bare Starlette app (no FastAPI, no middleware, no database) for the benchmark baseline.

It serves fixed response bodies with fixed content types at fixed paths, so that
``bench/catalogue.py`` can compare runstrong against the cheapest possible ASGI app on
the same uvicorn settings. The routes come from a JSON spec file named by the
``BARE_APP_SPEC`` environment variable::

    {"routes": [{"path": "/v1/exercises", "content_type": "application/json",
                 "body_file": "/tmp/.../list.body"}]}

Run it with ``uvicorn --app-dir bench bare_app:create_app --factory``. The query string
is ignored (Starlette routes on the path). ``/healthz`` answers ``{"status":"ok"}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SPEC_ENV = "BARE_APP_SPEC"

Endpoint = Callable[[Request], Awaitable[Response]]


def _endpoint(body: bytes, content_type: str) -> Endpoint:
    headers = {"content-type": content_type}

    async def serve(_request: Request) -> Response:
        return Response(content=body, headers=headers)

    return serve


def load_routes(spec_path: Path) -> list[Route]:
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    routes = [
        Route(
            str(item["path"]),
            _endpoint(Path(item["body_file"]).read_bytes(), str(item["content_type"])),
            methods=["GET"],
        )
        for item in spec["routes"]
    ]
    routes.append(Route("/healthz", _endpoint(b'{"status":"ok"}', "application/json")))
    return routes


def create_app() -> Starlette:
    spec = os.environ.get(SPEC_ENV)
    if not spec:
        raise RuntimeError(f"{SPEC_ENV} must name the JSON route spec (see bench/bare_app.py)")
    return Starlette(routes=load_routes(Path(spec)))
