"""Load and progress analytics through the API, against hand-worked numbers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.analytics.conftest import BASE, WEEKS, post
from tests.conftest import Athlete, register


def test_weekly_load(client: TestClient, athlete: Athlete) -> None:
    report = client.get(f"{BASE}/load?{WEEKS}", headers=athlete.headers).json()
    weeks = report["weeks"]
    assert [w["week_start"] for w in weeks] == ["2026-10-05", "2026-10-12", "2026-10-19"]
    assert [w["running_km"] for w in weeks] == [20, 24, 25]
    assert [w["distance_change_pct"] for w in weeks] == [None, 20.0, 4.2]
    assert [w["distance_warning"] for w in weeks] == [False, True, False]
    # Week 1: two runs of 4 x 50 = 200 and a workout of 6 x 40 = 240: 640.
    assert weeks[0]["load"] == 640 and weeks[0]["runs"] == 2 and weeks[0]["workouts"] == 1
    assert weeks[0]["strength_sets"]["quadriceps"] == 2 and "calves" not in weeks[0]["strength_sets"]
    assert weeks[0]["monotony"] is not None and weeks[0]["strain"] == pytest.approx(
        640 * weeks[0]["monotony"], rel=1e-3
    )
    # Week 1 end: acute 640 over a chronic of 640 / 4 would read 4.0, but there are only 7 days of
    # history: the ratio stays null with its reason until 28 days exist.
    assert weeks[0]["acwr"] is None and weeks[0]["acwr_flag"] is None and weeks[0]["acwr_band"] is None
    assert weeks[0]["acwr_note"] == "Needs 28 days of history; 6 so far."  # first log on Tuesday 6 October
    assert any("criticised" in n for n in report["notes"]) and any("guideline" in n for n in report["notes"])
    looser = client.get(f"{BASE}/load?{WEEKS}&threshold=25", headers=athlete.headers).json()
    assert not any(w["distance_warning"] for w in looser["weeks"])


def test_progress_estimates_pain_trend_and_adherence(client: TestClient, athlete: Athlete) -> None:
    report = client.get(f"{BASE}/progress?exercise=squat&from=2026-10-01&to=2026-10-31", headers=athlete.headers).json()
    first, second = report["sessions"]
    # 40 kg x 8: Epley 40 x (1 + 8/30) = 50.67; Brzycki 40 x 36/29 = 49.66. The 12-rep set does not count.
    assert first["e1rm_epley"] == 50.7 and first["e1rm_brzycki"] == 49.7 and first["best_set"] == "40 kg x 8"
    assert first["sets"] == 2 and first["volume_kg"] == 8 * 40 + 12 * 30
    # 50 kg x 5: Epley 58.33, Brzycki 56.25.
    assert second["e1rm_epley"] == 58.3 and second["e1rm_brzycki"] == 56.2
    pain = report["pain"]["left-achilles"]
    assert [(p["mean_pain"], p["rising"]) for p in pain] == [(2, False), (3, True), (1, False)]
    assert report["adherence"] == {"planned": 0, "completed": 0, "rate": None}


def test_adherence_counts_linked_workouts(client: TestClient) -> None:
    athlete = register(client)
    plan = client.post(
        f"{BASE}/plans", headers=athlete.headers, json={"kind": "resilience", "start_date": "2026-09-07"}
    ).json()
    first = plan["weeks"][0]["sessions"][0]
    post(
        client,
        athlete,
        "workouts",
        {
            "started_at": f"{first['day']}T07:00:00Z",
            "duration_minutes": 30,
            "planned_session_id": first["id"],
            "sets": [{"position": 1, "exercise": "plank", "hold_seconds": 30}],
        },
    )
    adherence = client.get(f"{BASE}/progress", headers=athlete.headers).json()["adherence"]
    assert adherence["completed"] == 1 and adherence["planned"] >= 10
    assert adherence["rate"] == pytest.approx(1 / adherence["planned"], abs=1e-3)


def test_empty_history_and_bad_ranges(client: TestClient) -> None:
    athlete = register(client)
    report = client.get(f"{BASE}/load?{WEEKS}", headers=athlete.headers).json()
    assert all(w["load"] == 0 and w["acwr"] is None and w["monotony"] is None for w in report["weeks"])
    assert client.get(f"{BASE}/load?from=2026-10-10&to=2026-10-01", headers=athlete.headers).status_code == 422
    assert client.get(f"{BASE}/load?from=2020-01-01&to=2026-10-01", headers=athlete.headers).status_code == 422
    assert client.get(f"{BASE}/progress?exercise=moon-walk", headers=athlete.headers).status_code == 404


def test_charts_are_svg(client: TestClient, athlete: Athlete) -> None:
    for path in (f"{BASE}/load.svg?{WEEKS}", f"{BASE}/progress.svg?exercise=squat&from=2026-10-01&to=2026-10-31"):
        chart = client.get(path, headers=athlete.headers)
        assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
        assert b"<svg" in chart.content[:500] and len(chart.content) > 5_000


@pytest.mark.parametrize("path", ["load", "progress", "load.svg", "workouts", "runs", "checkins"])
@pytest.mark.parametrize("day", ["0", "1700000000", "-1.5"])
def test_a_number_is_not_a_day(client: TestClient, path: str, day: str) -> None:
    """Dates are ISO 8601 days, as the schema says; a number is refused, not read as a Unix time."""
    athlete = register(client)
    for name in ("from", "to"):
        response = client.get(f"/v1/athletes/me/{path}?{name}={day}", headers=athlete.headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(f"/v1/athletes/me/{path}?from=2026-10-05", headers=athlete.headers).status_code == 200
