"""Routes whose dependencies are solved by plan (app/core/shortcut.py) answer exactly what
FastAPI's own handler answers, run each dependency once, and the training reads take it."""

import uuid
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.security import SecurityScopes
from fastapi.testclient import TestClient
from pydantic import BaseModel

from app.core.shortcut import ShortcutRoute
from tests.conftest import register

PREFIX = "/v1/athletes/{athlete_id}"
SHORTCUT_ROUTES = {
    ("GET", f"{PREFIX}/{plural}{one}")
    for plural in ("workouts", "runs", "checkins", "tests")
    for one in ("", "/{record_id}")
}


def shortcut_routes(app: FastAPI) -> set[tuple[str, str | None]]:
    """(method, path) of every route whose handler takes the shortcut."""
    taken: set[tuple[str, str | None]] = set()
    for context in iter_route_contexts(app.router.routes):
        route = context.original_route
        if isinstance(route, ShortcutRoute):
            assert context.app is not None  # its handler is made: the flag is the handler's
            if route.shortcut:
                taken |= {(method, context.path_format) for method in context.methods or ()}
    return taken


def test_the_training_reads_take_the_shortcut_and_nothing_else_does(app: FastAPI) -> None:
    """The one-record and page reads of the four record kinds; writes (a body, a write
    session with ``yield``), exports (a thread) and the change feed go FastAPI's way."""
    assert shortcut_routes(app) == SHORTCUT_ROUTES


def _same(shortcut: Any, stock: Any) -> None:
    assert shortcut.status_code == stock.status_code, (shortcut.text, stock.text)
    assert shortcut.content == stock.content
    varying = {"date", "x-request-id"}
    assert [(k, v) for k, v in shortcut.headers.items() if k not in varying] == [
        (k, v) for k, v in stock.headers.items() if k not in varying
    ]


def test_the_shortcut_answers_what_fastapi_answers(app: FastAPI, client: TestClient) -> None:
    """Every answer of the shortcut's routes, taken again with a dependency override set,
    which sends the request through FastAPI's own handler."""
    runner, other = register(client), register(client)
    made = [
        client.post(
            "/v1/athletes/me/workouts",
            headers=runner.headers,
            json={
                "started_at": f"2026-11-0{day}T07:00:00Z",
                "duration_minutes": 30,
                "sets": [{"position": 1, "exercise": "eccentric-heel-raise", "reps": 15, "load_kg": 10}],
            },
        )
        for day in (2, 3)
    ]
    assert all(m.status_code == 201 for m in made), made[0].text
    one = made[0].headers["Location"]
    token = client.post(
        "/v1/me/tokens", headers=runner.headers, json={"name": "plans only", "scopes": ["plans:read"]}
    ).json()["token"]
    narrow = {"Authorization": f"Bearer {token}"}
    page = "/v1/athletes/me/workouts"
    asked: list[tuple[str, str, dict[str, str]]] = [
        ("GET", one, runner.headers),
        ("HEAD", one, runner.headers),
        ("GET", one.replace("/me/", f"/{runner.id}/"), runner.headers),
        ("GET", one, other.headers),  # another athlete's: 404
        ("GET", one, {}),  # no credential: 401
        ("GET", one, {"Authorization": "Bearer nonsense"}),
        ("GET", one, narrow),  # a token without training:read: 403
        ("GET", one.replace("/me/", "/" + "x" * 65 + "/"), runner.headers),  # 422
        ("GET", one.replace("/me/", "/" + "x" * 65 + "/"), {}),  # the credential first: 401
        ("GET", f"{page}/{uuid.uuid4()}", runner.headers),  # no such workout
        ("GET", f"{page}?limit=1", runner.headers),  # a page and its Link
        ("GET", f"{page}?limit=0", runner.headers),
        ("GET", f"{page}?limit=1&cursor=not-a-cursor", runner.headers),
        ("GET", f"{page}?first=2026-11-03&exercise=eccentric-heel-raise", runner.headers),
        ("GET", f"{page}?first=yesterday", runner.headers),
        ("GET", f"{page}?exercise=Not%20A%20Slug", runner.headers),
        ("GET", "/v1/athletes/me/runs?limit=5", runner.headers),
        ("GET", "/v1/athletes/me/checkins", other.headers),
    ]
    answers = [client.request(method, path, headers=headers) for method, path, headers in asked]
    assert {a.status_code for a in answers} == {200, 401, 403, 404, 422}
    assert answers[10].headers["Link"] and len(answers[10].json()["items"]) == 1

    app.dependency_overrides[unused] = unused
    try:
        again = [client.request(method, path, headers=headers) for method, path, headers in asked]
    finally:
        app.dependency_overrides.clear()
    for (method, path, _), shortcut, stock in zip(asked, answers, again, strict=True):
        try:
            _same(shortcut, stock)
        except AssertionError as failed:
            raise AssertionError(f"{method} {path}: {failed}") from failed


# A small app of its own: what the shortcut runs, in which order, how often.


class Item(BaseModel):
    name: str


def small_app(calls: list[str]) -> FastAPI:
    router = APIRouter(route_class=ShortcutRoute)

    async def principal(request: Request, security_scopes: SecurityScopes) -> str:
        calls.append(f"principal {security_scopes.scope_str}")
        return request.headers.get("x-who", "runner")

    async def access(
        who: Annotated[str, Security(principal, scopes=["read"])], owner: Annotated[str, Path(max_length=5)]
    ) -> str:
        calls.append(f"access {who} {owner}")
        return f"{who}@{owner}"

    async def noted() -> None:
        calls.append("noted")

    @router.get("/{owner}/items/{number}", dependencies=[Depends(noted)])
    async def item(
        request: Request, seen: Annotated[str, Depends(access)], number: int, size: int = Query(1, le=9)
    ) -> Response:
        calls.append("endpoint")
        return JSONResponse({"seen": seen, "number": number, "size": size, "path": request.url.path})

    def sync_dependency() -> str:
        return "thread"

    async def with_yield() -> Any:
        yield "session"

    @router.get("/sync")
    async def through_a_thread(value: Annotated[str, Depends(sync_dependency)]) -> Response:
        return JSONResponse(value)

    @router.get("/yield")
    async def with_a_generator(value: Annotated[str, Depends(with_yield)]) -> Response:
        return JSONResponse(value)

    @router.post("/body")
    async def with_a_body(body: Item) -> Response:
        return JSONResponse(body.name)

    @router.get("/model")
    async def a_model() -> Item:
        return Item(name="x")

    @router.get("/twice")
    async def twice(a: Annotated[str, Depends(access)], b: Annotated[str, Depends(principal)]) -> Response:
        return JSONResponse([a, b])

    app = FastAPI()
    app.include_router(router, prefix="/v1")
    return app


def test_only_async_trees_of_parameters_take_the_shortcut() -> None:
    app = small_app([])
    assert shortcut_routes(app) == {("GET", "/v1/{owner}/items/{number}")}


def unused() -> None:  # pragma: no cover - only its presence as an override matters
    pass


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/ann/items/7?size=3", 200),
        ("/v1/ann/items/seven", 422),  # the endpoint's parameter
        ("/v1/ann/items/7?size=10", 422),
        ("/v1/annabel/items/7", 422),  # a dependency's parameter
        ("/v1/annabel/items/seven?size=10", 422),  # all three
    ],
)
def test_the_shortcut_runs_what_fastapi_runs_once_in_its_order(path: str, status: int) -> None:
    """The same calls in the same order as FastAPI's handler makes them (which an override
    of a dependency the route does not use brings back), each once, and the same answer."""
    answers, ran = [], []
    for overridden in (False, True):
        calls: list[str] = []
        app = small_app(calls)
        if overridden:
            app.dependency_overrides[unused] = unused
        with TestClient(app) as client:
            answers.append(client.get(path, headers={"x-who": "kim"}))
        ran.append(calls)
    shortcut, stock = answers
    assert shortcut.status_code == stock.status_code == status, shortcut.text
    assert shortcut.json() == stock.json()
    assert ran[0] == ran[1]
    assert len(set(ran[0])) == len(ran[0])  # nothing twice
    if status == 200:
        assert ran[0] == ["noted", "principal read", "access kim ann", "endpoint"]
        assert shortcut.json() == {"seen": "kim@ann", "number": 7, "size": 3, "path": "/v1/ann/items/7"}


def test_overrides_send_the_request_fastapis_way() -> None:
    calls: list[str] = []
    app = small_app(calls)

    async def noted_differently() -> None:
        calls.append("overridden")

    noted = next(
        d.dependency
        for c in iter_route_contexts(app.router.routes)
        if c.path_format == "/v1/{owner}/items/{number}"
        for d in c.original_route.dependencies  # type: ignore[attr-defined]
    )
    app.dependency_overrides[noted] = noted_differently
    with TestClient(app) as client:
        assert client.get("/v1/ann/items/7").status_code == 200
    assert calls == ["overridden", "principal read", "access runner ann", "endpoint"]
