"""The authorization server's refusals: PKCE S256 only and required, codes single-use,
short-lived and bound to their redirect URI, consent forms that cannot be forged, RFC 6749
error bodies on the token endpoint (and only there), app management by its owner."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session

from app.accounts.models import AuthorizationCode, utcnow
from tests.conftest import Athlete, register
from tests.oauth.helpers import HIDDEN, REDIRECT, consent, query, register_app

BASE = "https://testserver"


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(client_id: str, challenge: str | None, method: str | None = "S256", **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "training:read",
        "state": "xyz",
        **extra,
    }
    if challenge is not None:
        params["code_challenge"] = challenge
    if method is not None:
        params["code_challenge_method"] = method
    return "/oauth/authorize?" + urlencode(params)


@pytest.fixture
def setup(web: TestClient) -> tuple[Athlete, Athlete, dict[str, Any]]:
    developer, athlete = register(web, "developer"), register(web, "athlete")
    return developer, athlete, register_app(web, developer.headers)


def get_code(web: TestClient, registered: dict[str, Any], athlete: Athlete, challenge: str) -> str:
    answer = consent(web, authorize_url(registered["client_id"], challenge), athlete.email)
    assert answer.status_code == 302, answer.text
    return query(answer.headers["location"])["code"]


def exchange(web: TestClient, registered: dict[str, Any], code: str, verifier: str | None, **extra: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **extra}
    if verifier is not None:
        data["code_verifier"] = verifier
    return web.post("/oauth/token", data=data, auth=(registered["client_id"], registered["client_secret"]))


def test_pkce_plain_and_missing_challenges_are_refused_back_to_the_app(web: TestClient, setup: Any) -> None:
    _, _, registered = setup
    verifier, _ = pkce()
    for url in (
        authorize_url(registered["client_id"], verifier, "plain"),
        authorize_url(registered["client_id"], verifier, None),
        authorize_url(registered["client_id"], None, None),
    ):
        answer = web.get(url)
        assert answer.status_code == 302
        assert answer.headers["location"].startswith(REDIRECT)
        assert query(answer.headers["location"])["error"] == "invalid_request"
        assert query(answer.headers["location"])["state"] == "xyz"


def test_unknown_apps_and_unregistered_redirects_get_a_page_not_a_redirect(web: TestClient, setup: Any) -> None:
    _, _, registered = setup
    _, challenge = pkce()
    for url in (
        authorize_url(registered["client_id"], challenge, redirect_uri="https://evil.example/callback"),
        authorize_url("00000000-0000-0000-0000-000000000000", challenge),
        authorize_url("runstrong", challenge),
    ):
        answer = web.get(url)
        assert answer.status_code in (302, 400)
        if answer.status_code == 302:  # the first-party app may not use the code flow: told at its own URI
            pytest.fail(f"redirected to {answer.headers['location']}")
        assert answer.headers["content-type"].startswith("text/html")
        assert "does not work" in answer.text


def test_the_code_is_single_use_bound_to_verifier_and_redirect_and_short_lived(
    web: TestClient, setup: Any, db_session: Session
) -> None:
    _, athlete, registered = setup
    verifier, challenge = pkce()
    code = get_code(web, registered, athlete, challenge)

    missing = exchange(web, registered, code, None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    wrong = exchange(web, registered, code, pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    elsewhere = exchange(web, registered, code, verifier, redirect_uri="https://coach.example/other")
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_grant"
    assert missing.headers["content-type"] == "application/json" and "type" not in missing.json()

    ok = exchange(web, registered, code, verifier)
    assert ok.status_code == 200, ok.text
    access = {"Authorization": f"Bearer {ok.json()['access_token']}"}
    assert web.get("/v1/athletes/me/workouts", headers=access).status_code == 200
    # Used again: refused, and the tokens of its first exchange are revoked (RFC 6749 4.1.2).
    again = exchange(web, registered, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert web.get("/v1/athletes/me/workouts", headers=access).status_code == 401

    late_verifier, late_challenge = pkce()
    late = get_code(web, registered, athlete, late_challenge)
    db_session.execute(update(AuthorizationCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    db_session.flush()
    assert exchange(web, registered, late, late_verifier).json()["error"] == "invalid_grant"


def test_client_authentication(web: TestClient, setup: Any) -> None:
    _, athlete, registered = setup
    verifier, challenge = pkce()
    code = get_code(web, registered, athlete, challenge)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier}
    bad = web.post("/oauth/token", data=data, auth=(registered["client_id"], "rs_cs_wrong"))
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    # A confidential app may not pretend to be public.
    public = web.post("/oauth/token", data={**data, "client_id": registered["client_id"]})
    assert public.status_code in (400, 401) and public.json()["error"] == "invalid_client"
    assert web.post("/oauth/token", data=data, auth=(registered["client_id"], registered["client_secret"])).is_success


def test_deny_returns_access_denied_and_forged_forms_are_refused(web: TestClient, setup: Any) -> None:
    _, athlete, registered = setup
    _, challenge = pkce()
    url = authorize_url(registered["client_id"], challenge)
    denied = consent(web, url, athlete.email, decision="deny")
    assert denied.status_code == 302
    assert denied.headers["location"].startswith(REDIRECT + "?")
    answer = query(denied.headers["location"])
    assert (answer["error"], answer["state"]) == ("access_denied", "xyz") and "code" not in answer

    wrong = consent(web, url, athlete.email, password="not the password")
    assert wrong.status_code == 401 and "wrong" in wrong.text and "Allow" in wrong.text

    page = web.get(url)
    form = dict(HIDDEN.findall(page.text))
    form.update(decision="allow", email=athlete.email, password="correct horse battery")
    # The form altered to ask for more: its token no longer matches.
    widened = web.post("/oauth/authorize", data={**form, "scope": "training:read training:write"})
    assert widened.status_code == 403
    # Posted from elsewhere, without the page's cookie.
    web.cookies.clear()
    assert web.post("/oauth/authorize", data=form).status_code == 403
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_token_endpoint_errors_are_rfc6749_and_the_first_party_password_grant(web: TestClient, setup: Any) -> None:
    _, athlete, _ = setup
    unsupported = web.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": "runstrong"})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    wrong = web.post(
        "/oauth/token",
        data={"grant_type": "password", "client_id": "runstrong", "username": athlete.email, "password": "nope"},
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    pair = web.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": "runstrong",
            "username": athlete.email,
            "password": "correct horse battery",
        },
    )
    assert pair.status_code == 200 and pair.headers["cache-control"] == "no-store"
    refreshed = web.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "client_id": "runstrong", "refresh_token": pair.json()["refresh_token"]},
    )
    assert refreshed.status_code == 200
    assert web.get("/v1/me/tokens", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"}).is_success
    # The rest of the API keeps RFC 9457.
    assert web.post("/v1/auth/token", data={"username": athlete.email, "password": "nope"}).headers["content-type"] == (
        "application/problem+json"
    )


def test_revocation_endpoint_ends_the_apps_login(web: TestClient, setup: Any) -> None:
    _, athlete, registered = setup
    verifier, challenge = pkce()
    token = exchange(web, registered, get_code(web, registered, athlete, challenge), verifier).json()
    auth = (registered["client_id"], registered["client_secret"])
    assert web.post("/oauth/revoke", data={"token": token["refresh_token"]}, auth=auth).status_code == 200
    assert web.get("/v1/athletes/me", headers={"Authorization": f"Bearer {token['access_token']}"}).status_code == 401
    assert web.post("/oauth/revoke", data={"token": "rs_rt_unknown"}, auth=auth).status_code == 200


def test_metadata(web: TestClient) -> None:
    meta = web.get("/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == BASE and meta["token_endpoint"] == f"{BASE}/oauth/token"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert "training:write" in meta["scopes_supported"]


def test_apps_belong_to_their_owner_and_secrets_rotate(web: TestClient, setup: Any) -> None:
    developer, athlete, registered = setup
    client_id = registered["client_id"]
    assert web.get(f"/v1/me/apps/{client_id}", headers=developer.headers).json()["name"] == "CoachApp"
    assert "client_secret" not in web.get(f"/v1/me/apps/{client_id}", headers=developer.headers).json()
    assert web.get(f"/v1/me/apps/{client_id}", headers=athlete.headers).status_code == 404
    assert web.delete(f"/v1/me/apps/{client_id}", headers=athlete.headers).status_code == 404
    assert [a["client_id"] for a in web.get("/v1/me/apps", headers=developer.headers).json()["items"]] == [client_id]

    rotated = web.post(f"/v1/me/apps/{client_id}/secret", headers=developer.headers)
    assert rotated.status_code == 200 and rotated.json()["client_secret"] != registered["client_secret"]
    probe = {"grant_type": "refresh_token", "refresh_token": "rs_rt_unknown-token"}
    old = web.post("/oauth/token", data=probe, auth=(client_id, registered["client_secret"]))
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    new = web.post("/oauth/token", data=probe, auth=(client_id, rotated.json()["client_secret"]))
    assert new.status_code == 400 and new.json()["error"] == "invalid_grant"

    for uris in (["http://coach.example/cb"], ["https://coach.example/cb#frag"], ["coach://cb"]):
        refused = web.post("/v1/me/apps", headers=developer.headers, json={"name": "x", "redirect_uris": uris})
        assert refused.status_code == 422, uris
    loopback = web.post(
        "/v1/me/apps", headers=developer.headers, json={"name": "cli", "redirect_uris": ["http://127.0.0.1:8765/cb"]}
    )
    assert loopback.status_code == 201

    assert web.delete(f"/v1/me/apps/{client_id}", headers=developer.headers).status_code == 204
    assert web.get(f"/v1/me/apps/{client_id}", headers=developer.headers).status_code == 404
