"""Webhooks end to end on both databases: the app commits, the dispatcher delivers to a real
HTTP server, and the receiver verifies the signatures with standardwebhooks itself."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from secrets import token_urlsafe
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.core.config import Settings
from app.main import create_app
from app.webhooks.dispatcher import Dispatcher
from tests import web
from tests.conftest import Athlete, register
from tests.oauth.helpers import REDIRECT, consent, query, register_app
from tests.webhooks.receiver import Receiver

WORKOUT = {
    "started_at": "2026-11-20T17:30:00Z",
    "duration_minutes": 30,
    "sets": [{"position": 1, "exercise": "plank", "hold_seconds": 30}],
}


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_retry_delays_s": [0.2, 0.2], "webhook_timeout_s": 5})


@pytest.fixture
def live(fast_settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The app on the test database with nothing rolled back: the dispatcher reads what it commits."""
    with TestClient(create_app(fast_settings, engine)) as client:
        yield client


@pytest.fixture
def dispatcher(fast_settings: Settings, engine: Engine) -> Iterator[Dispatcher]:
    worker = Dispatcher(engine, fast_settings)
    yield worker
    worker.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def subscribe(client: TestClient, headers: dict[str, str], url: str, *events: str) -> dict[str, Any]:
    made = client.post("/v1/webhooks", headers=headers, json={"url": url, "event_types": list(events)})
    assert made.status_code == 201, made.text
    return dict(made.json())


def grant(client: TestClient, athlete: Athlete, coach: Athlete) -> str:
    made = client.post("/v1/me/coaches", headers=athlete.headers, json={"coach_email": coach.email, "access": "read"})
    assert made.status_code == 201, made.text
    invitations = client.get("/v1/me/invitations", headers=coach.headers).json()["items"]
    accepted = client.post(f"/v1/me/invitations/{invitations[0]['id']}/accept", headers=coach.headers)
    assert accepted.status_code == 200, accepted.text
    return str(made.json()["id"])


def log_workout(client: TestClient, athlete: Athlete) -> str:
    made = client.post(f"/v1/athletes/{athlete.id}/workouts", headers=athlete.headers, json=WORKOUT)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def verified(secret: str, got: Any) -> dict[str, Any]:
    return dict(Webhook(secret).verify(got.body, got.headers))


def test_signed_deliveries_reach_the_owner_and_granted_coaches_only(
    live: TestClient, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    athlete, coach, stranger = register(live, "athlete"), register(live, "coach"), register(live, "stranger")
    grant_id = grant(live, athlete, coach)
    own = subscribe(live, athlete.headers, receiver.url + "/own", "workout.created", "plan.created")
    coached = subscribe(live, coach.headers, receiver.url + "/coach", "workout.created")
    subscribe(live, stranger.headers, receiver.url + "/stranger", "workout.created")
    secrets = {"/hooks/own": own["secret"], "/hooks/coach": coached["secret"]}

    workout_id = log_workout(live, athlete)
    dispatcher.run_once()
    got = receiver.wait_for(2, timeout=5)
    assert len(got) == 2  # the stranger, with no grant, hears nothing
    bodies = []
    assert {item.path for item in got} == set(secrets)
    for item in got:
        bodies.append(verified(secrets[item.path], item))
        other = next(v for k, v in secrets.items() if k != item.path)
        with pytest.raises(WebhookVerificationError):  # the other subscriber's secret does not verify it
            Webhook(other).verify(item.body, item.headers)
    assert all(b["type"] == "workout.created" for b in bodies)
    assert {b["data"]["id"] for b in bodies} == {workout_id}
    assert bodies[0]["data"]["url"] == f"/v1/athletes/{athlete.id}/workouts/{workout_id}"
    # The URL in the payload reads the record with the subscriber's own credential.
    assert live.get(bodies[0]["data"]["url"], headers=coach.headers).status_code == 200

    # Revoking the grant stops the coach's deliveries at once.
    assert live.delete(f"/v1/me/coaches/{grant_id}", headers=athlete.headers).status_code == 204
    log_workout(live, athlete)
    dispatcher.run_once()
    time.sleep(0.3)
    assert [r.path for r in receiver.wait_for(3, timeout=5)[2:]] == ["/hooks/own"]


def test_a_credential_subscribes_only_to_what_its_scopes_read(live: TestClient, receiver: Receiver) -> None:
    athlete = register(live, "scoped")
    made = live.post(
        "/v1/me/tokens", headers=athlete.headers, json={"name": "tool", "scopes": ["training:read", "training:write"]}
    )
    pat = {"Authorization": f"Bearer {made.json()['token']}"}
    refused = live.post("/v1/webhooks", headers=pat, json={"url": receiver.url, "event_types": ["plan.created"]})
    assert refused.status_code == 403
    assert "plans:read" in refused.json()["detail"]
    allowed = subscribe(live, pat, receiver.url, "run.created")
    assert allowed["scopes"] == ["training:read"]
    for url in ("ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/"):
        bad = live.post("/v1/webhooks", headers=pat, json={"url": url, "event_types": ["run.created"]})
        assert bad.status_code == 422, url
    other = register(live, "other")
    assert live.get(f"/v1/webhooks/{allowed['id']}", headers=other.headers).status_code == 404


def test_a_receiver_that_is_down_gets_the_event_later_and_it_can_be_redelivered(
    live: TestClient, dispatcher: Dispatcher
) -> None:
    down = Receiver()  # not started: nothing listens on its port yet
    athlete = register(live, "retry")
    sub = subscribe(live, athlete.headers, down.url, "run.created")
    run = {"started_at": "2026-11-19T07:00:00Z", "distance_km": 5, "duration_s": 1500, "type": "easy"}
    assert live.post(f"/v1/athletes/{athlete.id}/runs", headers=athlete.headers, json=run).status_code == 201
    dispatcher.run_once()
    log = live.get(f"/v1/webhooks/{sub['id']}/deliveries", headers=athlete.headers).json()["items"]
    assert [(d["status"], d["attempts"], d["response_code"]) for d in log] == [("pending", 1, None)]
    assert log[0]["next_attempt_at"] is not None and log[0]["last_error"]
    assert uuid.UUID(log[0]["id"]).version == 7  # time-ordered, as the rows of every write

    down.start()
    try:
        time.sleep(0.3)  # the first retry is due 0.2 s after the failure
        dispatcher.run_once()
        assert len(down.wait_for(1, timeout=5)) == 1
        body = verified(sub["secret"], down.received[0])
        assert body["type"] == "run.created"
        log = live.get(f"/v1/webhooks/{sub['id']}/deliveries", headers=athlete.headers).json()["items"]
        assert [(d["status"], d["attempts"], d["response_code"]) for d in log] == [("delivered", 2, 200)]

        # Redelivery sends it again, with the same webhook-id, signed with a rotated secret.
        rotated = live.post(f"/v1/webhooks/{sub['id']}/secret", headers=athlete.headers).json()
        again = live.post(f"/v1/webhooks/{sub['id']}/deliveries/{log[0]['id']}/redeliver", headers=athlete.headers)
        assert again.status_code == 202
        dispatcher.run_once()
        assert len(down.wait_for(2, timeout=5)) == 2
        assert down.received[1].headers["webhook-id"] == down.received[0].headers["webhook-id"] == log[0]["id"]
        assert verified(rotated["secret"], down.received[1]) == body
        with pytest.raises(WebhookVerificationError):
            Webhook(sub["secret"]).verify(down.received[1].body, down.received[1].headers)
    finally:
        down.stop()


def test_a_paused_subscription_sends_nothing_until_resumed(
    live: TestClient, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    athlete = register(live, "paused")
    sub = subscribe(live, athlete.headers, receiver.url, "workout.created")
    paused = live.patch(f"/v1/webhooks/{sub['id']}", headers=athlete.headers, json={"active": False})
    assert paused.status_code == 200 and paused.json()["active"] is False
    log_workout(live, athlete)
    dispatcher.run_once()
    assert live.get(f"/v1/webhooks/{sub['id']}/deliveries", headers=athlete.headers).json()["total"] == 0
    live.patch(f"/v1/webhooks/{sub['id']}", headers=athlete.headers, json={"active": True})
    workout_id = log_workout(live, athlete)
    dispatcher.run_once()
    got = receiver.wait_for(1, timeout=5)
    assert [verified(sub["secret"], r)["data"]["id"] for r in got] == [workout_id]


def test_retries_stop_once_the_schedule_is_spent(live: TestClient, dispatcher: Dispatcher) -> None:
    failing = Receiver(answer=lambda _n: 500).start()
    try:
        athlete = register(live, "failing")
        sub = subscribe(live, athlete.headers, failing.url, "workout.created")
        log_workout(live, athlete)
        for _ in range(3):  # the first attempt and the two retries of the schedule
            dispatcher.run_once()
            time.sleep(0.3)
        dispatcher.run_once()
        log = live.get(f"/v1/webhooks/{sub['id']}/deliveries", headers=athlete.headers).json()["items"]
        assert [(d["status"], d["attempts"], d["response_code"]) for d in log] == [("failed", 3, 500)]
        assert log[0]["next_attempt_at"] is None
        assert len(failing.received) == 3
        assert json.loads(failing.received[0].body)["type"] == "workout.created"
    finally:
        failing.stop()


def test_private_addresses_are_refused_in_production(settings: Settings, engine: Engine) -> None:
    production = settings.model_copy(update={"environment": "production"})
    with TestClient(create_app(production, engine)) as client:
        athlete = register(client, "prod")
        for url in ("http://127.0.0.1:9/hooks", "http://10.0.0.7/hooks", "http://[::1]/hooks", "http://localhost/x"):
            made = client.post(
                "/v1/webhooks", headers=athlete.headers, json={"url": url, "event_types": ["run.created"]}
            )
            assert made.status_code == 422, url
            assert "private" in made.json()["errors"][0]["detail"] or "private" in made.json()["detail"]


def test_runstrong_serve_delivers_by_itself_and_a_failing_receiver_never_fails_the_request(
    database_url: str,
) -> None:
    """The single-machine default: the dispatcher runs inside `runstrong serve`."""
    from tests.servers import account_on, start_server

    receiver = Receiver(answer=lambda n: 500 if n == 1 else 200).start()
    env = {
        "RUNSTRONG_WORKER_EMBEDDED": "true",
        "RUNSTRONG_WORKER_POLL_S": "0.2",
        "RUNSTRONG_WEBHOOK_RETRY_DELAYS_S": "[0.5]",
    }
    try:
        with start_server(database_url, env=env) as server:
            athlete = account_on(database_url, "embedded")
            with web.client(base_url=server.url, headers=athlete.headers, timeout=60) as api:
                sub = api.post("/v1/webhooks", json={"url": receiver.url, "event_types": ["checkin.created"]}).json()
                checkin = {
                    "date": "2026-11-20",
                    "sites": [{"site": "left-achilles", "pain": 2, "morning_stiffness": 2}],
                }
                made = api.post(f"/v1/athletes/{athlete.id}/checkins", json=checkin)
                assert made.status_code == 201  # the receiver's 500 is the dispatcher's business, not the client's
                got = receiver.wait_for(2, timeout=90)
                assert len(got) == 2 and got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
                assert verified(sub["secret"], got[1])["data"]["id"] == made.json()["id"]
    finally:
        receiver.stop()


def app_token(client: TestClient, developer: Athlete, athlete: Athlete, scope: str) -> tuple[str, dict[str, str]]:
    """Register an OAuth2 app, have ``athlete`` allow it (PKCE), exchange the code: the app's
    client_id and the Authorization header of its access token."""
    client = TestClient(client.app, base_url="https://testserver")  # OAuth2 requires https
    registered = register_app(client, developer.headers, name="Tendon Coach")
    verifier = token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": registered["client_id"],
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": "s1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    answer = consent(client, "/oauth/authorize?" + urlencode(params), athlete.email)
    assert answer.status_code == 302, answer.text
    code = query(answer.headers["location"])["code"]
    token = client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
        auth=(registered["client_id"], registered["client_secret"]),
    )
    assert token.status_code == 200, token.text
    return registered["client_id"], {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_an_app_subscribes_with_its_token_and_hears_only_its_athlete_until_disconnected(
    live: TestClient, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    developer, athlete, other = register(live, "developer"), register(live, "athlete"), register(live, "other")
    client_id, tool = app_token(live, developer, athlete, "profile:read training:read")
    # A scope the app was not granted: 403 naming it.
    refused = live.post("/v1/webhooks", headers=tool, json={"url": receiver.url, "event_types": ["plan.created"]})
    assert refused.status_code == 403 and refused.json()["missing_scopes"] == ["plans:read"]
    assert "plans:read" in refused.json()["detail"]
    sub = subscribe(live, tool, receiver.url + "/app", "workout.created")
    assert sub["scopes"] == ["profile:read", "training:read"]  # the read scopes the athlete consented to
    # The app manages its own subscriptions; the athlete's own credential does not see them, nor the reverse.
    mine = subscribe(live, athlete.headers, receiver.url + "/mine", "workout.created")
    assert [s["id"] for s in live.get("/v1/webhooks", headers=tool).json()["items"]] == [sub["id"]]
    assert [s["id"] for s in live.get("/v1/webhooks", headers=athlete.headers).json()["items"]] == [mine["id"]]
    assert live.get(f"/v1/webhooks/{mine['id']}", headers=tool).status_code == 404
    assert live.get(f"/v1/webhooks/{sub['id']}", headers=athlete.headers).status_code == 404
    assert live.patch(f"/v1/webhooks/{sub['id']}", headers=tool, json={"description": "x"}).status_code == 200

    # Another athlete's workout is not sent to the app (even one the athlete coaches).
    grant(live, other, athlete)
    log_workout(live, other)
    workout_id = log_workout(live, athlete)
    dispatcher.run_once()
    got = receiver.wait_for(3, timeout=5)
    time.sleep(0.3)
    app_got = [r for r in receiver.received if r.path == "/hooks/app"]
    assert len(app_got) == 1
    body = verified(sub["secret"], app_got[0])
    assert body["data"]["id"] == workout_id and body["data"]["athlete_id"] == athlete.id
    assert len([r for r in got if r.path == "/hooks/mine"]) == 2  # the athlete's own login sees both
    deliveries = live.get(f"/v1/webhooks/{sub['id']}/deliveries", headers=tool).json()["items"]
    assert [(d["status"], d["response_code"]) for d in deliveries] == [("delivered", 200)]

    # The athlete disconnects the app: its subscription is gone, nothing more is sent to it.
    assert live.delete(f"/v1/me/connected-apps/{client_id}", headers=athlete.headers).status_code == 204
    log_workout(live, athlete)
    dispatcher.run_once()
    receiver.wait_for(4, timeout=5)
    time.sleep(0.3)
    assert len([r for r in receiver.received if r.path == "/hooks/app"]) == 1
    assert live.get("/v1/webhooks", headers=tool).status_code == 401


def test_deleting_an_app_deletes_its_subscriptions(
    live: TestClient, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    developer, athlete = register(live, "developer"), register(live, "athlete")
    client_id, tool = app_token(live, developer, athlete, "training:read")
    subscribe(live, tool, receiver.url + "/app", "workout.created")
    assert live.delete(f"/v1/me/apps/{client_id}", headers=developer.headers).status_code == 204
    log_workout(live, athlete)
    dispatcher.run_once()
    time.sleep(0.5)
    assert receiver.received == []


def test_revoking_the_token_that_subscribed_deletes_the_subscription(
    live: TestClient, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    athlete = register(live, "athlete")
    made = live.post("/v1/me/tokens", headers=athlete.headers, json={"name": "tool", "scopes": ["training:read"]})
    assert made.status_code == 201, made.text
    pat = {"Authorization": f"Bearer {made.json()['token']}"}
    by_token = subscribe(live, pat, receiver.url + "/token", "workout.created")
    by_login = subscribe(live, athlete.headers, receiver.url + "/login", "workout.created")
    assert live.delete(f"/v1/me/tokens/{made.json()['id']}", headers=athlete.headers).status_code == 204
    listed = live.get("/v1/webhooks", headers=athlete.headers).json()["items"]
    assert [s["id"] for s in listed] == [by_login["id"]] and by_token["id"] not in {s["id"] for s in listed}
    log_workout(live, athlete)
    dispatcher.run_once()
    receiver.wait_for(1, timeout=5)
    time.sleep(0.3)
    assert [r.path for r in receiver.received] == ["/hooks/login"]
