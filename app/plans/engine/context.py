"""What every plan kind shares: the context (profile, catalogue, options, start), the
exercise choice under equipment and pain, and the builders of items and sessions."""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from app.catalogue.content import Catalogue, Exercise, LoadingType, Prescription, Protocol
from app.plans.engine.model import (
    Load,
    PlanItem,
    PlanOptions,
    PlanProfile,
    PlanSessionDraft,
    RunPrescription,
    TestPrescription,
)

TENDON_MIN_WEEKS = 12
HSR_MACHINES = frozenset({"seated-calf-raise-machine", "leg-press-machine", "standing-calf-raise-machine"})
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SESSION_OFFSETS = {2: (0, 3), 3: (0, 2, 4), 7: (0, 1, 2, 3, 4, 5, 6)}
RUN_OFFSETS = (1, 5)  # two runs a week, away from the strength days
PAIN_ACCEPTABLE = 5  # Silbernagel 2007: above 5/10 is too much
HEEL_RAISE_NORMAL = 25  # Lunsford & Perry 1995
RESILIENCE_STAGES = ("strength-endurance", "basic-strength", "strength", "power")
PAIN_RULES = (
    "Pain during exercise: 0-2/10 is safe, 3-5/10 acceptable, above 5/10 too much (Silbernagel 2007).",
    "Pain and stiffness the next morning must settle to your usual level; if not, reduce the load.",
    "Pain and stiffness must not increase from week to week.",
)


class PlanError(ValueError):
    """The request cannot be planned (for example a protocol without its equipment)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CatalogueIndex:
    """Lookups over one catalogue snapshot, built once per snapshot (not per plan): the
    snapshot is frozen, so they never change. Read-only."""

    exercises: dict[str, Exercise]
    protocols: dict[str, Protocol]
    easier: dict[str, list[str]]
    gentlest_first: tuple[Exercise, ...]  # by Achilles tier, then slug: substitutes' order

    @classmethod
    def of(cls, catalogue: Catalogue) -> CatalogueIndex:
        kept = _INDEXES.get(id(catalogue))
        if kept is not None and kept[0] is catalogue:
            return kept[1]
        easier: dict[str, list[str]] = {}
        for edge in sorted(catalogue.progressions, key=lambda e: (e.harder, e.easier)):
            easier.setdefault(edge.harder, []).append(edge.easier)
        index = cls(
            exercises={x.slug: x for x in catalogue.exercises},
            protocols={p.slug: p for p in catalogue.protocols},
            easier=easier,
            gentlest_first=tuple(
                sorted(catalogue.exercises, key=lambda x: (x.achilles_load.tier if x.achilles_load else 0, x.slug))
            ),
        )
        if len(_INDEXES) >= 8:  # a process plans from one snapshot; tests build a few
            _INDEXES.clear()
        _INDEXES[id(catalogue)] = (catalogue, index)
        return index


# id(catalogue) -> (the catalogue, kept alive so its id is not reused, its index)
_INDEXES: dict[int, tuple[Catalogue, CatalogueIndex]] = {}


@dataclass(frozen=True)
class Context:
    profile: PlanProfile
    catalogue: Catalogue
    options: PlanOptions
    start: dt.date
    pain: float | None = None  # the usual pain now (a plan's rolling baseline); the profile's if None

    @cached_property
    def index(self) -> CatalogueIndex:
        return CatalogueIndex.of(self.catalogue)

    @cached_property
    def exercises(self) -> dict[str, Exercise]:
        return self.index.exercises

    @cached_property
    def protocols(self) -> dict[str, Protocol]:
        return self.index.protocols

    @cached_property
    def easier(self) -> dict[str, list[str]]:
        return self.index.easier

    @cached_property
    def equipment(self) -> frozenset[str]:
        return frozenset(self.profile.equipment)

    @property
    def insertional(self) -> bool:
        return self.profile.achilles_pain_site == "insertional"

    @property
    def severe_pain(self) -> bool:
        pain = self.profile.achilles_pain if self.pain is None else self.pain
        return pain > PAIN_ACCEPTABLE

    @cached_property
    def _allowed(self) -> dict[str, bool]:
        return {}

    @cached_property
    def _substitutes(self) -> dict[str, str | None]:
        return {}

    def allowed(self, slug: str) -> bool:
        """Doable with the athlete's equipment and safe for their pain (worked out once per
        exercise and context: the answer depends on nothing else)."""
        known = self._allowed.get(slug)
        if known is None:
            known = self._allowed[slug] = self._check_allowed(slug)
        return known

    def _check_allowed(self, slug: str) -> bool:
        exercise = self.exercises.get(slug)
        if exercise is None or not set(exercise.equipment) <= self.equipment:
            return False
        if self.severe_pain and exercise.loading_type is LoadingType.plyometric:
            return False
        # Insertional pain: nothing that lowers the heel below a step's level (Fahlström 2003).
        return not (self.insertional and "step" in exercise.equipment and works_calves(exercise))

    def substitute(self, slug: str) -> str | None:
        """The exercise, or the nearest easier one the athlete can do (regressions first,
        then any exercise of the same loading type for the same muscles)."""
        if slug not in self._substitutes:
            self._substitutes[slug] = self._find_substitute(slug)
        return self._substitutes[slug]

    def _find_substitute(self, slug: str) -> str | None:
        seen, queue = {slug}, deque([slug])
        while queue:
            current = queue.popleft()
            if self.allowed(current):
                return current
            for easier in self.easier.get(current, []):
                if easier not in seen:
                    seen.add(easier)
                    queue.append(easier)
        wanted = self.exercises[slug]
        for candidate in self.index.gentlest_first:
            if (
                candidate.loading_type == wanted.loading_type
                and set(candidate.primary_muscles) & set(wanted.primary_muscles)
                and self.allowed(candidate.slug)
            ):
                return candidate.slug
        return None


def works_calves(exercise: Exercise) -> bool:
    return bool({"calves", "gastrocnemius", "soleus"} & set(exercise.primary_muscles))


# ---------------------------------------------------------------- items


_RM = re.compile(r"(\d+)\s*RM", re.IGNORECASE)
_PERCENT = re.compile(r"(\d+)\s*%\s*1RM", re.IGNORECASE)


def parse_load(text: str | None, exercise: Exercise) -> Load:
    text = (text or "").strip()
    if match := _RM.search(text):
        return Load(kind="rm", value=float(match.group(1)), text=text)
    if match := _PERCENT.search(text):
        return Load(kind="percent_1rm", value=float(match.group(1)), text=text)
    if text.lower().startswith("body weight"):  # e.g. "body weight; once pain-free, a backpack"
        return Load(kind="bodyweight", value=None, text=text)
    weighted = exercise.slug.startswith("weighted-") or any(
        word in text.lower() for word in ("added weight", "dumbbell", "backpack", "kettlebell")
    )
    if weighted:
        return Load(kind="added", value=None, text=text or "added weight")
    return Load(kind="bodyweight", value=None, text=text or "body weight")


def is_heavy(load: Load) -> bool:
    if load.kind == "rm":
        return True
    if load.kind == "percent_1rm":
        return (load.value or 0) >= 70
    return load.kind == "added"


def item_from(ctx: Context, p: Prescription, *, rule: str, rationale: str, sets: int | None = None) -> PlanItem | None:
    slug = ctx.substitute(p.exercise)
    if slug is None:
        return None
    exercise = ctx.exercises[slug]
    load = parse_load(p.load, exercise) if slug == p.exercise else parse_load(None, exercise)
    swapped = "" if slug == p.exercise else f" (instead of {ctx.exercises[p.exercise].name}: equipment or pain)"
    return PlanItem(
        exercise=slug,
        name=exercise.name,
        sets=sets if sets is not None else p.sets.max,
        reps=p.reps,
        hold_seconds=p.hold_seconds,
        duration_seconds=p.duration_seconds,
        per_side=p.per_side,
        tempo=p.tempo,
        rest_seconds=p.rest_seconds,
        load=load,
        heavy=is_heavy(load),
        rationale=rationale + swapped,
        rule=rule,
    )


def unique(items: Iterable[PlanItem | None]) -> list[PlanItem]:
    seen: set[str] = set()
    kept = []
    for item in items:
        if item is not None and item.exercise not in seen:
            seen.add(item.exercise)
            kept.append(item)
    return kept


def session(
    ctx: Context,
    day: dt.date,
    kind: str,
    focus: str,
    items: Sequence[PlanItem],
    *,
    times: int = 1,
    run: RunPrescription | None = None,
    gate: str | None = None,
    test: TestPrescription | None = None,
    heavy: bool | None = None,
) -> PlanSessionDraft:
    if heavy is None:
        heavy = any(i.heavy and works_calves(ctx.exercises[i.exercise]) for i in items)
    return PlanSessionDraft(
        day=day,
        weekday=WEEKDAYS[day.weekday()],
        kind=kind,
        focus=focus,
        heavy=heavy,
        times_per_day=times,
        items=list(items),
        run=run,
        gate=gate,
        test=test,
    )


def plan_length(ctx: Context, default: int, minimum: int = 1) -> int:
    if ctx.options.weeks is not None:
        return max(ctx.options.weeks, minimum)
    if ctx.profile.race_date is not None and ctx.profile.race_date > ctx.start:
        until_race = (ctx.profile.race_date - ctx.start).days // 7
        return max(minimum, min(max(until_race, 4), 24))
    return max(default, minimum)
