"""Workouts logged against one plan at once (an app syncing a week's sessions in parallel),
through a real server on the real database: the week is judged once, by the workout that
completes it, and every workout is stored. On PostgreSQL the writes run side by side; the
plan's row, locked when a workout names one of its sessions, makes them judge the week
one after the other."""

from __future__ import annotations

from typing import Any

import pytest

from tests import web
from tests.plans.test_api import done_as_planned
from tests.servers import Server, account_on
from tests.training.test_concurrent_sync import at_once

ROUNDS = 3
PROFILE = {
    "achilles_pain": 3,
    "achilles_pain_site": "mid-portion",
    "single_leg_heel_raises": 20,
    "equipment": ["step", "weighted-backpack", "chair"],
}


@pytest.fixture
def server(shared_server: Server) -> Server:
    """The worker's plain server (``shared_server``): these tests only send it requests, and
    a server of their own cost a start (about 2 s of CPU) per module and database."""
    return shared_server


def _week_one(server: Server, database_url: str, name: str) -> tuple[dict[str, str], str, list[dict[str, Any]]]:
    """A runner with a new Achilles plan: their headers, the plan's id and week 1's loading sessions."""
    athlete = account_on(database_url, name)
    headers = {"Authorization": f"Bearer {athlete.access_token}"}
    with web.client() as client:
        assert client.patch(f"{server.url}/v1/athletes/me/profile", json=PROFILE, headers=headers).status_code == 200
    made = web.post(
        f"{server.url}/v1/athletes/me/plans", json={"kind": "achilles", "start_date": "2026-10-05"}, headers=headers
    )
    assert made.status_code == 201, made.text
    plan = made.json()
    sessions = [s for s in plan["weeks"][0]["sessions"] if s["kind"] in ("tendon", "strength")]
    assert len(sessions) >= 2
    return headers, plan["id"], sessions


def _adapted_weeks(server: Server, headers: dict[str, str], plan_id: str) -> list[int]:
    plan = web.get(f"{server.url}/v1/athletes/me/plans/{plan_id}", headers=headers).json()
    return [a["week"] for a in plan["adaptations"]]


def test_a_week_logged_all_at_once_is_judged(database_url: str, server: Server) -> None:
    url = f"{server.url}/v1/athletes/me/workouts"
    for round_ in range(ROUNDS):
        headers, plan_id, sessions = _week_one(server, database_url, f"week-{round_}")
        answers = at_once([(url, done_as_planned(s, 2), headers) for s in sessions], method="POST")
        assert [a.status_code for a in answers] == [201] * len(sessions), [a.text for a in answers]
        assert _adapted_weeks(server, headers, plan_id) == [1], f"round {round_}: the logged week was not judged"


def test_two_workouts_completing_a_week_at_once_are_both_stored(database_url: str, server: Server) -> None:
    url = f"{server.url}/v1/athletes/me/workouts"
    for round_ in range(ROUNDS):
        headers, plan_id, (*first, last) = _week_one(server, database_url, f"twice-{round_}")
        for s in first:
            assert web.post(url, json=done_as_planned(s, 2), headers=headers).status_code == 201
        answers = at_once([(url, done_as_planned(last, 2), headers)] * 2, method="POST")
        assert [a.status_code for a in answers] == [201, 201], [a.text[:200] for a in answers]
        assert _adapted_weeks(server, headers, plan_id) == [1]
