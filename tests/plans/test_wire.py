"""A plan's JSON with shared item lists written once is byte for byte what pydantic-core
writes, for every kind of plan; the preview answers with it."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from pydantic import Field

from app.plans import schemas as s
from app.plans import wire
from app.plans.engine import PlanDraft, generate, tendon
from app.plans.service import catalogue
from app.plans.wire import plan_json, spliced_json
from tests.plans.test_golden import RUNNERS, START


def plain(plan: PlanDraft) -> bytes:
    return type(plan).__pydantic_serializer__.to_json(plan)


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_a_spliced_plan_is_the_plain_one(name: str) -> None:
    kind, profile, options = RUNNERS[name]
    plan = generate(profile, catalogue(), START, kind, options)
    items = [i for week in plan.weeks for session in week.sessions for i in session.items]
    assert items, "every golden plan prescribes exercises"
    spliced = spliced_json(plan)
    assert spliced is not None
    assert spliced == plain(plan)


def test_a_stored_plan_as_shown_splices_too() -> None:
    kind, profile, options = RUNNERS["return-to-run-after-tendinopathy"]
    data = generate(profile, catalogue(), START, kind, options).model_dump(mode="json")
    for week in data["weeks"]:
        for session in week["sessions"]:
            session |= {"id": str(uuid.uuid4()), "workouts": [str(uuid.uuid4())]}
    shown = s.PlanPublic.model_validate(
        data
        | {
            "id": str(uuid.uuid4()),
            "athlete_id": str(uuid.uuid4()),
            "status": "active",
            "adaptations": [],
            "created_at": "2026-11-23T08:00:00Z",
        }
    )
    spliced = spliced_json(shown)
    assert spliced is not None
    assert spliced == plain(shown)


class _WithARun(PlanDraft):
    run: str = Field(default="the text holds one more run key than the plan has sessions")


def test_a_plan_that_does_not_split_as_expected_is_written_whole() -> None:
    kind, profile, options = RUNNERS["mid-portion-achilles-gym"]
    plan = _WithARun.model_validate(generate(profile, catalogue(), START, kind, options).model_dump())
    assert spliced_json(plan) is None
    assert plan_json(plan) == plain(plan)


@pytest.mark.parametrize(
    "name", ["mid-portion-achilles-gym", "new-runner-no-equipment", "return-to-run-after-tendinopathy"]
)
def test_the_preview_answers_with_the_plans_own_json(client: TestClient, name: str) -> None:
    kind, profile, options = RUNNERS[name]
    body = {
        "kind": kind.value,
        "profile": profile.model_dump(mode="json", exclude_unset=True),
        "options": options.model_dump(mode="json", exclude_unset=True),
        "start_date": START.isoformat(),
    }
    r = client.post("/v1/plans/preview", json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.content == plain(generate(profile, catalogue(), START, kind, options))


def test_only_the_lists_the_engine_keeps_for_later_plans_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    # Empty caches of this test's own: filled by earlier tests, the engine's could clear midway.
    monkeypatch.setattr(wire, "_WRITTEN", {})
    monkeypatch.setattr(tendon, "_ITEMS", {})
    monkeypatch.setattr(tendon, "_KEPT", {})
    kind, profile, options = RUNNERS["marathoner-gym-race-in-10-weeks"]
    resilience = generate(profile, catalogue(), START, kind, options)
    assert plan_json(resilience) == plain(resilience)
    assert wire._WRITTEN == {}, "a resilience plan's items are made for it alone"
    kind, profile, options = RUNNERS["mid-portion-achilles-gym"]
    achilles = generate(profile, catalogue(), START, kind, options)
    assert plan_json(achilles) == plain(achilles)
    kept = list(wire._WRITTEN.values())
    assert kept
    assert all(tendon.shared_by_plans(items) for items, _ in kept)
    again = generate(profile, catalogue(), START, kind, options)
    assert plan_json(again) == plain(again)
    assert list(wire._WRITTEN.values()) == kept, "a later plan of the same stages writes no list anew"
