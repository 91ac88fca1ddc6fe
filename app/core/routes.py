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
from starlette._utils import get_route_path  # the path Starlette's routes match (root_path removed)
from starlette.routing import Match, Route, compile_path
from starlette.types import Scope

UNMATCHED = "unmatched"


@dataclass(frozen=True, slots=True)
class Template:
    path: str
    regex: re.Pattern[str]
    params: int
    methods: frozenset[str]


def _paths_and_methods(route: Any) -> list[tuple[Any, Any]]:
    """The path templates and methods of one of the app's routes. An included router of
    plain routes is read from the router itself (FastAPI 0.165's ``original_router`` and
    include prefix, as :class:`_EarlyReject` reads them): its route contexts would derive
    every dependency of the router again, 0.2 s of an app's start that a test app serving a
    few requests never needs. Anything else comes from FastAPI's route contexts."""
    router = getattr(route, "original_router", None)
    prefix = getattr(getattr(route, "include_context", None), "prefix", None)
    if isinstance(prefix, str) and router is not None and all(isinstance(r, Route) for r in router.routes):
        return [(compile_path(prefix + r.path)[1], r.methods) for r in router.routes]
    return [(context.path_format, context.methods) for context in iter_route_contexts([route])]


class RouteIndex:
    def __init__(self, app: Any) -> None:
        templates: dict[str, set[str]] = {}
        for route in app.routes:
            for path, methods in _paths_and_methods(route):
                if isinstance(path, str):
                    templates.setdefault(path, set()).update(methods or ())
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


def build_routes(app: Any) -> None:
    """Have FastAPI build every included router's routes (their dependencies, response
    fields and handlers) now: it otherwise builds a router's on the router's first
    request, which a server would make its first callers wait for."""
    for _ in iter_route_contexts(app.routes):
        pass


def route_index(app: Any) -> RouteIndex:
    index: RouteIndex | None = getattr(app.state, "route_index", None)
    if index is None:
        index = app.state.route_index = RouteIndex(app)
    return index


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")  # one pattern of every template: no group names twice


class _EarlyReject:
    """``matches`` of one router included in the app, answering "no" from one regular
    expression (every path template of the router, alternatives of one pattern) when no
    route of the router can match the path, and asking FastAPI otherwise.

    FastAPI (0.165) tries the app's included routers in order, and asks each one by trying
    every route in it, then tries the chosen router's routes again to handle the request.
    Walking the app's routes for a training path took 80-115 us (best of five, the garbage
    collector off), close to what the plain reference app spends on a whole request; 14-21
    us with this. The templates are read again when routes are added to the router
    (FastAPI's own count of changes), so a later route is never refused."""

    def __init__(self, included: Any) -> None:
        self.included = included
        self.ask = included.matches
        self.version: tuple[int, int] | None = None
        self.paths: re.Pattern[str] | None = None

    def _compiled(self) -> re.Pattern[str] | None:
        router = self.included.original_router
        version = (router._routes_version, len(router.routes))  # an int bumped by every change
        if version != self.version:
            self.version = version
            self.paths = None
            prefix = self.included.include_context.prefix
            # Plain routes only (a router of routes, a mount or a host: always ask). Read from
            # the router itself: FastAPI's route contexts derive every dependency again.
            if all(isinstance(route, Route) for route in router.routes):
                self.paths = re.compile(
                    "|".join(
                        f"(?:{_NAMED_GROUP.sub('(?:', compile_path(prefix + route.path)[0].pattern)})"
                        for route in router.routes
                    )
                )
        return self.paths

    def __call__(self, scope: Scope) -> tuple[Match, Scope]:
        paths = self._compiled()
        if paths is not None and paths.match(get_route_path(scope)) is None:
            return Match.NONE, {}
        result: tuple[Match, Scope] = self.ask(scope)
        return result


_MATCHED = "runstrong.included_match"


class _MatchOnce:
    """``_match`` of one router included in the app, walked once a request. FastAPI (0.165)
    walks the router's routes when the app asks whether the router matches (keeping only
    whether it does), and again when it hands the router the request; the second walk
    finds what the first found (the same path and method, nothing in between changes what
    matches), so its result is kept in the request's scope for it. Any other scope (a
    slash-redirect's copy with another path) or router walks anew."""

    def __init__(self, included: Any) -> None:
        self.walk = included._match

    def __call__(self, scope: Scope) -> Any:
        kept = scope.get(_MATCHED)
        path, method = scope["path"], scope.get("method")
        if kept is not None and kept[0] is self and kept[1] == path and kept[2] == method:
            return kept[3]
        result = self.walk(scope)
        scope[_MATCHED] = (self, path, method, result)
        return result


def reject_early(app: Any) -> None:
    """Give every router included in ``app`` a ``matches`` that refuses at once the paths
    none of its routes can match (:class:`_EarlyReject`), and a walk of its routes done once
    a request (:class:`_MatchOnce`)."""
    for route in app.router.routes:
        router = getattr(route, "original_router", None)
        prefix = getattr(getattr(route, "include_context", None), "prefix", None)
        # FastAPI's included routers as 0.165 makes them; anything else is left to FastAPI.
        if isinstance(getattr(router, "_routes_version", None), int) and isinstance(prefix, str):
            route.matches = _EarlyReject(route)
            if callable(getattr(route, "_match", None)):
                route._match = _MatchOnce(route)
