"""The app's routers refuse paths none of their routes match without trying each route
(app/core/routes.reject_early), and the route index names each path's template and methods
without building FastAPI's route contexts: what a client sees must not change."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Match
from starlette.types import Scope

from app.core.config import Settings
from app.core.routes import RouteIndex, reject_early
from app.main import create_app


def test_a_route_added_to_an_included_router_after_the_app_is_built_is_served() -> None:
    router = APIRouter(prefix="/v1/extra")

    @router.get("/items/{item_id:int}")
    def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    app = FastAPI()
    app.include_router(router)
    reject_early(app)
    client = TestClient(app)
    assert client.get("/v1/extra/items/7").json() == {"item": 7}
    assert client.get("/v1/extra/items/seven").status_code == 404  # the convertor still applies
    assert client.post("/v1/extra/items/7").status_code == 405
    assert client.get("/v1/extra/later").status_code == 404

    @router.get("/later")
    def later() -> dict[str, str]:
        return {"added": "after"}

    assert client.get("/v1/extra/later").json() == {"added": "after"}


def test_an_included_routers_routes_are_tried_once_a_request() -> None:
    """FastAPI tries a router's routes when the app asks whether it matches and again when
    it hands it the request; the second time is answered from the first."""
    tried: list[str] = []

    class Counted(APIRoute):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            tried.append(self.path)
            return super().matches(scope)

    router = APIRouter(prefix="/v1/counted", route_class=Counted)

    @router.get("/first")
    def first() -> dict[str, str]:
        return {"route": "first"}

    @router.get("/items/{item_id:int}")
    def item(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    app = FastAPI()
    app.include_router(router)
    reject_early(app)
    client = TestClient(app)
    assert client.get("/v1/counted/items/7").json() == {"item": 7}
    assert tried == ["/v1/counted/first", "/v1/counted/items/{item_id:int}"], "each route tried once"
    tried.clear()
    assert client.get("/v1/counted/first").json() == {"route": "first"}
    assert client.get("/v1/counted/items/8").json() == {"item": 8}, "the next request is matched anew"
    assert client.post("/v1/counted/items/8").status_code == 405
    assert client.get("/v1/counted/items/eight").status_code == 404


def test_every_route_of_the_service_is_still_found(client: TestClient) -> None:
    """One path of each router: the right status, not a 404 from a router refusing it."""
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/exercises?limit=1").status_code == 200
    assert client.get("/v1/exercises/eccentric-heel-raise").status_code == 200
    assert client.get("/v1/me").status_code == 401
    assert client.get("/v1/athletes/me/workouts").status_code == 401
    assert client.get("/v1/athletes/me/load").status_code == 401
    assert client.get("/v1/athletes/me/plans").status_code == 401
    assert client.get("/v1/webhooks").status_code == 401
    assert client.get("/.well-known/oauth-authorization-server").status_code == 200
    assert client.post("/v1/plans/preview", json={}).status_code == 422
    missing = client.get("/v1/athletes/me/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert client.delete("/v1/exercises").status_code == 405


def test_the_route_index_names_what_fastapis_route_contexts_name(settings: Settings) -> None:
    """Read from the routers themselves, the index holds the templates and methods FastAPI's
    own route contexts give (a FastAPI that stores its routers otherwise fails this), the
    fewest parameters first; an included router of something other than plain routes is
    read through the route contexts."""
    app = create_app(settings.model_copy(update={"docs_enabled": True}))
    extra = APIRouter(prefix="/v1/extra")
    inner = APIRouter(prefix="/inner")

    @inner.get("/{thing_id:int}")
    def thing(thing_id: int) -> int:
        return thing_id

    extra.include_router(inner)
    app.include_router(extra)
    other = APIRouter()

    @other.put("/things/{thing_id}")
    def put_thing(thing_id: str) -> str:
        return thing_id

    app.include_router(other, prefix="/v1/other")  # a prefix given at inclusion
    index = RouteIndex(app)
    expected: dict[str, set[str]] = {}
    for context in iter_route_contexts(app.routes):
        assert context.path_format is not None
        expected.setdefault(context.path_format, set()).update(context.methods or ())
    assert {t.path: set(t.methods) for t in index.templates} == expected
    assert "/v1/extra/inner/{thing_id}" in expected and len(expected) > 80
    assert [t.params for t in index.templates] == sorted(t.params for t in index.templates)
    assert index.template_of("/v1/exercises/eccentric-heel-raise") == "/v1/exercises/{slug}"
    assert index.template_of("/v1/extra/inner/7") == "/v1/extra/inner/{thing_id}"
    assert index.allowed_methods("/v1/other/things/x") == ["PUT"]
