"""Login sessions: revoking one (logout, a replayed refresh token, a password change) ends
its access tokens at once; sensitive operations need a recent login; someone else's
failed guesses cannot lock the owner's known devices out, while guessing stays bounded."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session

from app.accounts.models import LoginSession, utcnow
from app.core.config import Settings
from tests.conftest import PASSWORD, Athlete, age_refresh, build_test_app, register


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(client: TestClient, athlete: Athlete, password: str = PASSWORD, device: str | None = None) -> Any:
    data = {"username": athlete.email, "password": password}
    if device:
        data["device_token"] = device
    return client.post("/v1/auth/token", data=data)


def age_logins(db_session: Session, athlete: Athlete, minutes: int) -> None:
    """Move the account's password checks ``minutes`` into the past."""
    db_session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == uuid.UUID(athlete.id))  # type: ignore[arg-type]
        .values(auth_time=utcnow() - timedelta(minutes=minutes))
    )
    db_session.flush()


# ---------------------------------------------------------------- revocation reaches access tokens


def test_a_replayed_refresh_token_ends_the_thiefs_access_token_at_once(client: TestClient, db_session: Session) -> None:
    owner = register(client)
    stolen = client.post("/v1/auth/refresh", json={"refresh_token": owner.refresh_token}).json()
    assert client.get("/v1/me", headers=bearer(stolen["access_token"])).status_code == 200
    age_refresh(db_session, owner.refresh_token, seconds=31)  # past the grace window for retries
    # The owner's client replays the refresh token the thief already used: the login is revoked.
    assert client.post("/v1/auth/refresh", json={"refresh_token": owner.refresh_token}).status_code == 401
    for access in (stolen["access_token"], owner.access_token):
        answer = client.get("/v1/me", headers=bearer(access))
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
        made = client.post("/v1/me/tokens", headers=bearer(access), json={"name": "x", "scopes": ["profile:read"]})
        assert made.status_code == 401


def test_logout_ends_the_access_tokens_of_that_login_only(client: TestClient) -> None:
    owner = register(client)
    other = login(client, owner).json()
    assert client.post("/v1/auth/logout", json={"refresh_token": owner.refresh_token}).status_code == 204
    assert client.get("/v1/me", headers=owner.headers).status_code == 401
    assert client.get("/v1/me", headers=bearer(other["access_token"])).status_code == 200


def test_changing_the_password_ends_every_login(client: TestClient) -> None:
    owner = register(client)
    thief = login(client, owner).json()
    wrong = client.post(
        "/v1/me/password", headers=owner.headers, json={"current_password": "nope", "new_password": "a new password"}
    )
    assert wrong.status_code == 403
    assert client.get("/v1/me", headers=bearer(thief["access_token"])).status_code == 200
    changed = client.post(
        "/v1/me/password",
        headers=owner.headers,
        json={"current_password": PASSWORD, "new_password": "a new password"},
    )
    assert changed.status_code == 200, changed.text
    for access in (owner.access_token, thief["access_token"]):
        assert client.get("/v1/me", headers=bearer(access)).status_code == 401
    assert client.post("/v1/auth/refresh", json={"refresh_token": thief["refresh_token"]}).status_code == 401
    assert client.get("/v1/me", headers=bearer(changed.json()["access_token"])).status_code == 200
    assert login(client, owner).status_code == 401
    assert login(client, owner, "a new password").status_code == 200


# ---------------------------------------------------------------- sensitive operations need a recent login


SENSITIVE = [
    ("POST", "/v1/me/tokens", {"name": "tool", "scopes": ["profile:read"]}),
    ("POST", "/v1/me/coaches", {"coach_email": "coach@example.com", "access": "write"}),
    ("DELETE", "/v1/me", None),
]


@pytest.mark.parametrize(("method", "path", "body"), SENSITIVE, ids=[f"{m} {p}" for m, p, _ in SENSITIVE])
def test_sensitive_operations_need_a_recent_login(
    client: TestClient, db_session: Session, settings: Settings, method: str, path: str, body: dict[str, Any] | None
) -> None:
    owner = register(client)
    age_logins(db_session, owner, settings.reauth_window_minutes + 1)
    # Refreshing does not make a login recent: only the password does.
    refreshed = client.post("/v1/auth/refresh", json={"refresh_token": owner.refresh_token}).json()
    for access in (owner.access_token, refreshed["access_token"]):
        stale = client.request(method, path, headers=bearer(access), json=body)
        assert stale.status_code == 401, stale.text
        assert stale.headers["content-type"] == "application/problem+json"
        assert stale.json()["type"] == "/problems/reauthentication-required"
        assert stale.json()["max_age"] == settings.reauth_window_minutes * 60
        assert 'error="insufficient_user_authentication"' in stale.headers["www-authenticate"]
        # Everything else still works with the stale login.
        assert client.get("/v1/me", headers=bearer(access)).status_code == 200
    fresh = login(client, owner).json()
    assert client.request(method, path, headers=bearer(fresh["access_token"]), json=body).status_code in (201, 204)


def test_personal_tokens_keep_working_however_old_the_login(client: TestClient, db_session: Session) -> None:
    owner = register(client)
    made = client.post(
        "/v1/me/tokens", headers=owner.headers, json={"name": "tool", "scopes": ["profile:read", "profile:write"]}
    )
    pat = bearer(made.json()["token"])
    age_logins(db_session, owner, 24 * 60)
    assert client.get("/v1/me", headers=pat).status_code == 200
    assert client.patch("/v1/me", headers=pat, json={"units": "lb"}).status_code == 200
    # ... but still cannot do what needs a login session.
    assert client.post("/v1/me/tokens", headers=pat, json={"name": "x", "scopes": ["profile:read"]}).status_code == 403


# ---------------------------------------------------------------- the login lockout


def test_failed_guesses_do_not_lock_out_a_known_device_and_guessing_stays_bounded(
    settings: Settings, engine: Engine, db_session: Session
) -> None:
    strict = settings.model_copy(update={"login_limit_per_account": 3, "login_limit_per_address": 1000})
    with TestClient(build_test_app(strict, engine, db_session)) as client:
        owner, someone = register(client), register(client)
        guesses = [login(client, owner, f"guess {n}").status_code for n in range(6)]
        assert guesses == [401, 401, 429, 429, 429, 429]  # the registration's login counted too
        # The guesser stays blocked, even with the right password and a made-up or another
        # account's device token: no more than the limit of guesses get checked.
        assert login(client, owner).status_code == 429
        assert login(client, owner, device=someone.device_token).status_code == 429
        assert login(client, owner, device="not-a-device-token").status_code == 429
        # The owner's client, which logged in before, still gets in with the password.
        assert owner.device_token
        again = login(client, owner, device=owner.device_token)
        assert again.status_code == 200, again.text
        assert again.json()["device_token"] == owner.device_token
        # Guessing from a stolen device token is limited on its own.
        stolen = [login(client, owner, "wrong", device=owner.device_token).status_code for _ in range(3)]
        assert stolen == [401, 401, 429]
