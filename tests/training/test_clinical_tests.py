"""Clinical tests (single-leg heel raises, hops) as training records: the same versions,
idempotency, sync and export as the rest of the log, and a verdict against the
evidence thresholds that says why."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.training.models import ClinicalTest
from tests.conftest import Athlete, register

BASE = "/v1/athletes/me"
TESTS = f"{BASE}/tests"


def heel_raise(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date": "2026-11-20",
        "test": "heel-raise",
        "measure": "reps",
        "left": 18,
        "right": 27,
        "affected_side": "left",
        "pain": 3,
    }
    return {**body, **changes}


def hop(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date": "2026-11-21",
        "test": "hop",
        "measure": "count",
        "left": 20,
        "right": 12,
        "affected_side": "right",
        "pain": 1,
    }
    return {**body, **changes}


def criteria(record: dict[str, Any]) -> dict[str, tuple[float | None, float, bool]]:
    return {c["criterion"]: (c["value"], c["threshold"], c["met"]) for c in record["passed"]["criteria"]}


@pytest.fixture
def athlete(client: TestClient) -> Athlete:
    return register(client)


def test_record_read_and_the_verdict_of_a_weak_affected_side(client: TestClient, athlete: Athlete) -> None:
    created = client.post(TESTS, json=heel_raise(notes="on a step"), headers=athlete.headers)
    assert created.status_code == 201, created.text
    record = created.json()
    assert created.headers["etag"] == '"1"'
    assert created.headers["location"] == f"/v1/athletes/{athlete.id}/tests/{record['id']}"
    assert record["test"] == "heel-raise" and record["left"] == 18 and record["right"] == 27
    assert record["limb_symmetry_index"] == 66.7
    assert record["passed"]["met"] is False
    assert criteria(record) == {"affected-side-reps": (18, 25, False), "limb-symmetry-index": (66.7, 90, False)}
    assert "Lunsford" in record["passed"]["criteria"][0]["source"]
    read = client.get(f"{TESTS}/{record['id']}", headers=athlete.headers)
    assert read.status_code == 200 and read.json() == record and read.headers["etag"] == '"1"'


@pytest.mark.parametrize(
    ("body", "lsi", "met", "judged"),
    [
        (heel_raise(left=28, right=29), 96.6, True, {"affected-side-reps": (28, 25, True)}),
        (heel_raise(left=30, right=26, affected_side="right"), 86.7, False, {"affected-side-reps": (26, 25, True)}),
        # No side marked, or both: the worse side is judged, and there is no symmetry to compare.
        (heel_raise(left=30, right=24, affected_side=None), None, False, {"affected-side-reps": (24, 25, False)}),
        (heel_raise(left=27, right=26, affected_side="both"), None, True, {"affected-side-reps": (26, 25, True)}),
        (heel_raise(left=26, right=None), None, True, {"affected-side-reps": (26, 25, True)}),
        (heel_raise(left=26, right=0), None, True, {"affected-side-reps": (26, 25, True)}),
        (hop(), 60.0, True, {"hop-pain": (1, 2, True), "affected-side-hops": (12, 10, True)}),
        (hop(pain=3), 60.0, False, {"hop-pain": (3, 2, False), "affected-side-hops": (12, 10, True)}),
        (hop(right=9), 45.0, False, {"hop-pain": (1, 2, True), "affected-side-hops": (9, 10, False)}),
        (hop(pain=None), 60.0, False, {"hop-pain": (None, 2, False), "affected-side-hops": (12, 10, True)}),
        (hop(measure="distance_cm", left=150, right=140, pain=2), 93.3, True, {"hop-pain": (2, 2, True)}),
    ],
)
def test_symmetry_and_thresholds(
    client: TestClient,
    athlete: Athlete,
    body: dict[str, Any],
    lsi: float | None,
    met: bool,
    judged: dict[str, tuple[float | None, float, bool]],
) -> None:
    record = client.post(TESTS, json=body, headers=athlete.headers).json()
    assert record["limb_symmetry_index"] == lsi
    assert record["passed"]["met"] is met
    found = criteria(record)
    expected = dict(judged)
    if body["test"] == "heel-raise" and lsi is not None:
        expected["limb-symmetry-index"] = (lsi, 90, lsi >= 90)
    assert found == expected


def future() -> str:
    return (datetime.now(UTC).date() + timedelta(days=3)).isoformat()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (hop(measure="reps"), "body"),
        (heel_raise(measure="distance_cm"), "body"),
        (heel_raise(measure="count"), "body"),
        (heel_raise(left=None, right=None), "body"),
        (heel_raise(right=301), "body"),
        (hop(measure="distance_cm", left=1001), "left"),
        (heel_raise(left=-1), "left"),
        (heel_raise(pain=11), "pain"),
        (heel_raise(test="stairs"), "test"),
        (heel_raise(affected_side="neither"), "affected_side"),
        (heel_raise(date="1969-12-31"), "date"),
        (heel_raise(date="FUTURE"), "date"),
        (heel_raise(extra=1), "extra"),
        # A vanishing unaffected side would make the symmetry index infinite.
        (heel_raise(right=1e-320), "body"),
        (heel_raise(left=5e-324), "body"),
        (heel_raise(right=0.05), "body"),
    ],
)
def test_bad_input_is_a_422_and_nothing_is_written(
    client: TestClient, athlete: Athlete, changes: dict[str, Any], field: str
) -> None:
    body = {k: future() if v == "FUTURE" else v for k, v in changes.items()}
    response = client.post(TESTS, json=body, headers=athlete.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert any(e["name"] == field for e in response.json()["errors"]), response.json()
    assert client.get(TESTS, headers=athlete.headers).json()["items"] == []
    assert client.get(f"{BASE}/changes", headers=athlete.headers).json()["changes"] == []


def test_mismatched_measure_says_which(client: TestClient, athlete: Athlete) -> None:
    detail = client.post(TESTS, json=hop(measure="reps"), headers=athlete.headers).json()["errors"][0]["detail"]
    assert "'count' or 'distance_cm'" in detail
    detail = client.post(TESTS, json=heel_raise(left=None, right=None), headers=athlete.headers).json()["errors"][0]
    assert "at least one side" in detail["detail"]


def test_idempotent_retry_returns_the_same_record(client: TestClient, athlete: Athlete) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post(TESTS, json=hop(), headers={**athlete.headers, **key})
    again = client.post(TESTS, json=hop(), headers={**athlete.headers, **key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = client.post(TESTS, json=hop(pain=4), headers={**athlete.headers, **key})
    assert other.status_code == 422 and other.json()["type"] == "/problems/idempotency-key-reused"
    assert [t["id"] for t in client.get(TESTS, headers=athlete.headers).json()["items"]] == [first.json()["id"]]


def test_put_by_client_id_and_if_match_on_every_change(client: TestClient, athlete: Athlete) -> None:
    url = f"{TESTS}/{uuid.uuid4()}"
    assert client.put(url, json=heel_raise(), headers=athlete.headers).status_code == 201
    same = client.put(url, json=heel_raise(), headers=athlete.headers)
    assert same.status_code == 200 and same.json()["version"] == 1
    assert client.put(url, json=heel_raise(left=28), headers=athlete.headers).status_code == 428
    assert client.put(url, json=heel_raise(left=28), headers={**athlete.headers, "If-Match": '"7"'}).status_code == 412
    replaced = client.put(url, json=heel_raise(left=28, right=29), headers={**athlete.headers, "If-Match": '"1"'})
    assert replaced.status_code == 200 and replaced.json()["version"] == 2 and replaced.json()["passed"]["met"]

    assert client.patch(url, json={"pain": 1}, headers=athlete.headers).status_code == 428
    assert client.patch(url, json={"pain": 1}, headers={**athlete.headers, "If-Match": '"1"'}).status_code == 412
    patched = client.patch(url, json={"left": 20}, headers={**athlete.headers, "If-Match": '"2"'})
    assert patched.status_code == 200 and patched.headers["etag"] == '"3"'
    assert patched.json()["limb_symmetry_index"] == 69.0 and patched.json()["passed"]["met"] is False

    # Another athlete's PUT of this id answers as for an unknown id, and changes nothing.
    someone = register(client)
    foreign = client.put(url.replace("me", someone.id), json=hop(), headers=someone.headers)
    other_id = str(uuid.uuid4())
    unknown = client.get(f"{TESTS}/{other_id}", headers=someone.headers)
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["detail"] == unknown.json()["detail"].replace(other_id, url.rsplit("/", 1)[1])
    assert client.get(url, headers=athlete.headers).json()["test"] == "heel-raise"

    assert client.delete(url, headers={**athlete.headers, "If-Match": '"2"'}).status_code == 412
    assert client.delete(url, headers={**athlete.headers, "If-Match": '"3"'}).status_code == 204
    assert client.get(url, headers=athlete.headers).status_code == 404


def test_a_patch_must_leave_a_valid_test(client: TestClient, athlete: Athlete) -> None:
    url = f"{TESTS}/{client.post(TESTS, json=heel_raise(), headers=athlete.headers).json()['id']}"
    match = {**athlete.headers, "If-Match": '"1"'}
    for body, field in (
        ({"measure": "distance_cm"}, "measure"),
        ({"test": "hop"}, "measure"),
        ({"left": None, "right": None}, "left"),
        ({"left": 400}, "left"),
        ({"right": 1e-320}, "right"),
        ({"test": None}, "test"),
        ({"date": future()}, "date"),
        ({"pain": 11}, "pain"),
    ):
        response = client.patch(url, json=body, headers=match)
        assert response.status_code == 422, (body, response.text)
        assert any(e["name"] == field for e in response.json()["errors"]), (body, response.json())
    unchanged = client.get(url, headers=athlete.headers).json()
    assert unchanged["version"] == 1 and unchanged["test"] == "heel-raise" and unchanged["left"] == 18
    switched = client.patch(url, json={"test": "hop", "measure": "count", "pain": 0}, headers=match)
    assert switched.status_code == 200, switched.text
    assert switched.json()["test"] == "hop" and criteria(switched.json())["affected-side-hops"] == (18, 10, True)


def test_lists_newest_first_with_filters_and_cursor(client: TestClient, athlete: Athlete) -> None:
    ids = [
        client.post(TESTS, json=heel_raise(date=f"2026-11-{day:02d}"), headers=athlete.headers).json()["id"]
        for day in (3, 5, 7, 9)
    ]
    first = client.get(f"{TESTS}?limit=3", headers=athlete.headers)
    page = first.json()
    assert [t["id"] for t in page["items"]] == ids[::-1][:3] and 'rel="next"' in first.headers["link"]
    rest = client.get(f"{TESTS}?limit=3&cursor={page['next_cursor']}", headers=athlete.headers).json()
    assert [t["id"] for t in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    window = client.get(f"{TESTS}?from=2026-11-05&to=2026-11-07", headers=athlete.headers).json()
    assert [t["date"] for t in window["items"]] == ["2026-11-07", "2026-11-05"]
    assert client.get(f"{TESTS}?from=2026-11-07&to=2026-11-05", headers=athlete.headers).status_code == 422
    assert client.get(f"{TESTS}?cursor=bogus", headers=athlete.headers).status_code == 422


def test_change_feed_and_export_include_tests(client: TestClient, athlete: Athlete) -> None:
    kept = client.post(TESTS, json=hop(), headers=athlete.headers).json()
    gone = client.post(TESTS, json=heel_raise(), headers=athlete.headers).json()
    assert client.delete(f"{TESTS}/{gone['id']}", headers=athlete.headers).status_code == 204
    feed = client.get(f"{BASE}/changes?since=0", headers=athlete.headers).json()["changes"]
    assert [(c["entity"], c["id"], c["op"]) for c in feed] == [
        ("test", kept["id"], "upsert"),
        ("test", gone["id"], "delete"),
    ]
    assert feed[0]["record"] == kept and feed[1]["record"] is None
    exported = json.loads(client.get(f"{BASE}/export", headers=athlete.headers).text)
    assert exported["tests"] == [kept] and exported["checkins"] == []


def test_coaches_record_only_with_write_access(client: TestClient, athlete: Athlete) -> None:
    reader, writer = register(client, "reader"), register(client, "writer")
    for coach, access in ((reader, "read"), (writer, "write")):
        granted = client.post(
            "/v1/me/coaches", headers=athlete.headers, json={"coach_email": coach.email, "access": access}
        )
        assert granted.status_code == 201
        accepted = client.post(f"/v1/me/invitations/{granted.json()['id']}/accept", headers=coach.headers)
        assert accepted.status_code == 200, accepted.text
    theirs = f"/v1/athletes/{athlete.id}/tests"
    assert client.post(theirs, json=heel_raise(), headers=reader.headers).status_code == 403
    recorded = client.post(theirs, json=heel_raise(), headers=writer.headers)
    assert recorded.status_code == 201 and recorded.json()["athlete_id"] == athlete.id
    url = f"{theirs}/{recorded.json()['id']}"
    assert client.patch(url, json={"pain": 0}, headers={**reader.headers, "If-Match": '"1"'}).status_code == 403
    assert client.delete(url, headers=reader.headers).status_code == 403
    assert [t["id"] for t in client.get(theirs, headers=reader.headers).json()["items"]] == [recorded.json()["id"]]
    assert client.get(url, headers=reader.headers).status_code == 200


def test_erasing_the_account_erases_the_tests(client: TestClient, athlete: Athlete, db_session: Session) -> None:
    client.post(TESTS, json=heel_raise(), headers=athlete.headers)
    owner = uuid.UUID(athlete.id)
    assert db_session.exec(select(ClinicalTest).where(col(ClinicalTest.athlete_id) == owner)).all()
    assert client.delete("/v1/me", headers=athlete.headers).status_code == 204
    db_session.expire_all()
    assert db_session.exec(select(ClinicalTest).where(col(ClinicalTest.athlete_id) == owner)).all() == []
