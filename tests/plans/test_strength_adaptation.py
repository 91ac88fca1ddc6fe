"""Strength plans that know the running, through the API on both databases: the running week
read from the profile and the logged runs, and adaptation that holds strength progression
in a week of a running spike, saying so with the rule and the numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient

from app.plans.engine.adapt_strength import RunningLoad, decide_strength
from app.plans.engine.week_rules import Verdict
from tests.conftest import Athlete, register
from tests.plans.test_api import log_week

BASE = "/v1/athletes/me"
START = dt.date(2026, 9, 7)  # a Monday


def post(client: TestClient, athlete: Athlete, kind: str, body: dict[str, Any]) -> None:
    response = client.post(f"{BASE}/{kind}", json=body, headers=athlete.headers)
    assert response.status_code == 201, response.text


def log_runs(client: TestClient, athlete: Athlete, monday: dt.date, long_km: float) -> None:
    """Intervals on Tuesday, an easy run on Thursday, the long run on Sunday."""
    for offset, km, minutes, rpe, kind in (
        (1, 5.0, 25, 7, "intervals"),
        (3, 5.0, 30, 3, "easy"),
        (6, long_km, int(long_km * 6), 4, "long"),
    ):
        day = monday + dt.timedelta(days=offset)
        body = {
            "started_at": f"{day}T18:00:00Z",
            "distance_km": km,
            "duration_s": minutes * 60,
            "session_rpe": rpe,
            "type": kind,
        }
        post(client, athlete, "runs", body)


def test_a_running_spike_holds_strength_progression_for_a_week(client: TestClient) -> None:
    athlete = register(client)
    profile = {
        "experience": "intermediate",
        "equipment": ["barbell", "bench"],
        "running_days": ["sunday", "tuesday", "thursday", "tuesday"],
        "long_run_day": "sunday",
    }
    stored = client.patch(f"{BASE}/profile", headers=athlete.headers, json=profile)
    assert stored.status_code == 200, stored.text
    assert stored.json()["running_days"] == ["tuesday", "thursday", "sunday"]
    assert stored.json()["long_run_day"] == "sunday"
    made = client.post(
        f"{BASE}/plans", headers=athlete.headers, json={"kind": "resilience", "start_date": START.isoformat()}
    )
    assert made.status_code == 201, made.text
    plan = made.json()
    url = f"{BASE}/plans/{plan['id']}"
    # Never heavy the day before the Sunday long run; Wednesday and Friday follow easy days.
    assert {s["weekday"] for w in plan["weeks"] for s in w["sessions"]} == {"Wednesday", "Friday"}

    # Eight weeks of runs: 20 km a week, then the long run doubles in week 5 (20 -> 30 km, +50%).
    for number in range(1, 9):
        monday = START + dt.timedelta(weeks=number - 1)
        log_runs(client, athlete, monday, long_km=20.0 if number >= 5 else 10.0)
        week = client.get(url, headers=athlete.headers).json()["weeks"][number - 1]
        log_week(client, athlete, week, pain=1)  # completing the week adapts the next one by itself

    after = client.get(url, headers=athlete.headers).json()
    decisions = {a["week"]: (a["decision"], a["rule"]) for a in after["adaptations"]}
    assert decisions[4] == ("progress", "completed-within-pain-rules")
    assert decisions[5] == ("hold", "running-load-spike")
    assert decisions[6] == ("progress", "completed-within-pain-rules")  # 30 km again: no change, no spike
    reasons = next(a["reasons"] for a in after["adaptations"] if a["week"] == 5)
    assert reasons[0] == "Running distance rose 50% week over week (20 km to 30 km), above the 10% threshold."
    # The week after the spike repeats the spike week's doses; the others go on as planned.
    assert after["weeks"][5]["stage"] == "basic-strength (held)"
    assert after["weeks"][5]["sessions"][0]["items"] == after["weeks"][4]["sessions"][0]["items"]
    assert not any("(held)" in w["stage"] for n, w in enumerate(after["weeks"]) if n != 5)
    # The load report shows the same numbers the plan used.
    load = client.get(f"{BASE}/load?from=2026-10-05&to=2026-10-11", headers=athlete.headers).json()["weeks"][0]
    assert (load["previous_running_km"], load["running_km"], load["distance_change_pct"]) == (20, 30, 50)
    assert load["distance_warning"] and load["warnings"][0].startswith("Running distance rose 50%")


def test_a_plan_reads_the_running_week_from_the_logged_runs(client: TestClient) -> None:
    athlete = register(client)
    client.patch(f"{BASE}/profile", headers=athlete.headers, json={"equipment": ["barbell", "bench"]})
    for number in range(4):
        log_runs(client, athlete, START + dt.timedelta(weeks=number), long_km=14.0)
    start = START + dt.timedelta(weeks=4)
    plan = client.post(
        f"{BASE}/plans", headers=athlete.headers, json={"kind": "resilience", "start_date": start.isoformat()}
    ).json()
    assert plan["weeks"][0]["starts_on"] == start.isoformat()
    sessions = [s for w in plan["weeks"] for s in w["sessions"]]
    # Tuesday (intervals) is the hard day, Sunday the long run: strength on the hard day itself and
    # never heavy on Monday or Saturday, the days before them.
    assert {s["weekday"] for s in sessions} == {"Tuesday", "Friday"}
    assert not any(s["heavy"] for s in sessions if s["weekday"] in ("Monday", "Saturday"))
    assert any("around your running" in n for n in plan["notes"])
    # An explicit override wins over the logs.
    overridden = client.post(
        f"{BASE}/plans",
        headers=athlete.headers,
        json={"kind": "resilience", "start_date": start.isoformat(), "profile_overrides": {"hard_run_days": []}},
    ).json()
    assert {s["weekday"] for w in overridden["weeks"] for s in w["sessions"]} != {"Tuesday", "Friday"}


def test_bad_running_days_are_named(client: TestClient) -> None:
    athlete = register(client)
    bad = client.patch(f"{BASE}/profile", headers=athlete.headers, json={"long_run_day": "someday"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["name"] == "long_run_day"
    cleared = client.patch(f"{BASE}/profile", headers=athlete.headers, json={"running_days": None})
    assert cleared.status_code == 200 and cleared.json()["running_days"] == []


def test_the_strength_verdict() -> None:
    done = Verdict("progress", "completed-within-pain-rules", ["All done."])
    steady = RunningLoad(km=30, previous_km=29, distance_change_pct=3.4, acwr=1.1)
    assert decide_strength(done, steady) == done
    ratio = decide_strength(done, RunningLoad(km=30, previous_km=29, distance_change_pct=3.4, acwr=1.6))
    assert ratio.decision == "hold" and ratio.rule == "running-load-spike"
    assert ratio.reasons[0].startswith("Acute:chronic workload ratio 1.6, at or above 1.5")
    # The threshold is a setting; pain always comes first.
    loose = RunningLoad(km=36, previous_km=30, distance_change_pct=20, acwr=None, threshold_pct=25)
    assert decide_strength(done, loose) == done
    painful = Verdict("regress", "pain-during-above-5", ["Pain 7/10."])
    assert decide_strength(painful, RunningLoad(km=40, previous_km=20, distance_change_pct=100, acwr=2)) == painful


def test_a_strength_week_is_judged_by_itself_only_once_it_has_ended(client: TestClient) -> None:
    athlete = register(client)
    today = dt.datetime.now(dt.UTC).date()
    start = today - dt.timedelta(days=6)  # week 1 ends at the end of today
    plan = client.post(
        f"{BASE}/plans", headers=athlete.headers, json={"kind": "resilience", "start_date": start.isoformat()}
    ).json()
    log_week(client, athlete, plan["weeks"][0], pain=1)
    url = f"{BASE}/plans/{plan['id']}"
    assert client.get(url, headers=athlete.headers).json()["adaptations"] == []  # the long run may still come
    judged = client.post(f"{url}/adapt", headers=athlete.headers, json={"week": 1})
    assert judged.status_code == 200 and judged.json()["decision"] == "progress"
