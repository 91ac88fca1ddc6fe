"""Routes whose dependencies are solved by plan (app/core/shortcut.py) answer exactly what
FastAPI's own handler answers, run each dependency once, and the training and catalogue
routes take it."""

import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Form, Path, Query, Request, Security
from fastapi import routing as fastapi_routing
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.security import SecurityScopes
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter

from app.core.shortcut import ShortcutRoute
from tests.conftest import register
from tests.training.test_log import workout as full_workout

PREFIX = "/v1/athletes/{athlete_id}"
RECORD_KINDS = ("workouts", "runs", "checkins", "tests")
SHORTCUT_ROUTES = (
    {(method, f"{PREFIX}/{plural}") for plural in RECORD_KINDS for method in ("GET", "POST")}
    | {
        (method, f"{PREFIX}/{plural}/{{record_id}}")
        for plural in RECORD_KINDS
        for method in ("GET", "PUT", "PATCH", "DELETE")
    }
    | {("GET", f"{PREFIX}/export"), ("GET", f"{PREFIX}/export.csv"), ("GET", f"{PREFIX}/changes")}
)
CATALOGUE_KINDS = ("sources", "muscles", "phases", "structures", "equipment", "injuries", "exercises", "protocols")
CATALOGUE_ROUTES = (
    {("GET", f"/v1/{kind}") for kind in (*CATALOGUE_KINDS, "progressions")}
    | {("GET", f"/v1/{kind}/{{slug}}") for kind in CATALOGUE_KINDS}
    | {("GET", "/v1/exercises/{slug}/progressions")}
)


@contextmanager
def fastapi_solving() -> Iterator[list[int]]:
    """How many times FastAPI's handler solved a request's dependencies meanwhile (the
    shortcut never does; its way back to FastAPI's handler does)."""
    solved = [0]
    original = fastapi_routing.solve_dependencies  # type: ignore[attr-defined]

    async def counted(*args: Any, **kwargs: Any) -> Any:
        solved[0] += 1
        return await original(*args, **kwargs)

    fastapi_routing.solve_dependencies = counted  # type: ignore[attr-defined]
    try:
        yield solved
    finally:
        fastapi_routing.solve_dependencies = original  # type: ignore[attr-defined]


def _taken(client: TestClient, method: str, path: str, *, way: str = "shortcut", **kwargs: Any) -> Any:
    """``client.request``, its answer checked to come the ``way`` it should when it is a
    success: the shortcut's (FastAPI's solver not called) or FastAPI's handler's."""
    with fastapi_solving() as solved:
        answer = client.request(method, path, **kwargs)
    if answer.status_code < 400:
        taken = "shortcut" if solved == [0] else "fastapi"
        assert taken == way, f"{method} {path}: answered {answer.status_code} the {taken} way, not the {way} way"
    return answer


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


def test_the_training_and_catalogue_routes_take_the_shortcut_and_nothing_else_does(app: FastAPI) -> None:
    """Reads, pages, creates, replacements, changes and deletions of the four record kinds,
    the change feed, the exports, every catalogue read and the plan preview; the run
    import (a form with a file) goes FastAPI's way, as does every other route."""
    assert shortcut_routes(app) == SHORTCUT_ROUTES | CATALOGUE_ROUTES | {("POST", "/v1/plans/preview")}


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
        ("GET", "/v1/athletes/me/changes?since=1&limit=1", runner.headers),
        ("GET", "/v1/athletes/me/changes", other.headers),
        ("GET", "/v1/athletes/me/changes?limit=501", runner.headers),
        ("GET", "/v1/exercises?limit=3&muscle=calves&available_equipment=step&available_equipment=none", {}),
        ("HEAD", "/v1/muscles?kind=group&offset=1", {}),
        ("GET", "/v1/exercises/eccentric-heel-raise", runner.headers),
        ("GET", "/v1/exercises/eccentric-heel-raise/progressions", {}),
        ("GET", "/v1/exercises?max_achilles_tier=9", {}),
        ("GET", "/v1/injuries/no-such-injury", {}),
        ("GET", "/v1/protocols?limit=101", {}),
    ]
    answers = [_taken(client, method, path, headers=headers) for method, path, headers in asked]
    assert {a.status_code for a in answers} == {200, 401, 403, 404, 422}
    assert answers[10].headers["Link"] and len(answers[10].json()["items"]) == 1

    app.state.responses.clear()  # the catalogue's kept answers: the second pass renders them too
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


# What differs between two athletes' identical writes: ids (each replaced by the order it
# first appears in), the server's clock, the email address and the rate limit's reset.
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SERVER_TIME = re.compile(r'"(created_at|updated_at|deleted_at|exported_at)": ?"[^"]*"')
RESET = re.compile(r";t=\d+")
VARYING = {"date", "x-request-id"}


def _normalised(text: str, ids: dict[str, str], email: str) -> str:
    text = UUID.sub(lambda m: ids.setdefault(m.group(0), f"<id{len(ids)}>"), text.replace(email, "<email>"))
    return RESET.sub(";t=<s>", SERVER_TIME.sub(r'"\1":"<time>"', text))


def _writes(client: Any, headers: dict[str, str]) -> Iterator[Any]:
    """Every kind of write the shortcut takes, and what FastAPI's handler must answer for
    the bodies it does not take (a wrong type, undecodable JSON, a body over the cap)."""
    page = "/v1/athletes/me/workouts"
    workout = {
        "started_at": "2026-11-02T07:00:00+01:00",
        "duration_minutes": 30,
        "sets": [{"position": 1, "exercise": "eccentric-heel-raise", "reps": 15, "load_kg": 10}],
    }
    other = {**workout, "duration_minutes": 31}
    # Each stored workout starts at its own time: the export orders them by it (then by id).
    later, latest = ({**other, "started_at": f"2026-11-0{day}T07:00:00Z"} for day in (5, 6))
    put, put_other = ({**workout, "started_at": "2026-11-07T07:00:00Z", "duration_minutes": m} for m in (30, 31))
    key = {**headers, "Idempotency-Key": "first"}
    as_json = {**headers, "Content-Type": "application/json"}
    first = client.post(page, headers=key, json=workout)
    yield first
    yield client.post(page, headers=key, json=workout)  # replayed
    yield client.post(page, headers=key, json=other)  # the key with another body: 422
    yield client.post(page, headers=headers, json={**workout, "sets": [{"position": 1, "reps": -1}]})
    yield client.post(page, headers=headers, json={**workout, "surprise": 1})
    yield client.post(page, headers=headers, content=b"")
    yield client.post(page, headers={**headers, "Content-Type": "text/plain"}, json=workout)
    yield client.post(page, headers=headers, content=b'{"started_at": "2026-11-02T07:00:00Z"}')  # no type
    yield client.post(page, headers=as_json, content=b'{"started_at": ')  # JSON that does not decode
    yield client.post(page, headers=as_json, content=b'{"notes": "\xff"}')  # not UTF-8: 400
    yield client.post(page, headers={**headers, "Content-Type": "application/json; charset=utf-8"}, json=later)
    yield client.post(page, headers={**headers, "Content-Type": "application/vnd.runstrong+json"}, json=latest)
    yield client.post(page, headers={"Authorization": "Bearer nonsense"}, json={"sets": "none"})  # 401 first
    yield client.post(page, json=workout)

    def over_the_cap() -> Iterator[bytes]:  # no Content-Length: the cap counts as it reads
        yield b'{"notes": "'
        for _ in range(1100):
            yield b"x" * 1024
        yield b'"}'

    yield client.post(page, headers=as_json, content=over_the_cap())

    one = f"{page}/{uuid.uuid4()}"
    yield client.put(one, headers=headers, json=put)  # created with the client's id
    yield client.put(one, headers=headers, json=put)  # the same again: 200
    yield client.put(one, headers=headers, json=put_other)  # another body without If-Match: 428
    yield client.put(one, headers={**headers, "If-Match": '"9"'}, json=put_other)  # 412
    replaced = client.put(one, headers={**headers, "If-Match": '"1"'}, json=put_other)
    yield replaced
    yield client.patch(one, headers=headers, json={"notes": "easy"})  # 428
    yield client.patch(one, headers={**headers, "If-Match": replaced.headers["ETag"]}, json={"duration_minutes": 0})
    changed = client.patch(one, headers={**headers, "If-Match": replaced.headers["ETag"]}, json={"notes": "easy"})
    yield changed
    yield client.delete(one, headers={**headers, "If-Match": replaced.headers["ETag"]})  # stale: 412
    yield client.delete(first.headers["Location"], headers=headers)
    yield client.get(first.headers["Location"], headers=headers)  # 404
    run = {"started_at": "2026-11-03T06:30:00Z", "distance_km": 8.0, "duration_seconds": 2700, "type": "easy"}
    yield client.post("/v1/athletes/me/runs", headers=headers, json=run)
    checkin = {"date": "2026-11-04", "sites": [{"site": "achilles-left", "pain": 2, "morning_stiffness": 3}]}
    yield client.post("/v1/athletes/me/checkins", headers=headers, json=checkin)
    yield client.get("/v1/athletes/me/export", headers=headers)
    yield client.get("/v1/athletes/me/export.csv", headers=headers)


def test_the_shortcut_writes_what_fastapi_writes(app: FastAPI, client: TestClient) -> None:
    """The same writes by two athletes, one through the shortcut and one with a dependency
    override set (FastAPI's own handler): the same statuses, headers and bodies, ids and
    the clock aside, and the same records stored (the export and the reads after them)."""
    ours, theirs = register(client, "shortcut"), register(client, "shortcut")

    class Taken:  # the client's verbs, each success checked to be the shortcut's (plain JSON)
        def __getattr__(self, verb: str) -> Any:
            def sent(path: str, **kwargs: Any) -> Any:
                typed = kwargs.get("headers", {}).get("Content-Type", "application/json")
                way = "shortcut" if typed.startswith("application/json") else "fastapi"
                return _taken(client, verb.upper(), path, way=way, **kwargs)

            return sent

    answers = list(_writes(Taken(), ours.headers))
    app.dependency_overrides[unused] = unused
    try:
        again = list(_writes(client, theirs.headers))
    finally:
        app.dependency_overrides.clear()
    statuses = [a.status_code for a in answers]
    assert set(statuses) == {200, 201, 204, 400, 401, 404, 412, 413, 422, 428}, [int(s) for s in statuses]
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    assert answers[10].status_code == answers[11].status_code == 201  # JSON with a charset, and a +json type
    seen: list[dict[str, str]] = [{}, {}]
    for number, (shortcut, stock) in enumerate(zip(answers, again, strict=True)):
        sides = []
        for side, athlete, answer in ((0, ours, shortcut), (1, theirs, stock)):
            headers = [(k, _normalised(v, seen[side], athlete.email)) for k, v in answer.headers.items()]
            sides.append(
                (
                    answer.status_code,
                    [(k, v) for k, v in headers if k not in VARYING],
                    _normalised(answer.text, seen[side], athlete.email),
                )
            )
        assert sides[0] == sides[1], f"request {number}: {sides[0]} != {sides[1]}"


def test_the_preview_answers_what_fastapi_answers(app: FastAPI, client: TestClient) -> None:
    """A plan, the engine's refusals, an invalid body and one that is not JSON, each the
    same through the shortcut and FastAPI's handler."""
    plan = {
        "kind": "achilles",
        "start_date": "2026-11-23",
        "profile": {"achilles_pain": 3, "equipment": ["seated-calf-raise-machine", "leg-press-machine"]},
    }
    bodies: list[dict[str, Any]] = [
        {"json": plan},
        {"json": {**plan, "profile": {"equipment": ["jetpack"]}}},  # the engine's 422, naming the field
        {"json": {**plan, "kind": "couch"}},
        {"content": b"kind=achilles", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    ]
    answers = [client.post("/v1/plans/preview", **body) for body in bodies]
    assert [a.status_code for a in answers] == [200, 422, 422, 422]
    app.dependency_overrides[unused] = unused
    try:
        again = [client.post("/v1/plans/preview", **body) for body in bodies]
    finally:
        app.dependency_overrides.clear()
    for body, shortcut, stock in zip(bodies, answers, again, strict=True):
        try:
            _same(shortcut, stock)
        except AssertionError as failed:
            raise AssertionError(f"{body}: {failed}") from failed


def test_answers_written_once_are_what_their_response_models_write(app: FastAPI, client: TestClient) -> None:
    """The routes that write their answer themselves (pydantic-core's JSON of their public
    model) send exactly what their declared ``response_model`` writes of it: nothing more
    (a field the contract lacks), nothing less, in the same order and form. Every
    catalogue list and one record of each kind, the training reads and the feed, and the
    preview."""
    runner = register(client)
    made = client.post("/v1/athletes/me/workouts", headers=runner.headers, json=full_workout())  # every kind of set
    assert made.status_code == 201
    models = {
        (method, context.path_format): context.original_route.response_model
        for context in iter_route_contexts(app.router.routes)
        if isinstance(context.original_route, ShortcutRoute)
        for method in context.methods or ()
    }
    asked: list[tuple[str, str, str, dict[str, Any]]] = [
        ("GET", "/v1/progressions", "/v1/progressions?limit=100", {}),
        ("GET", "/v1/exercises/{slug}/progressions", "/v1/exercises/eccentric-heel-raise/progressions", {}),
        ("GET", f"{PREFIX}/workouts", "/v1/athletes/me/workouts", {"headers": runner.headers}),
        ("GET", f"{PREFIX}/workouts/{{record_id}}", made.headers["Location"], {"headers": runner.headers}),
        ("GET", f"{PREFIX}/changes", "/v1/athletes/me/changes", {"headers": runner.headers}),
        (
            "POST",
            "/v1/plans/preview",
            "/v1/plans/preview",
            {"json": {"kind": "achilles", "start_date": "2026-11-23", "profile": {"achilles_pain": 3}}},
        ),
    ]
    for kind in CATALOGUE_KINDS:
        first = client.get(f"/v1/{kind}?limit=1").json()["items"][0]["slug"]
        asked += [
            ("GET", f"/v1/{kind}", f"/v1/{kind}?limit=100", {}),
            ("GET", f"/v1/{kind}/{{slug}}", f"/v1/{kind}/{first}", {}),
        ]
    for method, template, path, kwargs in asked:
        answer = client.request(method, path, **kwargs)
        assert answer.status_code == 200, (path, answer.text)
        adapter: TypeAdapter[Any] = TypeAdapter(models[(method, template)])
        assert adapter.dump_json(adapter.validate_json(answer.content)) == answer.content, path


# A small app of its own: what the shortcut runs, in which order, how often.


class Item(BaseModel):
    name: str


# Set by a plain dependency in its thread-pool call: the endpoint sees it in the same call only.
HOP: ContextVar[str | None] = ContextVar("hop", default=None)


def small_app(calls: list[str]) -> FastAPI:
    router = APIRouter(route_class=ShortcutRoute)
    loop_thread: list[int] = []

    async def principal(request: Request, security_scopes: SecurityScopes) -> str:
        calls.append(f"principal {security_scopes.scope_str}")
        return request.headers.get("x-who", "runner")

    async def access(
        who: Annotated[str, Security(principal, scopes=["read"])], owner: Annotated[str, Path(max_length=5)]
    ) -> str:
        loop_thread[:] = [threading.get_ident()]
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

    @router.post("/{owner}/items")
    def with_a_body(
        request: Request, seen: Annotated[str, Depends(access)], body: Item, tag: str = Query("x", max_length=3)
    ) -> Response:
        where = "the loop" if loop_thread == [threading.get_ident()] else "a thread"
        calls.append(f"endpoint {body.name} {tag} in {where}")
        return JSONResponse({"seen": seen, "name": body.name, "tag": tag}, 201)

    @router.get("/plain")
    def plain(func: str = Query("x"), args: int = 0) -> Response:  # names run_in_threadpool takes itself
        calls.append(f"plain {func} {args}")
        return JSONResponse({"func": func, "args": args})

    @router.post("/form")
    async def with_a_form(name: Annotated[str, Form()]) -> Response:
        return JSONResponse(name)

    @router.get("/model")
    async def a_model() -> Item:
        return Item(name="x")

    def plain_access(
        who: Annotated[str, Security(principal, scopes=["write"])], owner: Annotated[str, Path(max_length=5)]
    ) -> str:
        calls.append(f"plain access {who} {owner}")
        HOP.set(f"{who}@{owner}")
        return f"{who}@{owner}"

    @router.put("/{owner}/items/{number}")
    def replaced(seen: Annotated[str, Depends(plain_access)], number: int, body: Item) -> Response:
        calls.append(f"endpoint {seen} {number} {body.name}")
        return JSONResponse({"seen": seen, "number": number, "name": body.name, "same_call": HOP.get() == seen})

    def named_func(func: str = Query("x")) -> str:  # FastAPI's run_in_threadpool(call, func=...) cannot call it
        return func

    @router.get("/func")
    def with_func(value: Annotated[str, Depends(named_func)]) -> Response:
        return JSONResponse(value)

    @router.get("/mixed")
    def mixed(a: Annotated[str, Depends(sync_dependency)], b: Annotated[str, Depends(principal)]) -> Response:
        return JSONResponse([a, b])

    @router.get("/twice")
    async def twice(a: Annotated[str, Depends(access)], b: Annotated[str, Depends(principal)]) -> Response:
        return JSONResponse([a, b])

    app = FastAPI()
    app.include_router(router, prefix="/v1")
    return app


def test_trees_of_parameters_whose_plain_functions_come_last_take_the_shortcut() -> None:
    """Not a plain dependency of an ``async`` endpoint (``/sync``), nor one an ``async``
    dependency comes after (``/mixed``), nor one with a parameter named ``func``
    (``/func``: FastAPI's handler fails on it, and the shortcut does not answer otherwise),
    nor a generator, a form, a model's answer or a dependency used twice."""
    app = small_app([])
    assert shortcut_routes(app) == {
        ("GET", "/v1/{owner}/items/{number}"),
        ("POST", "/v1/{owner}/items"),
        ("PUT", "/v1/{owner}/items/{number}"),
        ("GET", "/v1/plain"),
    }


def test_a_plain_function_gets_every_parameter_by_its_name() -> None:
    """Even one named as run_in_threadpool's own parameters (``func``)."""
    shortcut, calls = _both_ways("GET", "/v1/plain?func=hi&args=2", {}, b"", 200)
    assert shortcut.json() == {"func": "hi", "args": 2}
    assert calls == ["plain hi 2"]


def unused() -> None:  # pragma: no cover - only its presence as an override matters
    pass


def _both_ways(
    method: str, path: str, headers: dict[str, str], body: bytes, status: int, way: str = "shortcut"
) -> tuple[Any, list[str]]:
    """The small app's answer and calls through the shortcut, once they are checked to be
    what FastAPI's handler answers and calls (which an override of a dependency the route
    does not use brings back): each call once, in the same order."""
    answers, ran = [], []
    for overridden in (False, True):
        calls: list[str] = []
        app = small_app(calls)
        if overridden:
            app.dependency_overrides[unused] = unused
        with TestClient(app) as client:
            way_taken = "fastapi" if overridden else way
            answers.append(_taken(client, method, path, way=way_taken, headers=headers, content=body))
        ran.append(calls)
    shortcut, stock = answers
    assert shortcut.status_code == stock.status_code == status, shortcut.text
    _same(shortcut, stock)
    assert ran[0] == ran[1]
    assert len(set(ran[0])) == len(ran[0])  # nothing twice
    return shortcut, ran[0]


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
    shortcut, calls = _both_ways("GET", path, {"x-who": "kim"}, b"", status)
    if status == 200:
        assert calls == ["noted", "principal read", "access kim ann", "endpoint"]
        assert shortcut.json() == {"seen": "kim@ann", "number": 7, "size": 3, "path": "/v1/ann/items/7"}


@pytest.mark.parametrize(
    ("path", "content_type", "body", "status"),
    [
        ("/v1/ann/items?tag=a", "application/json", b'{"name": "bar"}', 201),
        ("/v1/ann/items", "Application/JSON; charset=utf-8", b'{"name": "bar"}', 201),
        ("/v1/ann/items", "application/problem+json", b'{"name": "bar"}', 201),  # FastAPI's way, as JSON
        ("/v1/ann/items", "application/json", b'{"name": 5}', 422),  # the body's field
        ("/v1/ann/items", "application/json", b"[]", 422),
        ("/v1/ann/items", "application/json", b"", 422),  # no body
        ("/v1/ann/items", "application/json", b'{"name": ', 422),  # does not decode
        ("/v1/ann/items", "application/json", b'{"name": "\xff"}', 400),  # not UTF-8
        ("/v1/ann/items", "text/plain", b'{"name": "bar"}', 422),  # not JSON: the body is its bytes
        ("/v1/ann/items", None, b'{"name": "bar"}', 422),
        ("/v1/ann/items?tag=long", "application/json", b'{"name": "bar"}', 422),  # a parameter
        ("/v1/annabel/items", "application/json", b'{"name": 5}', 422),  # a dependency's parameter too
    ],
)
def test_a_body_takes_the_shortcut_as_fastapi_reads_it(
    path: str, content_type: str | None, body: bytes, status: int
) -> None:
    """A plain function with a JSON body: the same calls in the same order, each once, the
    endpoint in the thread pool, and the same answer as from FastAPI's handler."""
    headers = {"x-who": "kim"} | ({"Content-Type": content_type} if content_type else {})
    way = "fastapi" if "+json" in (content_type or "") else "shortcut"  # read as JSON by FastAPI alone
    shortcut, calls = _both_ways("POST", path, headers, body, status, way)
    if status == 201:
        tag = "a" if "tag" in path else "x"
        assert calls == ["principal read", "access kim ann", f"endpoint bar {tag} in a thread"]
        assert shortcut.json()["seen"] == "kim@ann"


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


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/ann/items/7", b'{"name": "bar"}', 200),
        ("/v1/annabel/items/7", b'{"name": "bar"}', 422),  # the plain dependency's parameter
        ("/v1/ann/items/seven", b'{"name": "bar"}', 422),
        ("/v1/ann/items/7", b'{"name": 5}', 422),
    ],
)
def test_a_plain_dependency_runs_in_the_endpoints_thread_pool_call(path: str, body: bytes, status: int) -> None:
    """The same calls in the same order as FastAPI's handler, each once, and the same answer
    but for one thing: FastAPI calls the plain dependency and the endpoint in a thread-pool
    hop each, the shortcut in one (what the dependency set in its context, the endpoint sees)."""
    headers = {"x-who": "kim", "Content-Type": "application/json"}
    calls: list[str] = []
    with TestClient(small_app(calls)) as client:
        shortcut = _taken(client, "PUT", path, headers=headers, content=body)
    stock_calls: list[str] = []
    overridden = small_app(stock_calls)
    overridden.dependency_overrides[unused] = unused
    with TestClient(overridden) as client:
        stock = _taken(client, "PUT", path, way="fastapi", headers=headers, content=body)
    assert shortcut.status_code == stock.status_code == status, shortcut.text
    assert calls == stock_calls
    if status == 200:
        assert calls == ["principal write", "plain access kim ann", "endpoint kim@ann 7 bar"]
        assert shortcut.json() == {"seen": "kim@ann", "number": 7, "name": "bar", "same_call": True}
        assert stock.json() == {**shortcut.json(), "same_call": False}
    else:
        _same(shortcut, stock)
