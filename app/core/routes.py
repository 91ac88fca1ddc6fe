"""The service's path templates, compiled once per app: which template a path matches
(for metrics and logs when a response was sent before routing) and which methods it
allows (for a complete ``Allow`` on 405). Included routers keep their routes behind
FastAPI's include contexts, so the templates come from ``iter_route_contexts`` (what
FastAPI's own OpenAPI generation walks), without building the OpenAPI document."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import compile_path

UNMATCHED = "unmatched"


@dataclass(frozen=True, slots=True)
class Template:
    path: str
    regex: re.Pattern[str]
    params: int
    methods: frozenset[str]


class RouteIndex:
    def __init__(self, app: Any) -> None:
        templates: dict[str, set[str]] = {}
        for route in iter_route_contexts(app.routes):
            path = route.path_format
            if isinstance(path, str):
                templates.setdefault(path, set()).update(route.methods or ())
        # Fewer parameters first: a literal segment wins over a parameter.
        self.templates = sorted(
            (
                Template(path, compile_path(path)[0], path.count("{"), frozenset(verbs))
                for path, verbs in templates.items()
            ),
            key=lambda t: t.params,
        )
        self.template_of = lru_cache(maxsize=4096)(self._template_of)

    def _template_of(self, path: str) -> str:
        for template in self.templates:
            if template.regex.match(path):
                return template.path
        return UNMATCHED

    def allowed_methods(self, path: str) -> list[str]:
        """Every method of every template ``path`` matches with the fewest parameters
        (Starlette's own ``Allow`` names only the first matching route's)."""
        matching = [t for t in self.templates if t.regex.match(path)]
        fewest = min((t.params for t in matching), default=0)
        methods: set[str] = set()
        for template in matching:
            if template.params == fewest:
                methods |= template.methods
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)


def route_index(app: Any) -> RouteIndex:
    index: RouteIndex | None = getattr(app.state, "route_index", None)
    if index is None:
        index = app.state.route_index = RouteIndex(app)
    return index
