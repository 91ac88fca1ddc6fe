"""An athlete with three weeks of runs, workouts and check-ins, for the analytics tests."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Athlete, register

BASE = "/v1/athletes/me"
WEEKS = "from=2026-10-05&to=2026-10-25"  # three Monday-Sunday weeks


def post(client: TestClient, athlete: Athlete, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{BASE}/{kind}", json=body, headers=athlete.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def run(day: str, km: float, minutes: int, rpe: float | None = 4) -> dict[str, Any]:
    return {"started_at": f"{day}T07:00:00Z", "distance_km": km, "duration_s": minutes * 60, "session_rpe": rpe}


@pytest.fixture
def athlete(client: TestClient) -> Athlete:
    athlete = register(client)
    # Week 1 (Oct 5-11): 20 km; week 2: 24 km (+20%); week 3: 25 km (+4.2%).
    for day, km in (
        ("2026-10-06", 10),
        ("2026-10-08", 10),
        ("2026-10-13", 12),
        ("2026-10-15", 12),
        ("2026-10-20", 12),
        ("2026-10-22", 13),
    ):
        post(client, athlete, "runs", run(day, km, 50))
    sets = [
        {"position": 1, "exercise": "squat", "reps": 8, "load_kg": 40},  # quadriceps + gluteals
        {"position": 2, "exercise": "squat", "reps": 12, "load_kg": 30},  # more than 10 reps: no 1RM estimate
        {"position": 3, "exercise": "eccentric-heel-raise", "reps": 12, "completed": False},  # not counted
    ]
    post(
        client,
        athlete,
        "workouts",
        {"started_at": "2026-10-07T18:00:00Z", "duration_minutes": 40, "session_rpe": 6, "sets": sets},
    )
    post(
        client,
        athlete,
        "workouts",
        {
            "started_at": "2026-10-21T18:00:00Z",
            "duration_minutes": 40,
            "session_rpe": 6,
            "sets": [{"position": 1, "exercise": "squat", "reps": 5, "load_kg": 50}],
        },
    )
    for day, pain in (("2026-10-06", 2), ("2026-10-08", 2), ("2026-10-13", 3), ("2026-10-20", 1)):
        post(
            client,
            athlete,
            "checkins",
            {"date": day, "sites": [{"site": "left-achilles", "pain": pain, "morning_stiffness": 2}]},
        )
    return athlete
