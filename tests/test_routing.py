"""The app's routers refuse paths none of their routes match without trying each route
(app/core/routes.reject_early): what a client sees must not change."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from app.core.routes import reject_early


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
