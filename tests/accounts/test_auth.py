"""Registration, login, token rotation, the account itself, personal tokens and coach grants."""

from __future__ import annotations

import logging
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine, func, select, text
from sqlmodel import Session, SQLModel

from app.accounts import security
from app.core.config import Settings
from tests.conftest import PASSWORD, TEST_SECRET, Athlete, age_refresh, build_test_app, register


def test_register_answers_the_same_for_new_and_existing_emails(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real = security.hash_password

    def spy(settings: Settings, password: str) -> str:
        hashed.append(password)
        return real(settings, password)

    monkeypatch.setattr(security, "hash_password", spy)
    email = f"ana-{uuid.uuid4().hex[:8]}@example.com"
    new = client.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    again = client.post("/v1/auth/register", json={"email": email.upper(), "password": "another password"})
    assert new.status_code == again.status_code == 202
    assert new.json() == again.json() == {"email": email, "detail": new.json()["detail"]}
    assert hashed == [PASSWORD, "another password"]  # the existing email pays for a hash too
    # The account is the first one: the second registration changed nothing.
    assert client.post("/v1/auth/token", data={"username": email, "password": PASSWORD}).status_code == 200
    assert client.post("/v1/auth/token", data={"username": email, "password": "another password"}).status_code == 401
    short = client.post("/v1/auth/register", json={"email": "b@example.com", "password": "123456789"})
    assert short.status_code == 422
    assert short.json()["errors"][0]["name"] == "password"
    bad_email = client.post("/v1/auth/register", json={"email": "not-an-email", "password": PASSWORD})
    assert bad_email.status_code == 422


def test_register_takes_as_long_for_an_existing_email(settings: Settings, engine: Engine, db_session: Session) -> None:
    """With the production hash cost, the answer for a taken email is not measurably faster
    (it used to come back about 100 times sooner)."""
    costly = settings.model_copy(update={"argon2_time_cost": 3, "argon2_memory_kib": 65536})
    with TestClient(build_test_app(costly, engine, db_session)) as client:
        taken = register(client).email

        def median_seconds(emails: list[str]) -> float:
            times = []
            for email in emails:
                start = time.perf_counter()
                assert client.post("/v1/auth/register", json={"email": email, "password": PASSWORD}).status_code == 202
                times.append(time.perf_counter() - start)
            return statistics.median(times)

        fresh = median_seconds([f"new-{uuid.uuid4().hex[:8]}@example.com" for _ in range(5)])
        existing = median_seconds([taken] * 5)
    assert existing > fresh / 3 and fresh > existing / 3, (fresh, existing)


@pytest.mark.parametrize(
    "name",
    ["\u202eevil.exe", "Ana\u200dBot", "zero\u200bwidth", "bell\x07", "rtl\u200fmark", "\u3164", "Ana\u115f", "\u2800"],
)
def test_display_names_refuse_control_and_invisible_characters(client: TestClient, name: str) -> None:
    email = f"n-{uuid.uuid4().hex[:8]}@example.com"
    refused = client.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": name})
    assert refused.status_code == 422, refused.text
    assert [e["name"] for e in refused.json()["errors"]] == ["display_name"]
    assert "U+" in refused.json()["errors"][0]["detail"]
    assert client.post("/v1/auth/token", data={"username": email, "password": PASSWORD}).status_code == 401
    athlete = register(client, "ana")
    changed = client.patch("/v1/me", headers=athlete.headers, json={"display_name": name})
    assert changed.status_code == 422 and changed.json()["errors"][0]["name"] == "display_name"
    assert client.get("/v1/me", headers=athlete.headers).json()["display_name"] == "ana"
    fine = client.patch("/v1/me", headers=athlete.headers, json={"display_name": "Zoë Ødegård 🏃"})
    assert fine.status_code == 200 and fine.json()["display_name"] == "Zoë Ødegård 🏃"


def test_login_failures_are_401_and_unknown_emails_pay_the_same_hash(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    athlete = register(client)
    checked: list[str | None] = []
    real = security.verify_password

    def spy(settings: Settings, password: str, stored: str | None) -> bool:
        checked.append(stored)
        return real(settings, password, stored)

    monkeypatch.setattr(security, "verify_password", spy)
    caplog.set_level(logging.DEBUG)
    wrong = client.post("/v1/auth/token", data={"username": athlete.email, "password": "wrong password!"})
    unknown = client.post("/v1/auth/token", data={"username": "nobody@example.com", "password": "wrong password!"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert checked[0] is not None and checked[1] is None  # a dummy hash is still verified
    assert "wrong password!" not in caplog.text


def test_login_is_rate_limited_per_account_and_per_address(
    settings: Settings, engine: Engine, db_session: Session
) -> None:
    strict = settings.model_copy(update={"login_limit_per_account": 3, "login_limit_per_address": 5})
    # An address of its own: tests that commit real logins (test_database_failures) count
    # against "testclient" for the window.
    address = ("198.51.100.7", 50000)
    with TestClient(build_test_app(strict, engine, db_session), client=address) as client:
        athlete = register(client)  # one successful login counts too
        for _ in range(2):
            assert client.post("/v1/auth/token", data={"username": athlete.email, "password": "x"}).status_code == 401
        blocked = client.post("/v1/auth/token", data={"username": athlete.email, "password": PASSWORD})
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["retry-after"]) <= strict.login_window_s
        assert blocked.headers["content-type"] == "application/problem+json"
        # The same address trying other accounts runs into the address limit.
        statuses = [
            client.post("/v1/auth/token", data={"username": f"x{i}@example.com", "password": "x"}).status_code
            for i in range(3)
        ]
        assert statuses[-1] == 429


def test_refresh_rotates_and_reuse_revokes_the_family(client: TestClient, db_session: Session) -> None:
    athlete = register(client)
    first = client.post("/v1/auth/refresh", json={"refresh_token": athlete.refresh_token})
    assert first.status_code == 200
    pair = first.json()
    assert pair["refresh_token"] != athlete.refresh_token
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200, me.text
    # A retry within the grace window (a phone whose answer was lost) gets the same pair.
    retry = client.post("/v1/auth/refresh", json={"refresh_token": athlete.refresh_token})
    assert retry.status_code == 200
    assert (retry.json()["access_token"], retry.json()["refresh_token"]) == (
        pair["access_token"],
        pair["refresh_token"],
    )
    age_refresh(db_session, athlete.refresh_token, seconds=31)
    replay = client.post("/v1/auth/refresh", json={"refresh_token": athlete.refresh_token})
    assert replay.status_code == 401
    # The thief's replay revoked the legitimate descendant too.
    assert client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
    assert client.post("/v1/auth/refresh", json={"refresh_token": "rs_rt_unknown-token"}).status_code == 401


def test_logout_revokes_the_refresh_token(client: TestClient) -> None:
    athlete = register(client)
    assert client.post("/v1/auth/logout", json={"refresh_token": athlete.refresh_token}).status_code == 204
    assert client.post("/v1/auth/refresh", json={"refresh_token": athlete.refresh_token}).status_code == 401


def test_me_read_and_update(client: TestClient) -> None:
    athlete = register(client, "ana")
    me = client.get("/v1/me", headers=athlete.headers).json()
    assert me["email"] == athlete.email and me["units"] == "kg" and me["timezone"] == "UTC"
    assert "password" not in str(me) and "hash" not in str(me)
    changed = client.patch("/v1/me", headers=athlete.headers, json={"units": "lb", "timezone": "Europe/Oslo"})
    assert changed.status_code == 200 and changed.json()["units"] == "lb"
    bad = client.patch("/v1/me", headers=athlete.headers, json={"timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["name"] == "timezone"
    assert client.patch("/v1/me", headers=athlete.headers, json={"units": "stone"}).status_code == 422


def test_profile_validates_catalogue_slugs(client: TestClient) -> None:
    athlete = register(client)
    profile = client.patch(
        "/v1/athletes/me/profile",
        headers=athlete.headers,
        json={
            "equipment": ["step", "dumbbell"],
            "injury_history": ["calf-strain"],
            "achilles_pain": 3,
            "achilles_pain_site": "insertional",
            "goal": "marathon",
            "goal_race_date": "2027-04-18",
        },
    )
    assert profile.status_code == 200, profile.text
    assert profile.json()["equipment"] == ["step", "dumbbell"]
    bad = client.patch("/v1/athletes/me/profile", headers=athlete.headers, json={"equipment": ["step", "jetpack"]})
    assert bad.status_code == 422 and "jetpack" in bad.json()["errors"][0]["detail"]
    assert client.get("/v1/athletes/me/profile", headers=athlete.headers).json()["equipment"] == ["step", "dumbbell"]
    assert (
        client.patch("/v1/athletes/me/profile", headers=athlete.headers, json={"achilles_pain": 11}).status_code == 422
    )


def test_personal_access_tokens(client: TestClient) -> None:
    athlete = register(client)
    created = client.post(
        "/v1/me/tokens", headers=athlete.headers, json={"name": "coach app", "scopes": ["profile:read"]}
    )
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("rs_pat_") and created.json()["prefix"] == secret[:13]
    listed = client.get("/v1/me/tokens", headers=athlete.headers).json()["items"]
    assert len(listed) == 1 and "token" not in listed[0] and listed[0]["last_used_at"] is None
    pat = {"Authorization": f"Bearer {secret}"}
    assert client.get("/v1/me", headers=pat).status_code == 200
    assert client.get("/v1/me/tokens", headers=athlete.headers).json()["items"][0]["last_used_at"] is not None
    lacking = client.patch("/v1/me", headers=pat, json={"units": "lb"})
    assert lacking.status_code == 403 and "profile:write" in lacking.json()["detail"]
    assert lacking.json()["missing_scopes"] == ["profile:write"]
    # A personal token cannot mint tokens, grant coaches or erase the account.
    assert client.post("/v1/me/tokens", headers=pat, json={"name": "x", "scopes": ["profile:read"]}).status_code == 403
    assert client.delete("/v1/me", headers=pat).status_code == 403
    token_id = listed[0]["id"]
    assert client.delete(f"/v1/me/tokens/{token_id}", headers=athlete.headers).status_code == 204
    assert client.get("/v1/me", headers=pat).status_code == 401
    assert client.delete(f"/v1/me/tokens/{token_id}", headers=athlete.headers).status_code == 404


def test_coach_grants_take_effect_once_accepted(client: TestClient) -> None:
    athlete, coach = register(client, "athlete"), register(client, "coach")
    grant = client.post("/v1/me/coaches", headers=athlete.headers, json={"coach_email": coach.email, "access": "read"})
    assert grant.status_code == 201
    assert grant.json()["scopes"] == ["plans:read", "profile:read", "training:read"]
    assert grant.json()["status"] == "pending" and grant.json()["coach"] is None
    assert (
        client.post(
            "/v1/me/coaches", headers=athlete.headers, json={"coach_email": coach.email, "access": "write"}
        ).status_code
        == 409
    )
    assert client.get(f"/v1/athletes/{athlete.id}/profile", headers=coach.headers).status_code == 404
    accepted = client.post(f"/v1/me/invitations/{grant.json()['id']}/accept", headers=coach.headers)
    assert accepted.status_code == 200 and accepted.json()["athlete"]["id"] == athlete.id
    coached = client.get("/v1/me/athletes", headers=coach.headers).json()["items"]
    assert [c["athlete"]["id"] for c in coached] == [athlete.id]
    assert client.get(f"/v1/athletes/{athlete.id}/profile", headers=coach.headers).status_code == 200
    listed = client.get("/v1/me/coaches", headers=athlete.headers).json()["items"][0]
    assert listed["coach"]["id"] == coach.id and listed["status"] == "active"
    revoke = client.delete(f"/v1/me/coaches/{grant.json()['id']}", headers=athlete.headers)
    assert revoke.status_code == 204
    assert client.get(f"/v1/athletes/{athlete.id}/profile", headers=coach.headers).status_code == 404
    assert (
        client.post(
            "/v1/me/coaches", headers=athlete.headers, json={"coach_email": athlete.email, "access": "read"}
        ).status_code
        == 422
    )


def _rows_referencing(session: Session, user_id: str) -> dict[str, int]:
    """Rows in any table with a column that references user.id and holds this id."""
    counts = {}
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if any(fk.column.table.name == "user" for fk in column.foreign_keys) or (
                table.name == "user" and column.name == "id"
            ):
                n = session.execute(
                    select(func.count()).select_from(table).where(column == uuid.UUID(user_id))
                ).scalar_one()
                counts[f"{table.name}.{column.name}"] = n
    return counts


def test_erasing_an_account_leaves_no_row_behind(client: TestClient, db_session: Session) -> None:
    athlete, coach = register(client, "athlete"), register(client, "coach")
    client.patch("/v1/athletes/me/profile", headers=athlete.headers, json={"equipment": ["step"]})
    client.post("/v1/me/tokens", headers=athlete.headers, json={"name": "t", "scopes": ["profile:read"]})
    to_coach = client.post(
        "/v1/me/coaches", headers=athlete.headers, json={"coach_email": coach.email, "access": "write"}
    )
    client.post(f"/v1/me/invitations/{to_coach.json()['id']}/accept", headers=coach.headers)
    to_athlete = client.post(
        "/v1/me/coaches", headers=coach.headers, json={"coach_email": athlete.email, "access": "read"}
    )
    client.post(f"/v1/me/invitations/{to_athlete.json()['id']}/accept", headers=athlete.headers)
    client.post("/v1/auth/refresh", json={"refresh_token": athlete.refresh_token})
    before = _rows_referencing(db_session, athlete.id)
    assert before["user.id"] == 1 and before["coach_grant.athlete_id"] == 1 and before["coach_grant.coach_id"] == 1
    assert before["refresh_token.user_id"] == 2 and before["personal_access_token.user_id"] == 1
    assert before["login_session.user_id"] == 1
    assert client.delete("/v1/me", headers=athlete.headers).status_code == 204
    assert set(_rows_referencing(db_session, athlete.id).values()) == {0}
    assert client.get("/v1/me", headers=athlete.headers).status_code == 401
    assert client.get("/v1/me/athletes", headers=coach.headers).json()["items"] == []
    assert _rows_referencing(db_session, coach.id)["user.id"] == 1


def test_tokens_signed_with_another_key_or_expired_are_refused(
    client: TestClient, make_athlete: Callable[..., Athlete]
) -> None:
    athlete = make_athlete()
    now = datetime.now(UTC)
    claims = {"sub": athlete.id, "iat": int(now.timestamp()), "typ": "access", "scope": "profile:read"}
    forged = jwt.encode({**claims, "exp": int((now + timedelta(minutes=5)).timestamp())}, "x" * 40, algorithm="HS256")
    expired = jwt.encode(
        {**claims, "exp": int((now - timedelta(seconds=1)).timestamp())}, TEST_SECRET, algorithm="HS256"
    )
    for token in (forged, expired, "not-a-jwt", "rs_pat_not-a-token"):
        response = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token


def test_a_token_answered_before_still_ends_at_its_expiry_and_only_under_its_key(
    client: TestClient, make_athlete: Callable[..., Athlete], settings: Settings
) -> None:
    """Verified access tokens are remembered between requests: that must not outlive the
    token's ``exp`` nor carry it over to another signing key."""
    athlete = make_athlete()
    login = security.decode_access_token(settings, athlete.headers["Authorization"].removeprefix("Bearer "))
    assert login is not None
    # A token of the same login with a second of its life left.
    now = datetime.now(UTC)
    issued = now - timedelta(seconds=settings.access_token_ttl_s) + timedelta(seconds=1.5)
    token, _ = security.issue_access_token(settings, login.user_id, login.session_id, now, issued)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/me", headers=headers).status_code == 200  # verified, remembered
    assert client.get("/v1/me", headers=headers).status_code == 200
    claims = security.decode_access_token(settings, token)
    assert claims is not None
    rotated = settings.model_copy(update={"secret_key": SecretStr("r" * 40)})
    assert security.decode_access_token(rotated, token) is None
    time.sleep(max(0.0, claims.expires_at.timestamp() - time.time()) + 0.05)
    response = client.get("/v1/me", headers=headers)
    assert response.status_code == 401
    assert client.get("/v1/me", headers=athlete.headers).status_code == 200  # the login itself goes on


def test_production_refuses_the_default_secret() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production")
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production", secret_key="short")
    assert Settings(environment="production", secret_key="s" * 40).environment == "production"


def test_erasing_an_account_deletes_its_rate_limit_buckets(
    settings: Settings, engine: Engine, db_session: Session
) -> None:
    limited = settings.model_copy(update={"rate_limit_enabled": True})
    with TestClient(build_test_app(limited, engine, db_session)) as client:
        athlete, other = register(client), register(client)
        for who in (athlete, other):
            assert client.patch("/v1/me", headers=who.headers, json={"units": "lb"}).status_code == 200
        login = client.post(
            "/v1/auth/token",
            data={"username": athlete.email, "password": PASSWORD, "device_token": athlete.device_token},
        )
        assert login.status_code == 200

        def keys(fragment: str) -> list[str]:
            rows = db_session.execute(text("SELECT key FROM rate_limit_bucket")).scalars().all()
            return sorted(str(k) for k in rows if fragment in k)

        device, writes = keys(athlete.id)
        assert device.startswith(f"login:device:user:{athlete.id}:") and writes == f"writes:user:{athlete.id}"
        assert keys(athlete.email) == [f"login:account:{athlete.email}"]
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        assert client.delete("/v1/me", headers=headers).status_code == 204
        assert keys(athlete.id) == [] and keys(athlete.email) == []
        assert keys(other.id) == [f"writes:user:{other.id}"]  # nobody else's


def test_time_zone_is_chosen_at_registration(client: TestClient) -> None:
    email = f"tz-{uuid.uuid4().hex[:8]}@example.com"
    bad = client.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "timezone": "Mars/Olympus"})
    assert bad.status_code == 422 and "time zone" in bad.text
    made = client.post("/v1/auth/register", json={"email": email, "password": PASSWORD, "timezone": "Europe/Madrid"})
    assert made.status_code == 202, made.text
    token = client.post("/v1/auth/token", data={"username": email, "password": PASSWORD}).json()["access_token"]
    me = client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["timezone"] == "Europe/Madrid"
