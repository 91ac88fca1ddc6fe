"""Resilience plans (no stages): Silbernagel's pain-monitoring model applied to the next
week only. Achilles and return-to-run plans adapt through their stages (adapt.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from statistics import mean
from typing import Literal

from app.plans.engine.context import PAIN_ACCEPTABLE
from app.plans.engine.model import PlanItem, PlanWeekDraft

Decision = Literal["progress", "hold", "regress"]


@dataclass(frozen=True)
class LoggedWorkout:
    day: dt.date
    sets_planned: int
    sets_completed: int
    pain_during: int | None


@dataclass(frozen=True)
class WeekLog:
    planned_sessions: int
    workouts: list[LoggedWorkout]
    morning_pain: list[int]  # worst site each morning of the week
    previous_morning_pain: list[int] = field(default_factory=list)
    baseline_pain: int = 0


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    rule: str
    reasons: list[str]


def decide(log: WeekLog) -> Verdict:
    worst_during = max((w.pain_during for w in log.workouts if w.pain_during is not None), default=None)
    if worst_during is not None and worst_during > PAIN_ACCEPTABLE:
        return Verdict(
            "regress", "pain-during-above-5", [f"Pain during a session reached {worst_during}/10 (above 5/10)."]
        )
    if log.morning_pain and max(log.morning_pain) > log.baseline_pain:
        return Verdict(
            "regress",
            "morning-pain-above-baseline",
            [f"Morning pain reached {max(log.morning_pain)}/10, above the usual {log.baseline_pain}/10."],
        )
    if log.morning_pain and log.previous_morning_pain and mean(log.morning_pain) > mean(log.previous_morning_pain):
        return Verdict(
            "regress",
            "pain-rising-week-on-week",
            [
                f"Morning pain averaged {mean(log.morning_pain):.1f}/10, "
                f"up from {mean(log.previous_morning_pain):.1f}/10."
            ],
        )
    done = len(log.workouts)
    planned_sets = sum(w.sets_planned for w in log.workouts)
    completed_sets = sum(w.sets_completed for w in log.workouts)
    if done >= log.planned_sessions and completed_sets >= planned_sets:
        return Verdict(
            "progress",
            "completed-within-pain-rules",
            [f"All {log.planned_sessions} sessions done with every set completed and pain within the rules."],
        )
    return Verdict(
        "hold",
        "incomplete-week",
        [f"{done} of {log.planned_sessions} sessions and {completed_sets} of {planned_sets} sets completed."],
    )


def _regressed(item: PlanItem) -> PlanItem:
    load = (
        item.load.model_copy(update={"text": f"{item.load.text}; reduce the load by 10-20%"})
        if item.heavy
        else item.load
    )
    return item.model_copy(
        update={
            "sets": max(1, item.sets - 1),
            "load": load,
            "rationale": item.rationale + " Regressed after the last week's pain.",
        }
    )


def apply(verdict: Verdict, week: PlanWeekDraft, following: PlanWeekDraft) -> PlanWeekDraft:
    """The following week as the verdict makes it."""
    if verdict.decision == "progress":
        return following
    if verdict.decision == "hold":  # repeat this week's doses on the next week's days
        by_kind = {s.kind: s for s in week.sessions}
        sessions = [
            s.model_copy(update={"items": by_kind[s.kind].items if s.kind in by_kind else s.items})
            for s in following.sessions
        ]
        return following.model_copy(update={"sessions": sessions, "stage": f"{following.stage} (held)"})
    sessions = []
    for s in following.sessions:
        items = [_regressed(i) for i in s.items if "hop" not in i.exercise and "rebound" not in i.exercise]
        sessions.append(s.model_copy(update={"items": items, "heavy": False}))
    return following.model_copy(update={"sessions": sessions, "stage": f"{following.stage} (regressed)"})
