"""Every POST that creates something takes an Idempotency-Key: a retry answers with what the
first attempt made (marked Idempotent-Replayed) and creates nothing more."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.accounts.models import utcnow
from app.core.db import table_of
from app.core.events import OutboxEvent
from app.core.idempotency import IdempotencyKey
from tests.conftest import register

PROFILE = {"achilles_pain": 3, "achilles_pain_site": "mid-portion", "equipment": ["step", "chair"]}


def test_a_retried_plan_creation_makes_one_plan(client: TestClient) -> None:
    athlete = register(client)
    client.patch("/v1/athletes/me/profile", headers=athlete.headers, json=PROFILE)
    headers = {**athlete.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"kind": "achilles", "start_date": "2026-10-05"}
    first = client.post("/v1/athletes/me/plans", headers=headers, json=body)
    retry = client.post("/v1/athletes/me/plans", headers=headers, json=body)
    assert first.status_code == retry.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers and retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    assert (
        first.headers["location"]
        == retry.headers["location"]
        == f"/v1/athletes/{athlete.id}/plans/{first.json()['id']}"
    )
    assert client.get(first.headers["location"], headers=athlete.headers).json()["id"] == first.json()["id"]
    plans = client.get("/v1/athletes/me/plans", headers=athlete.headers).json()
    assert plans["total"] == 1
    # The same key with another body is refused; a new key makes a second plan.
    other = client.post("/v1/athletes/me/plans", headers=headers, json={**body, "start_date": "2026-10-12"})
    assert other.status_code == 422 and other.json()["errors"][0]["name"] == "Idempotency-Key"
    fresh = client.post("/v1/athletes/me/plans", headers={**athlete.headers, "Idempotency-Key": "another"}, json=body)
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]


def test_a_failed_plan_creation_leaves_the_key_free_for_the_corrected_retry(client: TestClient) -> None:
    athlete = register(client)
    headers = {**athlete.headers, "Idempotency-Key": "fix-and-retry"}
    bad = {"kind": "achilles", "profile_overrides": {"achilles_pain": 12}}
    assert client.post("/v1/athletes/me/plans", headers=headers, json=bad).status_code == 422
    assert client.get("/v1/athletes/me/plans", headers=athlete.headers).json()["total"] == 0
    # The key was given up with the failed attempt, so a corrected body may use it.
    good = client.post("/v1/athletes/me/plans", headers=headers, json={**bad, "profile_overrides": PROFILE})
    assert good.status_code == 201, good.text


def test_a_retried_token_creation_makes_one_token_and_only_the_last_secret_works(client: TestClient) -> None:
    athlete = register(client)
    headers = {**athlete.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"name": "coach app", "scopes": ["profile:read"]}
    first = client.post("/v1/me/tokens", headers=headers, json=body)
    retry = client.post("/v1/me/tokens", headers=headers, json=body)
    assert first.status_code == retry.status_code == 201, first.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"] and retry.json()["name"] == "coach app"
    assert retry.json()["token"] != first.json()["token"]
    listed = client.get("/v1/me/tokens", headers=athlete.headers).json()
    assert listed["total"] == 1 and listed["items"][0]["prefix"] == retry.json()["prefix"]
    # The secret is never kept for replays: the first one stops working, the new one works.
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {first.json()['token']}"}).status_code == 401
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {retry.json()['token']}"}).status_code == 200
    # A retry after the token was revoked cannot bring it back.
    client.delete(f"/v1/me/tokens/{first.json()['id']}", headers=athlete.headers)
    gone = client.post("/v1/me/tokens", headers=headers, json=body)
    assert gone.status_code == 409 and "revoked" in gone.json()["detail"]
    assert client.get("/v1/me/tokens", headers=athlete.headers).json()["total"] == 0


def test_a_retried_coach_invitation_replays_instead_of_conflicting(client: TestClient) -> None:
    athlete = register(client)
    headers = {**athlete.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"coach_email": "coach-idem@example.com", "access": "read"}
    first = client.post("/v1/me/coaches", headers=headers, json=body)
    retry = client.post("/v1/me/coaches", headers=headers, json=body)
    assert first.status_code == retry.status_code == 201, first.text
    assert retry.headers["idempotent-replayed"] == "true" and retry.json() == first.json()
    # Without the key, the same invitation again is a conflict, as before.
    assert client.post("/v1/me/coaches", headers=athlete.headers, json=body).status_code == 409
    assert client.get("/v1/me/coaches", headers=athlete.headers).json()["total"] == 1


def test_keys_belong_to_their_user(client: TestClient) -> None:
    """The same key sent by two users creates a record for each."""
    body = {"name": "script", "scopes": ["training:read"]}
    made = [
        client.post("/v1/me/tokens", headers={**register(client).headers, "Idempotency-Key": "shared"}, json=body)
        for _ in range(2)
    ]
    assert [m.status_code for m in made] == [201, 201]
    assert "idempotent-replayed" not in made[1].headers and made[0].json()["id"] != made[1].json()["id"]


def test_a_retried_app_registration_makes_one_app_and_only_the_last_secret_works(client: TestClient) -> None:
    developer = register(client)
    headers = {**developer.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"name": "CoachApp", "redirect_uris": ["https://coach.example/callback"], "client_type": "confidential"}
    first = client.post("/v1/me/apps", headers=headers, json=body)
    retry = client.post("/v1/me/apps", headers=headers, json=body)
    assert first.status_code == retry.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers and retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["client_id"] == first.json()["client_id"]
    assert retry.headers["location"] == first.headers["location"] == f"/v1/me/apps/{first.json()['client_id']}"
    # The secret is not kept for replays: the retry gets a new one, and only it is valid.
    assert retry.json()["client_secret"] and retry.json()["client_secret"] != first.json()["client_secret"]
    assert client.get("/v1/me/apps", headers=developer.headers).json()["total"] == 1

    def client_token(secret: str) -> str:
        form = {"grant_type": "refresh_token", "refresh_token": "none"}
        auth = (first.json()["client_id"], secret)
        return str(client.post("https://testserver/oauth/token", data=form, auth=auth).json()["error"])

    assert client_token(first.json()["client_secret"]) == "invalid_client"
    assert client_token(retry.json()["client_secret"]) == "invalid_grant"


def test_a_retried_webhook_subscription_makes_one_subscription(client: TestClient) -> None:
    athlete = register(client)
    headers = {**athlete.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"url": "https://93.184.216.34/hooks/runstrong", "event_types": ["run.created"]}
    first = client.post("/v1/webhooks", headers=headers, json=body)
    retry = client.post("/v1/webhooks", headers=headers, json=body)
    assert first.status_code == retry.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers and retry.headers["idempotent-replayed"] == "true"
    # The subscription keeps its secret, so the retry is told the same one.
    assert retry.json() == first.json() and first.json()["secret"].startswith("whsec_")
    assert retry.headers["location"] == f"/v1/webhooks/{first.json()['id']}"
    assert client.get("/v1/webhooks", headers=athlete.headers).json()["total"] == 1
    other = client.post("/v1/webhooks", headers=headers, json={**body, "event_types": ["run.deleted"]})
    assert other.status_code == 422 and other.json()["errors"][0]["name"] == "Idempotency-Key"


def test_a_retried_feed_link_makes_one_link_and_only_the_last_token_works(client: TestClient) -> None:
    athlete = register(client)
    headers = {**athlete.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = {"resource": "load.svg"}
    first = client.post("/v1/me/feeds", headers=headers, json=body)
    retry = client.post("/v1/me/feeds", headers=headers, json=body)
    assert first.status_code == retry.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers and retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"] and retry.json()["url"] != first.json()["url"]
    listed = client.get("/v1/me/feeds", headers=athlete.headers).json()
    assert listed["total"] == 1 and listed["items"][0]["prefix"] == retry.json()["prefix"]
    path = "/v1/feeds/load.svg?token="
    assert client.get(path + first.json()["url"].split("token=")[1]).status_code == 404
    assert client.get(path + retry.json()["url"].split("token=")[1]).status_code == 200
    # A retry after the link was revoked cannot bring it back.
    client.delete(f"/v1/me/feeds/{first.json()['id']}", headers=athlete.headers)
    gone = client.post("/v1/me/feeds", headers=headers, json=body)
    assert gone.status_code == 409 and "revoked" in gone.json()["detail"]


WORKOUT = {
    "started_at": "2026-11-20T18:30:00+01:00",
    "duration_minutes": 30,
    "sets": [{"position": 1, "exercise": "eccentric-heel-raise", "reps": 15}],
}


def _key_row(db_session: Session, key: str) -> Any:
    keys = table_of(IdempotencyKey)
    return db_session.connection().execute(sa.select(keys).where(keys.c.key == key)).one()


def test_a_retried_workout_makes_no_second_record_event_or_change(client: TestClient, db_session: Session) -> None:
    """A retry makes nothing: no second record, event or change number."""
    athlete = register(client)
    headers = {**athlete.headers, "Idempotency-Key": "once"}
    first = client.post("/v1/athletes/me/workouts", headers=headers, json=WORKOUT)
    retry = client.post("/v1/athletes/me/workouts", headers=headers, json=WORKOUT)
    assert first.status_code == retry.status_code == 201 and retry.headers["idempotent-replayed"] == "true"
    stored = _key_row(db_session, "once")
    assert stored.state == "done" and stored.status_code == 201 and stored.body["id"] == first.json()["id"]
    events = table_of(OutboxEvent)
    kinds = db_session.connection().execute(
        sa.select(events.c.type).where(events.c.athlete_id == uuid.UUID(athlete.id))
    )
    assert kinds.scalars().all() == ["workout.created"]
    feed = client.get("/v1/athletes/me/changes", headers=athlete.headers).json()["changes"]
    assert [change["seq"] for change in feed] == [1]
    after = client.post("/v1/athletes/me/workouts", headers=athlete.headers, json=WORKOUT)
    assert after.status_code == 201
    feed = client.get("/v1/athletes/me/changes", headers=athlete.headers).json()["changes"]
    assert [change["seq"] for change in feed] == [1, 2]  # the retry took no change number


def test_a_key_older_than_a_day_is_free_again(client: TestClient, db_session: Session) -> None:
    athlete = register(client)
    headers = {**athlete.headers, "Idempotency-Key": "a-day-ago"}
    first = client.post("/v1/athletes/me/workouts", headers=headers, json=WORKOUT)
    keys = table_of(IdempotencyKey)
    db_session.execute(
        sa.update(keys).where(keys.c.key == "a-day-ago").values(created_at=utcnow() - timedelta(hours=25))
    )
    db_session.commit()  # the test's own savepoint: the request's session begins after it
    # Another body with the expired key is a new request, not a reused key; its retry replays it.
    other = {**WORKOUT, "duration_minutes": 40}
    again = client.post("/v1/athletes/me/workouts", headers=headers, json=other)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers, again.text
    assert again.json()["id"] != first.json()["id"]
    retry = client.post("/v1/athletes/me/workouts", headers=headers, json=other)
    assert retry.headers["idempotent-replayed"] == "true" and retry.json()["id"] == again.json()["id"]
    assert len(client.get("/v1/athletes/me/workouts", headers=athlete.headers).json()["items"]) == 2


def test_a_claim_left_running_holds_its_key_until_its_lease_ends(client: TestClient, db_session: Session) -> None:
    """A claim left ``running`` (by work that committed part-way and then died) is a 409 to
    retry while its lease lasts, and is taken over after."""
    athlete = register(client)
    headers = {**athlete.headers, "Idempotency-Key": "left-running"}
    path = "/v1/athletes/me/workouts"
    assert client.post(path, headers=headers, json=WORKOUT).status_code == 201  # its fingerprint, as stored
    keys = table_of(IdempotencyKey)
    now = utcnow()
    running = sa.update(keys).where(keys.c.key == "left-running")
    db_session.execute(
        running.values(state="running", status_code=None, body=None, lease_until=now + timedelta(seconds=30))
    )
    db_session.commit()
    held = client.post(path, headers=headers, json=WORKOUT)
    assert held.status_code == 409 and held.headers["retry-after"] == "1"
    assert len(client.get(path, headers=athlete.headers).json()["items"]) == 1  # nothing more was made
    db_session.execute(running.values(lease_until=now - timedelta(seconds=1)))
    db_session.commit()
    taken = client.post(path, headers=headers, json=WORKOUT)
    assert taken.status_code == 201 and "idempotent-replayed" not in taken.headers
    assert _key_row(db_session, "left-running").state == "done"
    assert client.post(path, headers=headers, json=WORKOUT).json()["id"] == taken.json()["id"]
