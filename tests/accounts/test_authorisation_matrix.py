"""Every per-athlete route against every kind of caller: each gets exactly the right
status, and another athlete's data answers 404 without leaking anything.

The route list is discovered from the app, so a new per-athlete route fails this test
until it is given its scope (and a valid body) below."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from app.core.config import Settings
from tests.conftest import PASSWORD, TEST_SECRET, Athlete, bind_session, build_test_app, register

PREFIX = "/v1/athletes/{athlete_id}"
SCOPES = {"profile:read", "profile:write", "training:read", "training:write", "plans:read", "plans:write"}

GPX = b"""<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="59.9000" lon="10.7000"><time>2026-11-19T07:00:00Z</time></trkpt>
<trkpt lat="59.9100" lon="10.7000"><time>2026-11-19T07:06:00Z</time></trkpt></trkseg></trk></gpx>"""
WORKOUT = {
    "started_at": "2026-11-20T17:30:00Z",
    "duration_minutes": 30,
    "sets": [{"position": 1, "exercise": "plank", "hold_seconds": 30}],
}
RUN = {"started_at": "2026-11-19T07:00:00Z", "distance_km": 5, "duration_s": 1500, "type": "easy"}
CHECKIN = {"date": "2026-11-20", "sites": [{"site": "left-achilles", "pain": 2, "morning_stiffness": 2}]}
TEST = {"date": "2026-11-20", "test": "heel-raise", "measure": "reps", "left": 18, "right": 27, "affected_side": "left"}
IF_MATCH = {"If-Match": '"1"'}


@dataclass(frozen=True)
class Call:
    scope: str
    ok: int = 200
    json: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    files: dict[str, Any] | None = None


def record_calls(plural: str, kind: str, body: dict[str, Any], patch: dict[str, Any]) -> dict[tuple[str, str], Call]:
    one = f"{PREFIX}/{plural}/{{record_id}}"
    return {
        ("POST", f"{PREFIX}/{plural}"): Call("training:write", 201, body),
        ("GET", f"{PREFIX}/{plural}"): Call("training:read"),
        ("GET", one): Call("training:read"),
        ("PUT", one): Call("training:write", 200, body),
        ("PATCH", one): Call("training:write", 200, patch, IF_MATCH),
        ("DELETE", one): Call("training:write", 204),
    }


ROUTES: dict[tuple[str, str], Call] = {
    ("GET", PREFIX): Call("profile:read"),
    ("GET", f"{PREFIX}/profile"): Call("profile:read"),
    ("PATCH", f"{PREFIX}/profile"): Call("profile:write", 200, {"weekly_distance_km": 42.5}),
    **record_calls("workouts", "workout", WORKOUT, {"notes": "ok"}),
    **record_calls("runs", "run", RUN, {"notes": "ok"}),
    **record_calls("checkins", "checkin", CHECKIN, {"notes": "ok"}),
    **record_calls("tests", "test", TEST, {"notes": "ok"}),
    ("POST", f"{PREFIX}/runs/import"): Call(
        "training:write", 201, files={"file": ("run.gpx", GPX, "application/gpx+xml")}
    ),
    ("GET", f"{PREFIX}/changes"): Call("training:read"),
    ("GET", f"{PREFIX}/load"): Call("training:read"),
    ("GET", f"{PREFIX}/load.svg"): Call("training:read"),
    ("GET", f"{PREFIX}/progress"): Call("training:read"),
    ("GET", f"{PREFIX}/progress.svg"): Call("training:read"),
    ("POST", f"{PREFIX}/plans"): Call("plans:write", 201, {"kind": "achilles", "start_date": "2026-11-23"}),
    ("GET", f"{PREFIX}/plans"): Call("plans:read"),
    ("GET", f"{PREFIX}/plans/{{plan_id}}"): Call("plans:read"),
    ("GET", f"{PREFIX}/plans/{{plan_id}}.ics"): Call("plans:read"),
    ("POST", f"{PREFIX}/plans/{{plan_id}}/archive"): Call("plans:write"),
    ("POST", f"{PREFIX}/plans/{{plan_id}}/adapt"): Call("plans:write", 200, {"week": 1}),
    ("GET", f"{PREFIX}/export"): Call("training:read"),
    ("GET", f"{PREFIX}/export.csv"): Call("training:read"),
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
    records: dict[str, str]
    plan_id: str

    def url(self, template: str, athlete_id: str) -> str:
        path = template.replace("{athlete_id}", athlete_id)
        for plural, record_id in self.records.items():
            path = path.replace(f"/{plural}/{{record_id}}", f"/{plural}/{record_id}")
        return path.replace("{plan_id}", self.plan_id)

    def call(self, route: tuple[str, str], headers: dict[str, str] | None, athlete_id: str | None = None) -> Any:
        method, template = route
        spec = ROUTES[route]
        return self.client.request(
            method,
            self.url(template, athlete_id or self.athlete.id),
            headers={**(headers or {}), **(spec.headers or {})},
            json=spec.json,
            files=spec.files,
        )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


HTTPS = "https://testserver"  # OAuth2 refuses plain http off loopback
REDIRECT = "https://coach.example/callback"
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


def connect_app(client: TestClient, app: dict[str, Any], who: Athlete, scopes: list[str]) -> dict[str, str]:
    """``who`` allows ``app`` ``scopes`` on the consent page; the app's access token."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": app["client_id"],
        "redirect_uri": REDIRECT,
        "scope": " ".join(scopes),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page = client.get(f"{HTTPS}/oauth/authorize?{urlencode(query)}")
    form = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
    form.update(decision="allow", email=who.email, password=PASSWORD)
    answer = client.post(f"{HTTPS}/oauth/authorize", data=form, follow_redirects=False)
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    token = client.post(
        f"{HTTPS}/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
        auth=(app["client_id"], app["client_secret"]),
    )
    assert token.status_code == 200, token.text
    return _bearer(token.json()["access_token"])


def build_world(client: TestClient) -> World:
    """The athlete, their coaches and tokens, a record of each kind and a plan."""
    athlete = register(client, "athlete")
    marker = "Private-Runner-Name"
    client.patch("/v1/me", headers=athlete.headers, json={"display_name": marker})
    reader, writer, revoked, invited, stranger = (
        register(client, n) for n in ("reader", "writer", "revoked", "invited", "stranger")
    )

    def grant(coach: Athlete, access: str, accept: bool = True) -> str:
        response = client.post(
            "/v1/me/coaches", headers=athlete.headers, json={"coach_email": coach.email, "access": access}
        )
        assert response.status_code == 201
        grant_id = str(response.json()["id"])
        if accept:
            accepted = client.post(f"/v1/me/invitations/{grant_id}/accept", headers=coach.headers)
            assert accepted.status_code == 200, accepted.text
        return grant_id

    grant(reader, "read")
    grant(writer, "write")
    grant(invited, "write", accept=False)  # invited, not yet accepted: no access
    revoked_grant = grant(revoked, "write")
    assert client.delete(f"/v1/me/coaches/{revoked_grant}", headers=athlete.headers).status_code == 204
    # A login of the owner that has since logged out: its access token no longer works.
    ended = client.post("/v1/auth/token", data={"username": athlete.email, "password": PASSWORD}).json()
    assert client.post("/v1/auth/logout", json={"refresh_token": ended["refresh_token"]}).status_code == 204

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
    made = {
        plural: client.post(f"/v1/athletes/me/{plural}", json=body, headers=athlete.headers).json()["id"]
        for plural, body in (("workouts", WORKOUT), ("runs", RUN), ("checkins", CHECKIN), ("tests", TEST))
    }
    plan_id = client.post(
        "/v1/athletes/me/plans", json={"kind": "achilles", "start_date": "2026-11-23"}, headers=athlete.headers
    ).json()["id"]
    # OAuth2 apps: one the athlete allowed every scope, one per scope it was not allowed,
    # one the athlete disconnected, and one a stranger allowed (on the stranger's data).
    developer = register(client, "developer")

    def new_app(name: str) -> dict[str, Any]:
        made = client.post("/v1/me/apps", headers=developer.headers, json={"name": name, "redirect_uris": [REDIRECT]})
        assert made.status_code == 201, made.text
        result: dict[str, Any] = made.json()
        return result

    coach_app, gone_app = new_app("coach app"), new_app("disconnected app")
    apps = {
        "app-token": connect_app(client, coach_app, athlete, sorted(SCOPES)),
        **{
            f"app-lacking-{scope}": connect_app(client, coach_app, athlete, sorted(SCOPES - {scope}))
            for scope in SCOPES
        },
        "app-disconnected": connect_app(client, gone_app, athlete, sorted(SCOPES)),
        "app-of-other-athlete": connect_app(client, coach_app, stranger, sorted(SCOPES)),
    }
    gone = client.delete(f"/v1/me/connected-apps/{gone_app['client_id']}", headers=athlete.headers)
    assert gone.status_code == 204
    head, body, signature = athlete.access_token.split(".")
    tampered = f"{head}.{body}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    return World(
        client=client,
        athlete=athlete,
        secret_marker=marker,
        records=made,
        plan_id=plan_id,
        headers={
            "owner": athlete.headers,
            "owner-token": pat(
                ["profile:read", "profile:write", "training:read", "training:write", "plans:read", "plans:write"]
            ),
            "coach-read": reader.headers,
            "coach-write": writer.headers,
            "coach-revoked": revoked.headers,
            "coach-invited": invited.headers,
            "owner-logged-out": _bearer(ended["access_token"]),
            "other-athlete": stranger.headers,
            **{f"token-lacking-{scope}": pat(sorted(SCOPES - {scope})) for scope in SCOPES},
            **apps,
            "expired-token": _bearer(expired),
            "tampered-token": _bearer(tampered),
            "no-credentials": None,
        },
    )


@dataclass
class Shared:
    """One database transaction, world and app for the whole module (per database)."""

    world: World
    conn: Connection
    app: FastAPI


@pytest.fixture(scope="module")
def shared(settings: Settings, engine: Engine) -> Iterator[Shared]:
    """The world, built once per database inside a transaction that is rolled back at the
    end of the module, and one app whose sessions each test rebinds to a savepoint of it
    (see ``world``). The world's tokens outlive the module however slowly it runs; the
    app's own state (route index, catalogue cache) is the same for every test here."""
    long_lived = settings.model_copy(update={"access_token_ttl_s": 24 * 3600})
    with engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            with TestClient(build_test_app(long_lived, engine, session), raise_server_exceptions=False) as client:
                built = build_world(client)
            session.close()
            app = build_test_app(settings, engine, session)
            with TestClient(app, raise_server_exceptions=False) as client:
                yield Shared(replace(built, client=client), conn, app)
        finally:
            session.close()
            outer.rollback()


@pytest.fixture
def world(shared: Shared) -> Iterator[World]:
    """The shared world; whatever a test writes is rolled back with its savepoint, so every
    test sees the world as it was built."""
    savepoint = shared.conn.begin_nested()
    session = Session(bind=shared.conn, join_transaction_mode="create_savepoint")
    bind_session(shared.app, session)
    try:
        yield shared.world
    finally:
        session.close()
        savepoint.rollback()


def expected(caller: str, call: Call) -> int:
    write = call.scope.endswith(":write")
    return {
        "owner": call.ok,
        "owner-token": call.ok,
        "coach-read": 403 if write else call.ok,
        "coach-write": call.ok,
        "coach-revoked": 404,
        "coach-invited": 404,
        "other-athlete": 404,
        "token-lacking-scope": 403,
        "app-token": call.ok,
        "app-lacking-scope": 403,
        "app-disconnected": 401,
        "app-of-other-athlete": 404,
        "expired-token": 401,
        "owner-logged-out": 401,
        "tampered-token": 401,
        "no-credentials": 401,
    }[caller]


CALLERS = [
    "owner",
    "owner-token",
    "coach-read",
    "coach-write",
    "coach-revoked",
    "coach-invited",
    "other-athlete",
    "token-lacking-scope",
    "app-token",
    "app-lacking-scope",
    "app-disconnected",
    "app-of-other-athlete",
    "expired-token",
    "owner-logged-out",
    "tampered-token",
    "no-credentials",
]


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1].removeprefix(PREFIX) or '/'}")
@pytest.mark.parametrize("caller", CALLERS)
def test_matrix(world: World, route: tuple[str, str], caller: str) -> None:
    scope = ROUTES[route].scope
    lacking = caller.endswith("-lacking-scope")
    response = world.call(route, world.headers[caller.replace("scope", scope) if lacking else caller])
    want = expected(caller, ROUTES[route])
    assert response.status_code == want, f"{caller} {route}: {response.text}"
    if lacking:
        assert response.json()["missing_scopes"] == [scope]
    if want >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        assert world.secret_marker not in response.text and world.athlete.email not in response.text
    if want == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1].removeprefix(PREFIX) or '/'}")
def test_me_alias_and_unknown_ids(world: World, route: tuple[str, str]) -> None:
    owner = world.headers["owner"]
    assert world.call(route, owner, "me").status_code == ROUTES[route].ok
    for unknown in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        assert world.call(route, owner, unknown).status_code == 404


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1].removeprefix(PREFIX) or '/'}")
def test_the_credential_is_checked_before_the_athlete_id(world: World, route: tuple[str, str]) -> None:
    """A path id no athlete can have (over 64 characters) tells a caller without
    credentials 401 and one lacking the scope 403, as any id does; only a caller who may
    use the route learns that the id itself is refused (422 naming it)."""
    scope = ROUTES[route].scope
    too_long = "x" * 65
    assert world.call(route, world.headers["no-credentials"], too_long).status_code == 401
    assert world.call(route, world.headers[f"token-lacking-{scope}"], too_long).status_code == 403
    refused = world.call(route, world.headers["owner"], too_long)
    assert refused.status_code == 422 and refused.json()["errors"][0]["name"] == "athlete_id"
