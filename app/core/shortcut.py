"""Routes whose dependencies are solved by a plan made once, when the request is valid.

FastAPI solves a route's dependencies the same general way on every request: for each
one it makes a ``Response`` for headers nobody sets, a cache key, checks overrides,
generators and thread pools, and validates parameters after the dependencies that come
before them have run (``fastapi.dependencies.utils.solve_dependencies``). Without it a
one-record read takes 15 % fewer instructions and 19 % less CPU in the app, a 10-set
workout write 4.5 % fewer instructions (bench/README.md, twenty-second and twenty-third
rounds).

``ShortcutRoute`` looks at a route's dependency tree once. Where no dependency has a
``yield`` or comes twice, the plain functions among them (FastAPI calls each in the
thread pool) come after every ``async`` one in FastAPI's order, the endpoint too if any
does, and the tree asks only for path, query, header and cookie parameters, the request,
security scopes and, for the endpoint alone, a JSON body (no form, no ``Response``, no
background tasks), its handler:

1. validates every parameter of the tree with FastAPI's own ``request_params_to_args``
   and the body with its ``request_body_to_args``; if any is invalid, the body is not
   plain JSON (another content type, none, JSON that does not decode), the app has
   dependency overrides, or FastAPI's telemetry is on, the request goes to FastAPI's
   handler, untouched but for the body already received (kept on the request, where
   FastAPI's handler reads it), which answers as it always does. Validation calls no
   dependency, only validators (pydantic's, and field validators such as ``Day``'s),
   which are pure: an invalid request is validated twice, and a valid one whose
   credential is refused has had its parameters and body validated, both CPU only. A
   body that cannot be received (over the size cap, a client gone) fails as in FastAPI's
   handler;
2. calls the dependencies in FastAPI's order (depth first, in declaration order) with the
   values FastAPI would give them, then the endpoint: the ``async`` ones awaited on the
   event loop, the plain ones (the last of them the endpoint) one after another in one
   call in the thread pool, where FastAPI makes a thread-pool hop for each. A write
   whose credential is checked by a plain dependency (``accounts.deps.writing_athlete``)
   thus checks it in the write's own hop. (In that one call the plain steps share one
   copy of the request's context variables, where each of FastAPI's hops has its own: a
   variable a plain dependency sets is seen by the steps after it. A plain dependency
   with a parameter named ``func``, which FastAPI's ``run_in_threadpool(call, **values)``
   cannot call, keeps its route on FastAPI's handler.)

An exception raised by a dependency or the endpoint leaves the same way as from
FastAPI's handler (a logged traceback names these frames instead of FastAPI's). Only
endpoints annotated to return a ``Response`` take the shortcut; one that returns
anything else breaks its own annotation (which mypy --strict reports) and gets a
``TypeError``, where FastAPI's handler would serialise what it returned. Any other
route gets FastAPI's handler. The tree is FastAPI's effective one for the route (with
an included router's dependencies), read through FastAPI's private context; uv.lock
pins FastAPI's version, and an upgrade must pass tests/test_shortcut.py, which compares
the shortcut's answers and calls with FastAPI's own handler and fails if the routes
meant to take the shortcut stop taking it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_typed_return_annotation, request_body_to_args, request_params_to_args
from fastapi.params import Form
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import Request
from starlette.responses import Response

try:  # FastAPI's own tests of a dependency's kind, and its scopes: private, version pinned
    from fastapi._compat.shared import field_annotation_is_sequence
    from fastapi.dependencies.models import (
        _get_oauth_scopes,
        _is_async_gen_callable,
        _is_coroutine_callable,
        _is_gen_callable,
    )
    from fastapi.dependencies.utils import (
        _get_param_aliases,
        _get_param_model,
        _is_json_field,
    )
    from fastapi.telemetry import get_telemetry_data

    _EFFECTIVE: ContextVar[Any] | None = fastapi_routing._effective_route_context_var
except (ImportError, AttributeError):  # pragma: no cover - another FastAPI: no shortcuts
    _EFFECTIVE = None

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


@dataclass(frozen=True, slots=True)
class _Step:
    """One dependency (or the endpoint): what it is called with."""

    call: Callable[..., Any]
    name: str | None  # the parameter it fills in the step that needs it
    in_thread: bool  # a plain function: called in the thread pool, with the plain steps after it
    needs: tuple[_Step, ...]
    path: tuple[tuple[str, str, Any], ...]  # (name, key in the path, field) of plain path parameters
    params: tuple[tuple[str, Any], ...]  # (the request's attribute, the fields read from it)
    request: str | None
    scopes_param: str | None
    scopes: tuple[str, ...]
    body: tuple[Any, ...]  # the endpoint's JSON body fields (only the endpoint may have any)


# Where FastAPI reads each kind of parameter from (the request's attribute), and the
# dependant's list of them.
_WHERE = (
    ("path_params", "path_params"),
    ("query_params", "query_params"),
    ("headers", "header_params"),
    ("cookies", "cookie_params"),
)


def plan(dependant: Dependant) -> _Step | None:
    """The steps of ``dependant``'s tree, or None where the shortcut does not cover it."""
    seen: set[Any] = set()

    def step(node: Dependant) -> _Step | None:
        call = node.call
        endpoint = node is dependant
        if (
            call is None
            or (node.body_params and not endpoint)
            or any(isinstance(field.field_info, Form) for field in node.body_params)
            or node.websocket_param_name
            or node.http_connection_param_name
            or node.response_param_name
            or node.background_tasks_param_name
            or node.concurrency is not None
            or _is_gen_callable(call)
            or _is_async_gen_callable(call)
            or call in seen
        ):
            return None
        seen.add(call)
        if not endpoint and not _is_coroutine_callable(call) and "func" in _names(node):
            return None  # FastAPI's run_in_threadpool(call, func=...) fails on it: not ours to answer otherwise
        needs = []
        for sub in node.dependencies:
            made = step(sub)
            if made is None:
                return None
            needs.append(made)
        path, params = [], []
        for where, attr in _WHERE:
            fields = list(getattr(node, attr))
            if where == "path_params":
                keyed = [(field, _path_key(field)) for field in fields]
                path = [(field.name, key, field) for field, key in keyed if key is not None]
                fields = [field for field, key in keyed if key is None]
            if fields:
                params.append((where, tuple(fields)))
        return _Step(
            call=call,
            name=node.name,
            in_thread=not _is_coroutine_callable(call),
            needs=tuple(needs),
            path=tuple(path),
            params=tuple(params),
            request=node.request_param_name,
            scopes_param=node.security_scopes_param_name,
            scopes=tuple(_get_oauth_scopes(dependant=node)) if node.security_scopes_param_name else (),
            body=tuple(node.body_params),
        )

    if _EFFECTIVE is None or not _returns_response(dependant.call):
        return None
    return step(dependant)


def _names(node: Dependant) -> set[str | None]:
    """The names of the arguments ``node``'s call is given."""
    params = (*node.path_params, *node.query_params, *node.header_params, *node.cookie_params, *node.body_params)
    return {
        *(field.name for field in params),
        *(sub.name for sub in node.dependencies),
        node.request_param_name,
        node.security_scopes_param_name,
    }


def _in_order(root: _Step) -> tuple[tuple[_Step, ...], int]:
    """Every step of ``root``'s tree in the order FastAPI calls them (depth first, in
    declaration order; the endpoint last), and where the plain functions begin; a split
    of -1 where an ``async`` step comes after a plain one (the shortcut does not cover it)."""
    order: list[_Step] = []

    def visit(step: _Step) -> None:
        for need in step.needs:
            visit(need)
        order.append(step)

    visit(root)
    split = next((index for index, step in enumerate(order) if step.in_thread), len(order))
    if any(not step.in_thread for step in order[split:]):
        return tuple(order), -1
    return tuple(order), split


def _path_key(field: Any) -> str | None:
    """The key of a path parameter that is one plain value, as FastAPI finds it (not a
    model, not JSON, not a sequence); None for any other."""
    if _get_param_model(field) is not None or _is_json_field(field):
        return None
    if field_annotation_is_sequence(field.field_info.annotation):
        return None
    key: str = _get_param_aliases(field)[0][1]
    return key


def _returns_response(call: Any) -> bool:
    """Whether ``call`` is annotated to return a ``Response``, read as FastAPI reads a
    return annotation (an annotation naming what only a closure knows does not resolve:
    not ours to guess)."""
    try:
        returned = get_typed_return_annotation(call)
    except Exception:
        return False
    return isinstance(returned, type) and issubclass(returned, Response)


def _validated(step: _Step, request: Request, into: dict[int, dict[str, Any]]) -> bool:
    """Every parameter of the tree, validated as FastAPI validates it; False on any error."""
    for need in step.needs:
        if not _validated(need, request, into):
            return False
    values: dict[str, Any] = {}
    if step.path:
        # What request_params_to_args does for such a parameter, without its generic
        # steps: the router put the value there (a missing one is FastAPI's to report).
        path = request.path_params
        for name, key, field in step.path:
            value = path.get(key)
            if value is None:
                return False
            valid, errors = field.validate(value, values, loc=("path", key))
            if errors:
                return False
            values[name] = valid
    for where, fields in step.params:
        got, errors = request_params_to_args(fields, getattr(request, where))
        if errors:
            return False
        values.update(got)
    into[id(step)] = values
    return True


def _arguments(
    step: _Step, request: Request, validated: dict[int, dict[str, Any]], solved: dict[int, Any]
) -> dict[str, Any]:
    values = validated[id(step)]
    for need in step.needs:
        if need.name is not None:  # a route's or router's ``dependencies=[...]``: run, not passed
            values[need.name] = solved[id(need)]
    if step.request:
        values[step.request] = request
    if step.scopes_param:
        values[step.scopes_param] = SecurityScopes(scopes=list(step.scopes))
    return values


async def _run(order: tuple[_Step, ...], split: int, request: Request, validated: dict[int, dict[str, Any]]) -> Any:
    """The steps in ``order``: the ``async`` ones (before ``split``) on the event loop, the
    plain ones after them in one call in the thread pool; what the endpoint returned."""
    solved: dict[int, Any] = {}
    for step in order[:split]:
        solved[id(step)] = await step.call(**_arguments(step, request, validated, solved))
    if split == len(order):
        return solved[id(order[-1])]
    plain = order[split:]

    def in_thread() -> Any:  # not run_in_threadpool's keywords: a parameter may be named ``func``
        for step in plain:
            solved[id(step)] = step.call(**_arguments(step, request, validated, solved))
        return solved[id(plain[-1])]

    return await run_in_threadpool(in_thread)


def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this ``Content-Type`` as JSON, for the plain forms
    only (``application/json`` with or without parameters); any other goes FastAPI's way."""
    return content_type is not None and content_type.partition(";")[0].strip().lower() == "application/json"


async def _json_body(request: Request) -> tuple[bool, Any]:
    """The request's JSON body as FastAPI's handler reads it, and whether it could be read
    that way here: (False, None) for anything else (no body, another content type, JSON
    that does not decode), which FastAPI's handler then reads and answers itself. A body
    that cannot be received fails as in FastAPI's handler (our cap's 413 as it is, anything
    else a 400), since the stream it came from cannot be read twice."""
    try:
        received = await request.body()
    except HTTPException:
        raise
    except Exception as failed:
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from failed
    if not received or not _is_json(request.headers.get("content-type")):
        return False, None
    try:
        return True, await request.json()  # kept on the request: FastAPI's handler would not parse it twice
    except Exception:
        return False, None


class ShortcutRoute(APIRoute):
    """An ``APIRoute`` that solves its dependencies by plan where it can (module doc)."""

    # Whether the last handler made for this route takes the shortcut (a route included
    # twice has a handler per inclusion: read it right after each is made).
    shortcut: bool = False

    def get_route_handler(self) -> Handler:
        stock = super().get_route_handler()
        route: Any = self  # what FastAPI's handler is made from: the included route's context
        if _EFFECTIVE is not None:
            effective = _EFFECTIVE.get()
            if effective is not None and effective.original_route is self:
                route = effective
        steps = plan(route.dependant)
        order, split = _in_order(steps) if steps is not None else ((), -1)
        self.shortcut = split >= 0
        if steps is None or not self.shortcut:
            return stock
        overrides = route.dependency_overrides_provider  # the app, whose overrides FastAPI applies
        body_fields = list(steps.body)
        embed = route._embed_body_fields

        async def handler(request: Request) -> Response:
            if (
                (overrides is not None and getattr(overrides, "dependency_overrides", None))
                or get_telemetry_data() is not None
                or (body_fields and MAX_BODY_SIZE_SCOPE_KEY in request.scope)
            ):
                return await stock(request)
            validated: dict[int, dict[str, Any]] = {}
            if not _validated(steps, request, validated):
                return await stock(request)  # FastAPI's answer to what is invalid
            if body_fields:
                readable, received = await _json_body(request)
                if not readable:
                    return await stock(request)
                body, errors = await request_body_to_args(body_fields, received, embed)
                if errors:
                    return await stock(request)
                validated[id(steps)].update(body)
            answer = await _run(order, split, request, validated)
            if not isinstance(answer, Response):
                raise TypeError(f"{self.name} returned {type(answer).__name__}, not the Response it declares")
            return answer

        return handler
