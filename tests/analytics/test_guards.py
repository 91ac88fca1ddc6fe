"""Load report edge cases, through the API on both databases: the acute:chronic ratio needs 28
days of history, the >= 1.5 band is reported as information, sessions without RPE are flagged
rather than counted as zero, and a return from a week without running draws a warning."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.analytics import metrics as m
from tests.analytics.conftest import BASE, post, run
from tests.conftest import register


def test_bands_by_hand() -> None:
    assert [m.acwr_band(x) for x in (None, 0.5, 0.8, 1.3, 1.4, 1.5, 4.0)] == [
        None,
        "low",
        "sweet-spot",
        "sweet-spot",
        "high",
        "danger",
        "danger",
    ]


def test_the_ratio_waits_for_28_days_then_reports_the_danger_band(client: TestClient) -> None:
    athlete = register(client)
    # Four weeks of 3 x 40 min at RPE 4 (480 a week), then a week of 3 x 100 min at RPE 6 (1800).
    for week in range(4):
        for day in (5, 7, 9):
            post(client, athlete, "runs", run(f"2026-10-{day + 7 * week:02d}", 8, 40))
    for spike_day in ("2026-11-02", "2026-11-04", "2026-11-06"):
        post(client, athlete, "runs", run(spike_day, 16, 100, rpe=6))
    weeks = client.get(f"{BASE}/load?from=2026-10-05&to=2026-11-08", headers=athlete.headers).json()["weeks"]
    # First log Monday 5 October: 7, 14, 21 days of history at the ends of weeks 1-3; 28 at week 4's end.
    assert [w["acwr"] for w in weeks[:3]] == [None, None, None]
    assert [w["acwr_note"] for w in weeks[:3]] == [f"Needs 28 days of history; {n} so far." for n in (7, 14, 21)]
    assert weeks[3]["acwr"] == 1.0 and weeks[3]["acwr_band"] == "sweet-spot" and weeks[3]["acwr_note"] is None
    # Week 5: acute 1800 over a chronic of (3 x 480 + 1800) / 4 = 810 -> 2.222.
    spike = weeks[4]
    assert spike["acwr"] == 2.222 and spike["acwr_band"] == "danger" and spike["acwr_flag"] == "high"
    assert any("'danger' band" in w and "Impellizzeri 2020" in w for w in spike["warnings"])
    report = client.get(f"{BASE}/load?from=2026-10-05&to=2026-11-08", headers=athlete.headers).json()
    assert any("28 days" in n and "danger" in n for n in report["notes"])


def test_sessions_without_rpe_are_flagged_not_counted_as_zero(client: TestClient) -> None:
    athlete = register(client)
    post(client, athlete, "runs", run("2026-10-06", 10, 50))
    post(client, athlete, "runs", run("2026-10-08", 10, 50, rpe=None))
    post(client, athlete, "workouts", {"started_at": "2026-10-07T18:00:00Z", "duration_minutes": 30, "sets": []})
    week = client.get(f"{BASE}/load?from=2026-10-05&to=2026-10-11", headers=athlete.headers).json()["weeks"][0]
    assert week["load"] == 200 and week["sessions_without_rpe"] == 2
    assert any(w.startswith("2 session(s) without a session RPE") for w in week["warnings"])
    rated = client.get(f"{BASE}/load?from=2026-10-12&to=2026-10-18", headers=athlete.headers).json()["weeks"][0]
    assert rated["sessions_without_rpe"] == 0 and rated["warnings"] == []


def test_a_return_from_zero_draws_a_warning_but_a_first_week_does_not(client: TestClient) -> None:
    athlete = register(client)
    post(client, athlete, "runs", run("2026-10-06", 10, 50))
    post(client, athlete, "runs", run("2026-10-20", 12, 60))  # nothing in the week of 12 October
    weeks = client.get(f"{BASE}/load?from=2026-10-05&to=2026-10-25", headers=athlete.headers).json()["weeks"]
    first, empty, back = weeks
    assert not first["return_from_zero"] and first["previous_running_km"] == 0 and first["warnings"] == []
    assert empty["distance_change_pct"] == -100 and not empty["return_from_zero"]
    assert back["return_from_zero"] and back["distance_change_pct"] is None and back["previous_running_km"] == 0
    assert any(w.startswith("Running again after a week without it (12 km)") for w in back["warnings"])
