"""What a client reads it can write back: a GET body sent back unchanged with PUT (PATCH
for the profile) is accepted and changes nothing; an edited one changes what was edited."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Athlete, register

BASE = "/v1/athletes/me"
RECORDS: dict[str, dict[str, Any]] = {
    "workouts": {
        "started_at": "2026-11-20T18:30:00+01:00",
        "duration_minutes": 45,
        "session_rpe": 6,
        "sets": [
            {"position": 1, "exercise": "eccentric-heel-raise", "side": "left", "reps": 12, "load_kg": 10},
            {"position": 2, "exercise": "plank", "hold_seconds": 45},
        ],
    },
    "runs": {"started_at": "2026-11-01T07:00:00+01:00", "distance_km": 8.0, "duration_s": 2700, "session_rpe": 5},
    "checkins": {"date": "2026-11-01", "sites": [{"site": "left-achilles", "pain": 2, "morning_stiffness": 1}]},
    "tests": {
        "date": "2026-11-01",
        "test": "heel-raise",
        "measure": "reps",
        "left": 18,
        "right": 27,
        "affected_side": "left",
    },
}
EDITS: dict[str, tuple[str, Any]] = {
    "workouts": ("session_rpe", 7.0),
    "runs": ("notes", "windy"),
    "checkins": ("visa_a", 80),
    "tests": ("pain", 3),
}


@pytest.fixture
def athlete(client: TestClient) -> Athlete:
    return register(client)


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_a_get_body_put_back_unchanged_changes_nothing(client: TestClient, athlete: Athlete, kind: str) -> None:
    created = client.post(f"{BASE}/{kind}", json=RECORDS[kind], headers=athlete.headers)
    assert created.status_code == 201, created.text
    url = f"{BASE}/{kind}/{created.json()['id']}"
    read = client.get(url, headers=athlete.headers)
    again = client.put(url, json=read.json(), headers=athlete.headers)  # no If-Match: nothing changes
    assert again.status_code == 200, again.text
    assert again.json() == read.json() and again.headers["etag"] == '"1"'

    field, value = EDITS[kind]
    edited = {**read.json(), field: value}
    changed = client.put(url, json=edited, headers={**athlete.headers, "If-Match": read.headers["etag"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()[field] == value and changed.json()["version"] == 2
    # Read-only fields sent back are ignored, not stored: the id, version and derived figures stay the server's.
    forged = {**changed.json(), "version": 99, "athlete_id": "00000000-0000-0000-0000-000000000000"}
    assert client.put(url, json=forged, headers=athlete.headers).json()["version"] == 2


def test_a_set_takes_its_exercise_as_a_get_answers_it(client: TestClient, athlete: Athlete) -> None:
    body = {**RECORDS["workouts"], "sets": [{"position": 1, "exercise": {"slug": "plank", "name": "Plank"}, "reps": 1}]}
    created = client.post(f"{BASE}/workouts", json=body, headers=athlete.headers)
    assert created.status_code == 201, created.text
    assert created.json()["sets"][0]["exercise"]["slug"] == "plank"
    unknown = {**body, "sets": [{"position": 1, "exercise": {"slug": "plank", "colour": "red"}, "reps": 1}]}
    assert client.post(f"{BASE}/workouts", json=unknown, headers=athlete.headers).status_code == 422


def test_a_profile_get_body_patched_back_changes_nothing(client: TestClient, athlete: Athlete) -> None:
    url = f"{BASE}/profile"
    set_up = client.patch(url, json={"race_date": "2027-04-18", "equipment": ["step"]}, headers=athlete.headers)
    assert set_up.status_code == 200, set_up.text
    read = client.get(url, headers=athlete.headers).json()
    assert read["race_date"] == read["goal_race_date"] == "2027-04-18"  # the old name is still answered
    back = client.patch(url, json=read, headers=athlete.headers)
    assert back.status_code == 200, back.text
    assert {k: v for k, v in back.json().items() if k != "updated_at"} == {
        k: v for k, v in read.items() if k != "updated_at"
    }


def test_the_old_name_of_the_race_date_still_works(client: TestClient, athlete: Athlete) -> None:
    url = f"{BASE}/profile"
    old = client.patch(url, json={"goal_race_date": "2027-05-02"}, headers=athlete.headers)
    assert old.status_code == 200 and old.json()["race_date"] == "2027-05-02"
    both = client.patch(url, json={"goal_race_date": "2027-05-02", "race_date": "2027-06-01"}, headers=athlete.headers)
    assert both.status_code == 422
    cleared = client.patch(url, json={"race_date": None}, headers=athlete.headers)
    assert cleared.json()["race_date"] is None and cleared.json()["goal_race_date"] is None
