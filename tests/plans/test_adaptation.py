"""Adaptation decisions for scripted sequences of logs (Silbernagel's pain-monitoring model)."""

from __future__ import annotations

import datetime as dt

import pytest

from app.catalogue.content import load_catalogue
from app.plans.engine import PlanKind, PlanOptions, PlanProfile, generate
from app.plans.engine.adapt import LoggedWorkout, WeekLog, apply, decide

DAY = dt.date(2026, 11, 23)


def done(pain: int | None = 2, completed: int = 9, planned: int = 9) -> LoggedWorkout:
    return LoggedWorkout(day=DAY, sets_planned=planned, sets_completed=completed, pain_during=pain)


@pytest.mark.parametrize(
    ("log", "decision", "rule"),
    [
        (
            WeekLog(3, [done(), done(), done()], morning_pain=[2, 2, 1], baseline_pain=2),
            "progress",
            "completed-within-pain-rules",
        ),
        (
            WeekLog(3, [done(), done(pain=6), done()], morning_pain=[2], baseline_pain=2),
            "regress",
            "pain-during-above-5",
        ),
        (
            WeekLog(3, [done(), done(), done()], morning_pain=[2, 4], baseline_pain=2),
            "regress",
            "morning-pain-above-baseline",
        ),
        (
            WeekLog(3, [done(), done(), done()], morning_pain=[3, 3], previous_morning_pain=[1, 2], baseline_pain=3),
            "regress",
            "pain-rising-week-on-week",
        ),
        (WeekLog(3, [done(), done()], morning_pain=[1], baseline_pain=2), "hold", "incomplete-week"),
        (WeekLog(3, [done(), done(), done(completed=7)], morning_pain=[], baseline_pain=0), "hold", "incomplete-week"),
        (
            WeekLog(3, [done(pain=5), done(pain=5), done(pain=5)], morning_pain=[0], baseline_pain=0),
            "progress",
            "completed-within-pain-rules",
        ),  # 5/10 is still acceptable
    ],
)
def test_decisions(log: WeekLog, decision: str, rule: str) -> None:
    verdict = decide(log)
    assert (verdict.decision, verdict.rule) == (decision, rule)
    assert verdict.reasons


def test_a_sequence_of_weeks() -> None:
    """Good week, a flare-up, then settling: progress, regress, hold, progress."""
    weeks = [
        WeekLog(3, [done(), done(), done()], morning_pain=[2, 2], baseline_pain=2),
        WeekLog(3, [done(), done(pain=7), done()], morning_pain=[4, 3], previous_morning_pain=[2, 2], baseline_pain=2),
        WeekLog(3, [done(), done()], morning_pain=[2, 2], previous_morning_pain=[4, 3], baseline_pain=2),
        WeekLog(3, [done(), done(), done()], morning_pain=[1, 2], previous_morning_pain=[2, 2], baseline_pain=2),
    ]
    assert [decide(w).decision for w in weeks] == ["progress", "regress", "hold", "progress"]


def test_applying_a_decision_changes_the_next_week() -> None:
    plan = generate(
        PlanProfile(achilles_pain=3, single_leg_heel_raises=20, equipment=["step", "weighted-backpack", "chair"]),
        load_catalogue(),
        DAY,
        PlanKind.achilles,
        PlanOptions(),
    )
    this, following = plan.weeks[4], plan.weeks[5]
    assert apply(decide(WeekLog(3, [done()] * 3, morning_pain=[1], baseline_pain=3)), this, following) == following
    regressed = apply(decide(WeekLog(3, [done(pain=8)], morning_pain=[], baseline_pain=3)), this, following)
    before = {i.exercise: i.sets for s in following.sessions for i in s.items}
    after = {i.exercise: i.sets for s in regressed.sessions for i in s.items}
    assert not any("hop" in e or "rebound" in e for e in after)
    assert all(after[e] == max(1, before[e] - 1) for e in after)
    held = apply(decide(WeekLog(3, [done()], morning_pain=[], baseline_pain=3)), this, following)
    assert [i.exercise for i in held.sessions[0].items] == [i.exercise for i in this.sessions[0].items]
    assert [s.day for s in held.sessions] == [s.day for s in following.sessions]
