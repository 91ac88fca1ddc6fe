"""Plans through the API: preview, create from the stored profile, adapt, archive, iCalendar."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi.testclient import TestClient
from icalendar import Calendar

from tests.conftest import Athlete, register

MACHINES = ["seated-calf-raise-machine", "leg-press-machine", "standing-calf-raise-machine"]


def test_preview_needs_no_account_and_names_bad_fields(client: TestClient) -> None:
    body = {"kind": "achilles", "start_date": "2026-11-23", "profile": {"achilles_pain": 3, "equipment": MACHINES}}
    plan = client.post("/v1/plans/preview", json=body)
    assert plan.status_code == 200
    assert plan.json()["protocol"] == "heavy-slow-resistance" and len(plan.json()["weeks"]) == 12
    bad = client.post("/v1/plans/preview", json={**body, "profile": {"equipment": ["jetpack"]}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["name"] == "profile.equipment"
    forced = client.post(
        "/v1/plans/preview", json={**body, "profile": {}, "options": {"protocol": "heavy-slow-resistance"}}
    )
    assert forced.status_code == 422 and forced.json()["errors"][0]["name"] == "options.protocol"
    assert client.post("/v1/plans/preview", json={**body, "kind": "couch"}).status_code == 422


def create(client: TestClient, athlete: Athlete, **extra: Any) -> dict[str, Any]:
    client.patch(
        "/v1/athletes/me/profile",
        headers=athlete.headers,
        json={
            "achilles_pain": 3,
            "achilles_pain_site": "mid-portion",
            "single_leg_heel_raises": 20,
            "equipment": ["step", "weighted-backpack", "chair"],
        },
    )
    made = client.post(
        "/v1/athletes/me/plans", headers=athlete.headers, json={"kind": "achilles", "start_date": "2026-10-05", **extra}
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_create_from_the_stored_profile_with_overrides(client: TestClient) -> None:
    athlete = register(client)
    plan = create(client, athlete)
    assert plan["protocol"] == "silbernagel-pain-monitored" and plan["status"] == "active"
    assert all(s["id"] and s["workouts"] == [] for w in plan["weeks"] for s in w["sessions"])
    assert uuid.UUID(plan["id"]).version == 7  # time-ordered, as records' ids
    # A session's id is its calendar UID, and sessions are made again when a logged workout
    # completes a week: random, so the feed does not tell when the athlete logged.
    assert {uuid.UUID(s["id"]).version for w in plan["weeks"] for s in w["sessions"]} == {4}
    gym = client.post(
        "/v1/athletes/me/plans",
        headers=athlete.headers,
        json={"kind": "achilles", "profile_overrides": {"equipment": MACHINES}},
    )
    assert gym.json()["protocol"] == "heavy-slow-resistance"
    bad = client.post(
        "/v1/athletes/me/plans",
        headers=athlete.headers,
        json={"kind": "achilles", "profile_overrides": {"achilles_pain": 12}},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["name"] == "profile_overrides.achilles_pain"
    listed = client.get("/v1/athletes/me/plans", headers=athlete.headers).json()["items"]
    assert [p["id"] for p in listed] == [gym.json()["id"], plan["id"]]
    summary = ("kind", "protocol", "status", "start_date", "created_at")
    assert [(p["weeks"], *(p[k] for k in summary)) for p in listed] == [
        (len(shown["weeks"]), *(shown[k] for k in summary)) for shown in (gym.json(), plan)
    ]
    second = client.get("/v1/athletes/me/plans?limit=1&offset=1", headers=athlete.headers)
    assert second.json()["total"] == 2 and [p["id"] for p in second.json()["items"]] == [plan["id"]]
    assert 'rel="prev"' in second.headers["link"] and 'rel="next"' not in second.headers["link"]
    assert client.get(f"/v1/athletes/me/plans/{plan['id']}", headers=athlete.headers).json()["id"] == plan["id"]
    archived = client.post(f"/v1/athletes/me/plans/{plan['id']}/archive", headers=athlete.headers).json()
    assert archived["status"] == "archived"
    assert [
        p["id"] for p in client.get("/v1/athletes/me/plans?status=active", headers=athlete.headers).json()["items"]
    ] == [gym.json()["id"]]


def done_as_planned(s: dict[str, Any], pain: int) -> dict[str, Any]:
    """A workout doing every set of planned session ``s``, linked to it."""
    sets = [
        {"position": n + 1, "exercise": i["exercise"], "reps": 10, "completed": True}
        for n, i in enumerate(i for i in s["items"] for _ in range(i["sets"]))
    ]
    return {
        "started_at": f"{s['day']}T07:00:00Z",
        "duration_minutes": 20,
        "pain_during": pain,
        "planned_session_id": s["id"],
        "sets": sets,
    }


def log_week(client: TestClient, athlete: Athlete, week: dict[str, Any], pain: int) -> None:
    for s in week["sessions"]:
        if s["kind"] in ("tendon", "strength"):
            body = done_as_planned(s, pain)
            assert client.post("/v1/athletes/me/workouts", json=body, headers=athlete.headers).status_code == 201


def test_adaptation_from_logs_and_automatically_when_a_week_completes(client: TestClient) -> None:
    athlete = register(client)
    plan = create(client, athlete)
    url = f"/v1/athletes/me/plans/{plan['id']}"
    week1 = plan["weeks"][0]
    log_week(client, athlete, week1, pain=2)  # every session logged: the week adapts by itself
    after = client.get(url, headers=athlete.headers).json()
    assert [(a["week"], a["decision"]) for a in after["adaptations"]] == [(1, "progress")]
    # The weeks laid out again keep random session ids (their calendar UIDs tell no log time).
    assert {uuid.UUID(s["id"]).version for w in after["weeks"] for s in w["sessions"]} == {4}
    assert all(s["workouts"] for s in after["weeks"][0]["sessions"] if s["kind"] == "tendon")
    assert after["adaptations"][0]["from_stage"] == after["adaptations"][0]["to_stage"] == "phase-3"
    # A painful week in a stage entered a week ago goes back a stage: the weeks after it are laid out again.
    log_week(client, athlete, after["weeks"][1], pain=7)
    after = client.get(url, headers=athlete.headers).json()
    last = after["adaptations"][-1]
    assert (last["decision"], last["rule"], last["criterion"]) == (
        "regress",
        "pain-during-above-5",
        "pain-during-above-5",
    )
    assert (last["from_stage"], last["to_stage"]) == ("phase-3", "phase-2")
    assert {"criterion": "pain-during-above-5", "value": 7, "met": True} in last["details"]["criteria"]
    assert after["weeks"][2]["stage_slug"] == "phase-2"
    assert [s["status"] for s in after["stages"]] == ["skipped", "current", "upcoming", "upcoming"]
    # Asking again for a judged week returns the first decision.
    again = client.post(f"{url}/adapt", headers=athlete.headers, json={"week": 2})
    assert again.status_code == 200 and again.json()["decision"] == "regress"
    # A week with nothing logged holds and says why.
    held = client.post(f"{url}/adapt", headers=athlete.headers, json={"week": 4})
    assert held.json()["decision"] == "hold" and held.json()["criterion"] == "no-data"
    assert "No sessions" in held.json()["reasons"][0]
    # Weeks are judged in order; logging a week already passed over is stored and changes nothing.
    late = client.post(f"{url}/adapt", headers=athlete.headers, json={"week": 3})
    assert late.status_code == 409
    week3 = client.get(url, headers=athlete.headers).json()["weeks"][2]
    log_week(client, athlete, week3, pain=1)
    assert [a["week"] for a in client.get(url, headers=athlete.headers).json()["adaptations"]] == [1, 2, 4]
    assert client.post(f"{url}/adapt", headers=athlete.headers, json={"week": 99}).status_code == 422


def test_linking_a_logged_workout_later_completes_the_week(client: TestClient) -> None:
    """The link may come with an edit (PATCH) of a workout logged without it: the week that
    edit completes adapts, as if the link had been there from the start."""
    athlete = register(client)
    plan = create(client, athlete)
    url = f"/v1/athletes/me/plans/{plan['id']}"
    week1 = plan["weeks"][0]
    *first, last = [s for s in week1["sessions"] if s["kind"] in ("tendon", "strength")]
    log_week(client, athlete, {**week1, "sessions": first}, pain=2)
    body = {**done_as_planned(last, pain=2), "planned_session_id": None}
    logged = client.post("/v1/athletes/me/workouts", json=body, headers=athlete.headers)
    assert client.get(url, headers=athlete.headers).json()["adaptations"] == []
    linked = client.patch(
        f"/v1/athletes/me/workouts/{logged.json()['id']}",
        json={"planned_session_id": last["id"]},
        headers={**athlete.headers, "If-Match": logged.headers["ETag"]},
    )
    assert linked.status_code == 200
    assert [(a["week"], a["decision"]) for a in client.get(url, headers=athlete.headers).json()["adaptations"]] == [
        (1, "progress")
    ]


def test_workouts_link_only_to_the_athletes_own_sessions(client: TestClient) -> None:
    athlete, other = register(client), register(client)
    plan = create(client, athlete)
    session_id = plan["weeks"][0]["sessions"][0]["id"]
    body = {
        "started_at": "2026-10-05T07:00:00Z",
        "duration_minutes": 20,
        "planned_session_id": session_id,
        "sets": [{"position": 1, "exercise": "plank", "hold_seconds": 30}],
    }
    refused = client.post("/v1/athletes/me/workouts", json=body, headers=other.headers)
    assert refused.status_code == 422 and refused.json()["errors"][0]["name"] == "planned_session_id"


def test_icalendar_feed(client: TestClient) -> None:
    athlete = register(client)
    plan = create(client, athlete)
    feed = client.get(f"/v1/athletes/me/plans/{plan['id']}.ics", headers=athlete.headers)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    events = [c for c in Calendar.from_ical(feed.content).walk() if c.name == "VEVENT"]
    sessions = [s for w in plan["weeks"] for s in w["sessions"]]
    assert len(events) == len(sessions)
    first = min(events, key=lambda e: e.decoded("dtstart"))
    assert first.decoded("dtstart") == dt.date(2026, 10, 5)
    assert "week 1" in str(first.get("summary")) and str(first.get("description"))


def test_plans_of_an_erased_account_go_with_it(client: TestClient) -> None:
    athlete = register(client)
    plan = create(client, athlete)
    assert client.delete("/v1/me", headers=athlete.headers).status_code == 204
    other = register(client)
    assert client.get(f"/v1/athletes/{athlete.id}/plans/{plan['id']}", headers=other.headers).status_code == 404


def test_a_retry_of_a_plan_is_replayed_whatever_the_order_of_its_overrides(client: TestClient) -> None:
    athlete = register(client)
    key = {**athlete.headers, "Idempotency-Key": "plan-with-overrides"}
    overrides = {"phase-2-tolerated": 2, "heel-raise-symmetry-90": 85}
    first = create(client, athlete, options={"criteria_overrides": overrides})
    made = client.post(
        "/v1/athletes/me/plans",
        headers=key,
        json={"kind": "achilles", "start_date": "2026-10-05", "options": {"criteria_overrides": overrides}},
    )
    again = client.post(
        "/v1/athletes/me/plans",
        headers=key,
        json={
            "kind": "achilles",
            "start_date": "2026-10-05",
            "options": {"criteria_overrides": dict(reversed(overrides.items()))},
        },
    )
    assert made.status_code == again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == made.json() and made.json()["id"] != first["id"]
    plans = client.get("/v1/athletes/me/plans", headers=athlete.headers)
    assert plans.status_code == 200 and len(plans.json()["items"]) == 2


def test_an_override_that_is_not_a_finite_number_is_refused_and_nothing_is_stored(client: TestClient) -> None:
    athlete = register(client)
    create(client, athlete)
    for value in ("Infinity", "-Infinity", "NaN"):
        body = '{"kind": "achilles", "options": {"criteria_overrides": {"heel-raise-symmetry-90": VALUE}}}'
        body = body.replace("VALUE", value)
        refused = client.post(
            "/v1/athletes/me/plans",
            headers={**athlete.headers, "Content-Type": "application/json"},
            content=body,
        )
        assert refused.status_code == 422, refused.text[:300]
        assert refused.json()["errors"][0]["name"].endswith("heel-raise-symmetry-90")
    plans = client.get("/v1/athletes/me/plans", headers=athlete.headers)
    assert plans.status_code == 200 and len(plans.json()["items"]) == 1
