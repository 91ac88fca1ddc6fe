"""A third-party coaching tool written with authlib's OAuth2 client: it registers, sends
an athlete through consent, gets tokens, calls the API within its scopes only, refreshes
(also twice at once), and is disconnected by the athlete."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.conftest import Athlete, age_refresh, register
from tests.oauth.helpers import REDIRECT, consent, query, register_app

BASE = "https://testserver"
SCOPE = "profile:read training:read"


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    """The API over https, as apps reach it (authlib refuses plain http off loopback)."""
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        yield client


def app_client(web: TestClient, registered: dict[str, str], **kwargs: object) -> OAuth2Client:
    return OAuth2Client(
        client_id=registered["client_id"],
        client_secret=registered.get("client_secret"),
        token_endpoint_auth_method="client_secret_basic" if registered.get("client_secret") else "none",
        scope=SCOPE,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        transport=web._transport,
        base_url=BASE,
        **kwargs,
    )


def connect(web: TestClient, tool: OAuth2Client, athlete: Athlete) -> dict[str, str]:
    """The athlete allows the tool; the tool exchanges the code. Its token."""
    verifier = uuid.uuid4().hex + uuid.uuid4().hex
    url, state = tool.create_authorization_url(f"{BASE}/oauth/authorize", code_verifier=verifier)
    answer = consent(web, url, athlete.email)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?") and query(location)["state"] == state
    token: dict[str, str] = tool.fetch_token(
        f"{BASE}/oauth/token", authorization_response=location, code_verifier=verifier
    )
    return token


def test_a_third_party_app_connects_works_within_its_scopes_refreshes_and_is_disconnected(
    web: TestClient, db_session: Session
) -> None:
    developer, athlete = register(web, "developer"), register(web, "athlete")
    registered = register_app(web, developer.headers, name="Tendon Coach")
    assert registered["client_secret"].startswith("rs_cs_")
    tool = app_client(web, registered)
    token = connect(web, tool, athlete)
    assert token["token_type"] == "bearer" and token["scope"] == SCOPE

    # Within its scopes.
    me = tool.get("/v1/athletes/me")
    assert me.status_code == 200 and me.json()["id"] == athlete.id
    assert tool.get("/v1/athletes/me/workouts").status_code == 200
    # Outside them: 403 naming the scope it lacks.
    write = tool.post(
        "/v1/athletes/me/workouts",
        json={"started_at": "2026-11-20T17:30:00Z", "duration_minutes": 30, "sets": []},
    )
    assert write.status_code == 403 and write.headers["content-type"] == "application/problem+json"
    assert "training:write" in write.json()["detail"] and write.json()["missing_scopes"] == ["training:write"]
    assert tool.get("/v1/athletes/me/plans").status_code == 403
    # An app is not a login of the athlete: account settings stay out of reach.
    assert tool.get("/v1/me/tokens").status_code == 403
    assert tool.post("/v1/me/apps", json={"name": "x", "redirect_uris": [REDIRECT]}).status_code == 403

    # Refresh at the token endpoint (grant_type=refresh_token), rotating.
    old = dict(tool.token)
    new = tool.refresh_token(f"{BASE}/oauth/token")
    assert new["refresh_token"] != old["refresh_token"] and new["scope"] == SCOPE
    assert tool.get("/v1/athletes/me").status_code == 200

    # The athlete sees the app and what it may do, then disconnects it.
    listed = web.get("/v1/me/connected-apps", headers=athlete.headers).json()["items"]
    assert [(a["name"], a["scopes"]) for a in listed] == [("Tendon Coach", ["profile:read", "training:read"])]
    assert web.delete(f"/v1/me/connected-apps/{registered['client_id']}", headers=athlete.headers).status_code == 204
    assert web.get("/v1/me/connected-apps", headers=athlete.headers).json()["items"] == []
    refused = tool.get("/v1/athletes/me")
    assert refused.status_code == 401
    with pytest.raises(OAuthError) as raised:
        tool.refresh_token(f"{BASE}/oauth/token")
    assert raised.value.error == "invalid_grant"
    # The athlete's own login is untouched.
    assert web.get("/v1/me", headers=athlete.headers).status_code == 200


def test_a_retried_refresh_gets_the_same_pair_and_a_late_replay_revokes_the_family(
    web: TestClient, db_session: Session
) -> None:
    developer, athlete = register(web, "developer"), register(web, "athlete")
    registered = register_app(web, developer.headers, client_type="public")
    assert registered["client_secret"] is None
    tool = app_client(web, registered)
    first = connect(web, tool, athlete)

    # A phone that retries: the same refresh token twice; both answers are the same pair.
    answers = [
        web.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": tool.client_id},
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200], answers[1].text
    one, two = (a.json() for a in answers)
    assert (one["access_token"], one["refresh_token"]) == (two["access_token"], two["refresh_token"])
    headers = {"Authorization": f"Bearer {one['access_token']}"}
    assert web.get("/v1/athletes/me", headers=headers).status_code == 200
    # The athlete stays connected: the new refresh token works.
    tool.token = one
    latest = tool.refresh_token(f"{BASE}/oauth/token")
    assert web.get("/v1/athletes/me", headers={"Authorization": f"Bearer {latest['access_token']}"}).status_code == 200

    # Past the grace window, presenting the first token again is a replay: the whole family ends.
    age_refresh(db_session, first["refresh_token"], seconds=31)
    replay = web.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": tool.client_id},
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert web.get("/v1/athletes/me", headers={"Authorization": f"Bearer {latest['access_token']}"}).status_code == 401
    with pytest.raises(OAuthError):
        tool.refresh_token(f"{BASE}/oauth/token")
