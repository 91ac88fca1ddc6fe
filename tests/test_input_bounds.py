"""Values that pass a field's own check but break what is derived from them (pace, day
ranges, plan calendars) are refused with a 422 naming the field, before anything is
stored; dates and instants are ISO 8601 within one shared range, in bodies and queries."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Athlete, register
from tests.training.test_imports import build_fit, run_session

BASE = "/v1/athletes/me"


@pytest.fixture
def athlete(client: TestClient) -> Athlete:
    return register(client)


def run(**changes: Any) -> dict[str, Any]:
    return {"started_at": "2026-11-01T07:00:00Z", "distance_km": 10.0, "duration_s": 3000, **changes}


def workout(**changes: Any) -> dict[str, Any]:
    return {
        "started_at": "2026-11-01T18:00:00Z",
        "duration_minutes": 40,
        "sets": [{"position": 1, "exercise": "squat", "reps": 5, "load_kg": 40.0}],
        **changes,
    }


def checkin(**changes: Any) -> dict[str, Any]:
    return {"date": "2026-11-01", "sites": [{"site": "left-achilles", "pain": 2, "morning_stiffness": 1}], **changes}


def named(response: httpx.Response, name: str) -> bool:
    errors: list[dict[str, str]] = response.json().get("errors", [])
    return response.status_code == 422 and any(e["name"] == name for e in errors)


def nothing_stored(client: TestClient, athlete: Athlete) -> bool:
    changes: list[object] = client.get(f"{BASE}/changes", headers=athlete.headers).json()["changes"]
    return changes == []


# ---------------------------------------------------------------- derived values


@pytest.mark.parametrize("distance", [1e-320, 1e-300, 0.0001])
def test_a_run_too_short_for_a_pace_is_refused_on_every_write_path(
    client: TestClient, athlete: Athlete, distance: float
) -> None:
    key = {**athlete.headers, "Idempotency-Key": f"tiny-{distance}"}
    for _ in range(2):  # a retry with the same key is refused again, not replayed as a 500
        created = client.post(f"{BASE}/runs", json=run(distance_km=distance), headers=key)
        assert named(created, "distance_km"), created.text
    put = client.put(f"{BASE}/runs/{uuid.uuid4()}", json=run(distance_km=distance), headers=athlete.headers)
    assert named(put, "distance_km"), put.text
    assert nothing_stored(client, athlete)
    # The key was given back: the corrected request runs.
    fixed = client.post(f"{BASE}/runs", json=run(), headers=key)
    assert fixed.status_code == 201 and fixed.json()["pace_s_per_km"] == 300.0
    rid = fixed.json()["id"]
    patched = client.patch(
        f"{BASE}/runs/{rid}", json={"distance_km": distance}, headers={**athlete.headers, "If-Match": '"1"'}
    )
    assert named(patched, "distance_km"), patched.text
    assert client.get(f"{BASE}/runs/{rid}", headers=athlete.headers).json()["distance_km"] == 10.0


def test_the_shortest_and_longest_runs_allowed_have_a_finite_pace(client: TestClient, athlete: Athlete) -> None:
    shortest = client.post(f"{BASE}/runs", json=run(distance_km=0.01, duration_s=604800), headers=athlete.headers)
    assert shortest.status_code == 201 and shortest.json()["pace_s_per_km"] == 60480000.0
    longest = client.post(f"{BASE}/runs", json=run(distance_km=1000.0, duration_s=1), headers=athlete.headers)
    assert longest.status_code == 201 and longest.json()["pace_s_per_km"] == 0.0
    load = client.get(f"{BASE}/load?from=2026-10-26&to=2026-11-01", headers=athlete.headers)
    assert load.status_code == 200 and load.json()["weeks"][-1]["running_km"] == 1000.01


@pytest.mark.parametrize(
    ("path", "body", "name"),
    [
        ("runs", run(duration_s=7 * 24 * 3600 + 1), "duration_s"),
        ("runs", run(distance_km=1000.5), "distance_km"),
        ("runs", run(session_rpe=float("nan")), "session_rpe"),
        ("workouts", workout(duration_minutes=1441), "duration_minutes"),
        ("workouts", workout(sets=[{"position": 1, "exercise": "plank", "hold_seconds": 3601}]), "sets.0.hold_seconds"),
        (
            "workouts",
            workout(sets=[{"position": 1, "exercise": "squat", "reps": 5, "load_kg": 1e308}]),
            "sets.0.load_kg",
        ),
        ("checkins", checkin(visa_a=101), "visa_a"),
    ],
)
def test_numbers_that_would_break_derived_values_are_refused(
    client: TestClient, athlete: Athlete, path: str, body: dict[str, Any], name: str
) -> None:
    # NaN is not JSON: send the body as Python's json writes it, as a careless client might.
    response = client.post(
        f"{BASE}/{path}", content=json.dumps(body), headers={**athlete.headers, "Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    if response.status_code == 422:
        assert named(response, name), response.text
    assert nothing_stored(client, athlete)


def test_one_rep_max_estimates_of_tiny_and_heavy_loads_are_finite(client: TestClient, athlete: Athlete) -> None:
    sets = [
        {"position": 1, "exercise": "squat", "reps": 1, "load_kg": 0.001},
        {"position": 2, "exercise": "squat", "reps": 10, "load_kg": 1000.0},
    ]
    assert client.post(f"{BASE}/workouts", json=workout(sets=sets), headers=athlete.headers).status_code == 201
    progress = client.get(f"{BASE}/progress?exercise=squat&from=2026-10-01&to=2026-11-30", headers=athlete.headers)
    assert progress.status_code == 200, progress.text
    session = progress.json()["sessions"][0]
    assert session["e1rm_epley"] == 1333.3 and session["volume_kg"] == 10000.0


# ---------------------------------------------------------------- dates and instants


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("workouts?from=0001-01-01&to=9999-12-31", "from"),
        ("workouts?to=9999-12-31", "to"),
        ("runs?from=1899-12-31", "from"),
        ("checkins?to=2201-01-01", "to"),
        ("load?to=9999-12-31", "to"),
        ("load.svg?to=9999-12-31", "to"),
        ("load?from=0001-01-01", "from"),
        ("progress?from=9999-01-02&to=9999-12-31", "from"),
        ("progress.svg?from=9999-01-02&to=9999-12-31", "from"),
        ("workouts?from=1699920000", "from"),  # a Unix time is not an ISO 8601 date
    ],
)
def test_out_of_range_days_in_queries_are_a_422_naming_the_parameter(
    client: TestClient, athlete: Athlete, query: str, name: str
) -> None:
    response = client.get(f"{BASE}/{query}", headers=athlete.headers)
    assert named(response, name), response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("path", "body", "name"),
    [
        ("workouts", workout(started_at="1700000000"), "started_at"),
        ("workouts", workout(started_at=1700000000), "started_at"),
        ("runs", run(started_at="1700000000.5"), "started_at"),
        ("runs", run(started_at="0001-01-01T00:00:00+14:00"), "started_at"),
        ("runs", run(started_at="9999-12-31T23:59:59-14:00"), "started_at"),
        ("checkins", checkin(date="1699920000"), "date"),
        ("checkins", checkin(date="0001-01-01"), "date"),
    ],
)
def test_instants_and_days_in_bodies_are_iso_8601_in_range(
    client: TestClient, athlete: Athlete, path: str, body: dict[str, Any], name: str
) -> None:
    response = client.post(f"{BASE}/{path}", json=body, headers=athlete.headers)
    assert named(response, name), response.text
    put = client.put(f"{BASE}/{path}/{uuid.uuid4()}", json=body, headers=athlete.headers)
    assert named(put, name), put.text
    assert nothing_stored(client, athlete)


def test_a_forged_cursor_is_a_422(client: TestClient, athlete: Athlete) -> None:
    for value in ("2026-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "1700000000"):
        raw = json.dumps([value, str(uuid.uuid4())]).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        response = client.get(f"{BASE}/workouts?cursor={cursor}", headers=athlete.headers)
        assert named(response, "cursor"), response.text


@pytest.mark.parametrize("since", [10**30, 2**63 - 1, 2**31])
def test_an_unbounded_change_number_is_a_422(client: TestClient, athlete: Athlete, since: int) -> None:
    """Past the column's range (PostgreSQL INTEGER), not only past Python's."""
    response = client.get(f"{BASE}/changes?since={since}", headers=athlete.headers)
    assert named(response, "since"), response.text
    assert client.get(f"{BASE}/changes?since={2**31 - 1}", headers=athlete.headers).status_code == 200


@pytest.mark.parametrize("start", ["9999-12-01", "0001-01-01", "2201-01-01"])
def test_plans_starting_out_of_range_are_a_422(client: TestClient, athlete: Athlete, start: str) -> None:
    preview = client.post("/v1/plans/preview", json={"kind": "resilience", "profile": {}, "start_date": start})
    assert named(preview, "start_date"), preview.text
    made = client.post(f"{BASE}/plans", json={"kind": "resilience", "start_date": start}, headers=athlete.headers)
    assert named(made, "start_date"), made.text
    race = client.post(
        "/v1/plans/preview", json={"kind": "resilience", "profile": {"race_date": start}, "start_date": "2026-11-02"}
    )
    assert named(race, "profile.race_date"), race.text
    assert client.get(f"{BASE}/plans", headers=athlete.headers).json()["total"] == 0


# ---------------------------------------------------------------- imported runs


def gpx(points: list[tuple[float, float, str]]) -> bytes:
    trkpts = "".join(f'<trkpt lat="{lat}" lon="{lon}"><time>{time}</time></trkpt>' for lat, lon, time in points)
    return (
        '<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="t" '
        f'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{trkpts}</trkseg></trk></gpx>'
    ).encode()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        pytest.param(
            "far.gpx", gpx([(0, 0, "2026-11-01T07:00:00Z"), (0, 10, "2026-11-01T09:00:00Z")]), id="gpx-1113km"
        ),
        pytest.param(
            "long.gpx",
            gpx([(52.5, 13.4, "2026-10-01T07:00:00Z"), (52.51, 13.4, "2026-10-09T07:00:00Z")]),
            id="gpx-8-days",
        ),
        pytest.param(
            "short.gpx",
            gpx([(52.5, 13.4, "2026-10-01T07:00:00Z"), (52.500001, 13.4, "2026-10-01T07:10:00Z")]),
            id="gpx-10cm",
        ),
        pytest.param(
            "year-1.gpx",
            gpx([(52.5, 13.4, "0001-01-01T00:00:00Z"), (52.51, 13.4, "0001-01-01T01:00:00Z")]),
            id="gpx-year-1",
        ),
        pytest.param(
            "year-9999.gpx",
            gpx([(52.5, 13.4, "9999-12-31T20:00:00Z"), (52.51, 13.4, "9999-12-31T21:00:00Z")]),
            id="gpx-year-9999",
        ),
        pytest.param("far.fit", build_fit(sessions=[run_session(total_distance=1_100_000.0)]), id="fit-1100km"),
        pytest.param(
            "long.fit", build_fit(sessions=[run_session(total_elapsed_time=8 * 24 * 3600.0)]), id="fit-8-days"
        ),
    ],
)
def test_imported_runs_out_of_range_are_a_422_naming_the_file(
    client: TestClient, athlete: Athlete, name: str, data: bytes
) -> None:
    for _ in range(2):
        response = client.post(
            f"{BASE}/runs/import",
            files={"file": (name, data, "application/octet-stream")},
            headers={**athlete.headers, "Idempotency-Key": f"import-{name}"},
        )
        assert named(response, "file"), response.text
    assert nothing_stored(client, athlete)


def test_a_plan_setting_is_a_number_not_true_or_false(client: TestClient) -> None:
    body = {"kind": "resilience", "profile": {}, "options": {"running_spike_pct": False}}
    response = client.post("/v1/plans/preview", json=body)
    assert named(response, "options.running_spike_pct"), response.text
    assert client.post("/v1/plans/preview", json={**body, "options": {"running_spike_pct": 15}}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (rb'{"kind":"achilles","profile":{"equipment":["\ud800"]}}', "profile.equipment"),
        (rb'{"kind":"achilles","profile":{"injury_history":["\udfff"]}}', "profile.injury_history"),
        (
            rb'{"kind":"achilles","profile":{},"options":{"criteria_overrides":{"\ud800":1}}}',
            "options.criteria_overrides",
        ),
    ],
)
def test_a_lone_surrogate_quoted_back_in_a_problem_is_a_422(client: TestClient, body: bytes, field: str) -> None:
    """A JSON body may escape half a surrogate pair, which UTF-8 cannot encode: a problem
    quoting it writes the same escape back instead of failing with a 500."""
    r = client.post("/v1/plans/preview", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = json.loads(r.content)
    assert [e["name"] for e in problem["errors"]] == [field]
    assert b"\\ud" in r.content  # the escape, as the client sent it
    assert any(ch in problem["detail"] for ch in ("\ud800", "\udfff"))
