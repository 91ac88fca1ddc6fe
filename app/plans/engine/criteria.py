"""Criteria: what the engine reads from a week's logs (pure evidence, built by the service),
the metrics computed from it, and the evaluation of a catalogue criterion against them.

A criterion is ``metric op value`` (app/catalogue/content.py: Criterion). Gates come from a
trial or a protocol and never change; adjustable defaults (``gate: false``) may be overridden
per plan with ``options.criteria_overrides``. A criterion whose data is missing (no test
recorded, no check-in) is *unknown*: it never passes."""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import mean, median
from typing import Literal

from app.catalogue.content import Criterion, Metric
from app.catalogue.criteria import HEEL_RAISE_MIN_REPS, HOP_MAX_PAIN, HOP_MIN_PAIN_FREE_COUNT, LSI_MIN_PERCENT

# Test thresholds of docs/evidence.md section 3, shared with the clinical test records.
HEEL_RAISE_NORMAL = HEEL_RAISE_MIN_REPS  # single-leg heel raises in a row (Lunsford & Perry 1995): a gate
HEEL_RAISE_LSI = LSI_MIN_PERCENT  # percent of the other side: a clinic target, adjustable
HOP_PAIN_MAX = HOP_MAX_PAIN  # pain during hopping (Nutrients 2019 trial protocol): a gate
PAIN_FREE_HOPS = HOP_MIN_PAIN_FREE_COUNT  # single-leg hops: clinical practice, adjustable
BASELINE_DAYS = 14  # the usual morning pain: median of the check-ins of the 14 days before the week

OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


def rule(slug: str, metric: Metric, op: str, value: float, source: str, gate: bool, description: str) -> Criterion:
    """An engine-defined criterion (for stages that are not catalogue protocol stages)."""
    return Criterion.model_validate(
        {
            "slug": slug,
            "metric": metric,
            "op": op,
            "value": value,
            "source": source,
            "gate": gate,
            "description": description,
        }
    )


# Engine-wide rules (the same shape as the catalogue's).
SESSIONS_COMPLETED = rule(
    "sessions-completed",
    Metric.sessions_completed_share,
    ">=",
    0.8,
    "runstrong-default",
    False,
    "At least 80% of the week's planned sessions logged (a missed week holds).",
)
RUNS_COMPLETED = rule(
    "runs-completed",
    Metric.runs_completed_share,
    ">=",
    0.67,
    "runstrong-default",
    False,
    "At least two thirds of the week's planned runs logged.",
)
MORNING_AT_USUAL = rule(
    "morning-pain-at-usual",
    Metric.morning_pain_over_baseline,
    "<=",
    0,
    "silbernagel-2007",
    True,
    "Pain and stiffness the next morning back at the usual level.",
)
PAIN_RULES = (
    rule(
        "pain-during-above-5",
        Metric.pain_during_max,
        ">",
        5,
        "silbernagel-2007",
        True,
        "Pain during the exercise above 5/10 is too much.",
    ),
    rule(
        "run-pain-above-5",
        Metric.run_pain_max,
        ">",
        5,
        "silbernagel-crossley-2015",
        True,
        "Pain during running above 5/10.",
    ),
    rule(
        "morning-pain-above-baseline",
        Metric.morning_pain_over_baseline,
        ">",
        0,
        "silbernagel-2007",
        True,
        "Pain or stiffness the next morning above the usual level.",
    ),
    rule(
        "pain-rising-week-on-week",
        Metric.morning_pain_rise,
        ">",
        0,
        "silbernagel-2007",
        True,
        "Morning pain and stiffness rose from last week.",
    ),
)


# ---------------------------------------------------------------- evidence


@dataclass(frozen=True)
class WorkoutLog:
    """A workout linked to one of the week's planned sessions."""

    day: dt.date
    sets_planned: int
    sets_completed: int
    pain_during: int | None


@dataclass(frozen=True)
class RunLog:
    day: dt.date
    distance_km: float
    duration_s: int
    pain_during: int | None


@dataclass(frozen=True)
class SitePain:
    site: str
    pain: int
    morning_stiffness: int

    @property
    def insertional(self) -> bool:
        return "insertion" in self.site


@dataclass(frozen=True)
class CheckInLog:
    day: dt.date
    sites: tuple[SitePain, ...]

    @property
    def worst(self) -> int:
        return max((s.pain for s in self.sites), default=0)


@dataclass(frozen=True)
class ClinicalTestLog:
    """A clinical test record (heel-raise: reps; hop: count, with the pain during it)."""

    day: dt.date
    test: Literal["heel-raise", "hop"]
    measure: str
    left: float | None
    right: float | None
    affected_side: Literal["left", "right", "both"] | None
    pain: int | None

    def affected(self) -> float | None:
        sides = {"left": self.left, "right": self.right}
        if self.affected_side in sides:
            return sides[self.affected_side]
        values = [v for v in (self.left, self.right) if v is not None]
        return min(values) if values else None

    def symmetry(self) -> float | None:
        """The affected side against the other, in percent."""
        if self.left is None or self.right is None or max(self.left, self.right) <= 0:
            return None
        if self.affected_side == "left":
            return 100 * self.left / self.right if self.right else None
        if self.affected_side == "right":
            return 100 * self.right / self.left if self.left else None
        return 100 * min(self.left, self.right) / max(self.left, self.right)


@dataclass(frozen=True)
class WeekEvidence:
    """What was logged for the week judged, and around it."""

    planned_sessions: int  # strength and tendon sessions (not runs, not tests)
    planned_runs: int = 0
    workouts: Sequence[WorkoutLog] = ()
    runs: Sequence[RunLog] = ()
    check_ins: Sequence[CheckInLog] = ()  # the mornings after each day of the week
    previous_check_ins: Sequence[CheckInLog] = ()  # the week before
    baseline_check_ins: Sequence[CheckInLog] = ()  # the 14 days before the week
    tests: Sequence[ClinicalTestLog] = ()  # every test up to the end of the week, as recorded (see latest)
    insertional: bool = False  # the runner's pain is at the insertion (from the profile)
    starts_on: dt.date | None = None  # the week's first day

    @property
    def empty(self) -> bool:
        """Nothing logged in the week: no workout, run, check-in or test."""
        in_week = [t for t in self.tests if self.starts_on is None or t.day >= self.starts_on]
        return not (self.workouts or self.runs or self.check_ins or in_week)


def rolling_baseline(evidence: WeekEvidence, seed: float) -> float:
    """The usual morning pain: the median of the check-ins before the week, else the seed."""
    values = [c.worst for c in evidence.baseline_check_ins]
    return float(median(values)) if values else seed


def latest(tests: Iterable[ClinicalTestLog], name: str) -> ClinicalTestLog | None:
    """The most recent ``name`` test: of several on its day, the last in the order given (the
    order they were recorded in, as the service gives them), so a retest decides."""
    found: ClinicalTestLog | None = None
    for test in tests:
        if test.test == name and (found is None or test.day >= found.day):
            found = test
    return found


def metrics(evidence: WeekEvidence, baseline: float) -> dict[Metric, float | None]:
    pain = [w.pain_during for w in evidence.workouts if w.pain_during is not None]
    runs = [r.pain_during for r in evidence.runs if r.pain_during is not None]
    mornings = [c.worst for c in evidence.check_ins]
    before = [c.worst for c in evidence.previous_check_ins]
    sites = [s for c in evidence.check_ins for s in c.sites]
    marked = [s.pain for s in sites if s.insertional]
    if marked:
        insertion: float | None = max(marked)
    elif evidence.insertional:
        achilles = [s.pain for s in sites if "achilles" in s.site]
        insertion = max(achilles) if achilles else None
    else:
        insertion = 0.0  # mid-portion pain: nothing at the insertion unless a check-in says so
    planned_sets = sum(w.sets_planned for w in evidence.workouts)
    heel, hop = latest(evidence.tests, "heel-raise"), latest(evidence.tests, "hop")
    return {
        Metric.pain_during_max: max(pain) if pain else None,
        Metric.run_pain_max: max(runs) if runs else None,
        Metric.morning_pain_over_baseline: max(mornings) - baseline if mornings else None,
        Metric.morning_pain_rise: mean(mornings) - mean(before) if mornings and before else None,
        Metric.insertion_pain_max: insertion,
        Metric.sessions_completed: float(len(evidence.workouts)),
        Metric.sessions_completed_share: (
            len(evidence.workouts) / evidence.planned_sessions if evidence.planned_sessions else None
        ),
        Metric.sets_completed_share: (
            sum(w.sets_completed for w in evidence.workouts) / planned_sets if planned_sets else None
        ),
        Metric.runs_completed_share: len(evidence.runs) / evidence.planned_runs if evidence.planned_runs else None,
        Metric.heel_raise_reps: heel.affected() if heel else None,
        Metric.heel_raise_lsi: heel.symmetry() if heel else None,
        Metric.hop_pain: float(hop.pain) if hop and hop.pain is not None else None,
        Metric.hop_count: hop.affected() if hop and hop.measure == "count" else None,
    }


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Result:
    criterion: Criterion
    value: float | None
    met: bool | None  # None: no data

    @property
    def reason(self) -> str:
        c = self.criterion
        threshold = f"{c.op} {c.value:g}"
        if self.met is None:
            return f"{c.slug}: no data yet for {c.metric.value.replace('_', ' ')} ({c.description})"
        verdict = "met" if self.met else "not met"
        return f"{c.slug}: {c.metric.value.replace('_', ' ')} {self.value:g} {threshold}, {verdict} ({c.description})"

    def as_dict(self) -> dict[str, object]:
        return {"criterion": self.criterion.slug, "value": self.value, "met": self.met}


def effective(criterion: Criterion, overrides: Mapping[str, float]) -> Criterion:
    if criterion.gate or criterion.slug not in overrides:
        return criterion
    return criterion.model_copy(update={"value": overrides[criterion.slug]})


def evaluate(criterion: Criterion, values: Mapping[Metric, float | None], overrides: Mapping[str, float]) -> Result:
    c = effective(criterion, overrides)
    value = values.get(c.metric)
    return Result(c, value, None if value is None else OPS[c.op](value, c.value))


@dataclass
class Judgement:
    results: list[Result] = field(default_factory=list)

    def first(self, met: bool | None) -> Result | None:
        return next((r for r in self.results if r.met is met), None)
