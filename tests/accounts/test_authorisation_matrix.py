"""Every per-athlete route against every kind of caller: each gets exactly the right
status, and another athlete's data answers 404 without leaking anything.

The route list is discovered from the app, so a new per-athlete route fails this test
until it is given its scope (and a valid body) below."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import TEST_SECRET, Athlete, register

PREFIX = "/v1/athletes/{athlete_id}"

# (method, path) -> (scope it needs, request body for writes)
ROUTES: dict[tuple[str, str], tuple[str, dict[str, Any] | None]] = {
    ("GET", PREFIX): ("profile:read", None),
    ("GET", f"{PREFIX}/profile"): ("profile:read", None),
    ("PATCH", f"{PREFIX}/profile"): ("profile:write", {"weekly_distance_km": 42.5}),
}


def per_athlete_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every operation under /v1/athletes/{athlete_id}, as the published schema lists them."""
    return {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        if path.startswith(PREFIX)
        for method in item
    }


def test_every_per_athlete_route_is_in_the_matrix(app: FastAPI) -> None:
    assert per_athlete_routes(app) == set(ROUTES)


@dataclass
class World:
    client: TestClient
    athlete: Athlete
    headers: dict[str, dict[str, str] | None]
    secret_marker: str


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(client: TestClient) -> World:
    athlete = register(client, "athlete")
    marker = "Private-Runner-Name"
    client.patch("/v1/me", headers=athlete.headers, json={"display_name": marker})
    reader, writer, revoked, stranger = (register(client, n) for n in ("reader", "writer", "revoked", "stranger"))

    def grant(coach: Athlete, access: str) -> str:
        response = client.post(
            "/v1/me/coaches", headers=athlete.headers, json={"coach_email": coach.email, "access": access}
        )
        assert response.status_code == 201
        return str(response.json()["id"])

    grant(reader, "read")
    grant(writer, "write")
    revoked_grant = grant(revoked, "write")
    assert client.delete(f"/v1/me/coaches/{revoked_grant}", headers=athlete.headers).status_code == 204

    def pat(scopes: list[str]) -> dict[str, str]:
        made = client.post("/v1/me/tokens", headers=athlete.headers, json={"name": "tool", "scopes": scopes})
        return _bearer(made.json()["token"])

    now = datetime.now(UTC)
    expired = jwt.encode(
        {
            "sub": athlete.id,
            "iat": int((now - timedelta(hours=1)).timestamp()),
            "typ": "access",
            "exp": int((now - timedelta(minutes=1)).timestamp()),
            "scope": "profile:read profile:write",
        },
        TEST_SECRET,
        algorithm="HS256",
    )
    head, body, signature = athlete.access_token.split(".")
    tampered = f"{head}.{body}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    return World(
        client=client,
        athlete=athlete,
        secret_marker=marker,
        headers={
            "owner": athlete.headers,
            "owner-token": pat(["profile:read", "profile:write"]),
            "coach-read": reader.headers,
            "coach-write": writer.headers,
            "coach-revoked": revoked.headers,
            "other-athlete": stranger.headers,
            "token-lacking-scope": pat(["plans:read"]),
            "expired-token": _bearer(expired),
            "tampered-token": _bearer(tampered),
            "no-credentials": None,
        },
    )


def expected(caller: str, scope: str) -> int:
    write = scope.endswith(":write")
    return {
        "owner": 200,
        "owner-token": 200,
        "coach-read": 403 if write else 200,
        "coach-write": 200,
        "coach-revoked": 404,
        "other-athlete": 404,
        "token-lacking-scope": 403,
        "expired-token": 401,
        "tampered-token": 401,
        "no-credentials": 401,
    }[caller]


CALLERS = [
    "owner",
    "owner-token",
    "coach-read",
    "coach-write",
    "coach-revoked",
    "other-athlete",
    "token-lacking-scope",
    "expired-token",
    "tampered-token",
    "no-credentials",
]


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1].removeprefix(PREFIX) or '/'}")
@pytest.mark.parametrize("caller", CALLERS)
def test_matrix(world: World, route: tuple[str, str], caller: str) -> None:
    method, template = route
    scope, body = ROUTES[route]
    path = template.replace("{athlete_id}", world.athlete.id)
    response = world.client.request(method, path, headers=world.headers[caller], json=body)
    want = expected(caller, scope)
    assert response.status_code == want, f"{caller} {method} {path}: {response.text}"
    if want != 200:
        assert response.headers["content-type"] == "application/problem+json"
        assert world.secret_marker not in response.text and world.athlete.email not in response.text
    if want == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1].removeprefix(PREFIX) or '/'}")
def test_me_alias_and_unknown_ids(world: World, route: tuple[str, str]) -> None:
    method, template = route
    _, body = ROUTES[route]
    owner = world.headers["owner"]
    assert (
        world.client.request(method, template.replace("{athlete_id}", "me"), headers=owner, json=body).status_code
        == 200
    )
    for unknown in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = world.client.request(method, template.replace("{athlete_id}", unknown), headers=owner, json=body)
        assert response.status_code == 404
