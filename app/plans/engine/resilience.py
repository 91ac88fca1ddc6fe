"""Strength for healthy runners: the five key muscles every week, through strength-endurance,
basic strength, strength and power (Blagrove 2018, Bazyler 2015)."""

from __future__ import annotations

import datetime as dt
import re

from app.catalogue.content import LoadingType, Range
from app.plans.engine.context import RESILIENCE_STAGES, SESSION_OFFSETS, Context, is_heavy, session, unique
from app.plans.engine.model import (
    Load,
    PlanItem,
    PlanWeekDraft,
)

KEY_SLOTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # (key muscle, candidates in order of preference) per seed 000's key muscles
    (
        "calves",
        ("weighted-one-leg-heel-raise", "standing-calf-raise-machine", "one-leg-heel-raise", "standing-calf-raise"),
    ),
    ("quadriceps", ("squat", "weighted-lunge", "single-leg-squat", "lunge")),
    ("hamstrings", ("deadlift", "kettlebell-swing", "stability-ball-hamstring-curl", "lying-leg-curl", "leg-lift")),
    ("gluteus-medius", ("clamshell", "side-lying-leg-raise", "crab-walk")),
    ("gluteus-maximus", ("weighted-hip-extension", "glute-bridge")),
)
STAGE_DOSE = {
    # stage: (sets, reps, load text, rest) after Blagrove 2018 and Bazyler 2015
    "strength-endurance": (2, Range(min=12, max=15), "about 60% 1RM, 3-4 reps in reserve", Range(min=60, max=90)),
    "basic-strength": (3, Range(min=8, max=10), "about 70% 1RM, 2-3 reps in reserve", Range(min=90, max=120)),
    "strength": (3, Range(min=5, max=6), "about 80% 1RM, 2 reps in reserve", Range(min=120, max=180)),
    "power": (3, Range(min=4, max=6), "about 80% 1RM, moved fast, 2-3 reps in reserve", Range(min=120, max=180)),
}


def _resilience_stage(week: int, weeks: int) -> str:
    return RESILIENCE_STAGES[min((week - 1) * len(RESILIENCE_STAGES) // weeks, len(RESILIENCE_STAGES) - 1)]


def _key_items(ctx: Context, stage: str, per_session: int) -> list[PlanItem]:
    sets, reps, load_text, rest = STAGE_DOSE[stage]
    items: list[PlanItem] = []
    for muscle, candidates in KEY_SLOTS[:per_session]:
        for chosen in candidates:  # each slot ends with exercises that need nothing
            if not ctx.allowed(chosen) or any(i.exercise == chosen for i in items):
                continue
            exercise = ctx.exercises[chosen]
            weighted = (
                bool(exercise.equipment)
                and any(e in exercise.equipment for e in ("barbell", "dumbbell", "kettlebell", "weighted-backpack"))
            ) or "machine" in ",".join(exercise.equipment)
            load = (
                Load(kind="percent_1rm", value=float(re.findall(r"\d+", load_text)[0]), text=load_text)
                if weighted
                else Load(kind="bodyweight", value=None, text=f"body weight, {load_text.split(', ', 1)[-1]}")
            )
            items.append(
                PlanItem(
                    exercise=chosen,
                    name=exercise.name,
                    sets=sets,
                    reps=reps,
                    hold_seconds=None,
                    duration_seconds=None,
                    per_side=exercise.laterality.value == "unilateral",
                    tempo=None,
                    rest_seconds=rest,
                    load=load,
                    heavy=is_heavy(load),
                    rationale=f"Key muscle for sparing the Achilles ({muscle}); {stage.replace('-', ' ')} phase.",
                    rule="blagrove-2018",
                )
            )
            break
    return unique(items)


def _plyometric(ctx: Context, strength_sets: int) -> PlanItem | None:
    slug = ctx.substitute("double-leg-pogo-hop")
    if slug is None or ctx.exercises[slug].loading_type is not LoadingType.plyometric:
        return None
    sets = max(1, min(2, strength_sets - 1))  # always below the strength volume (seed 004)
    return PlanItem(
        exercise=slug,
        name=ctx.exercises[slug].name,
        sets=sets,
        reps=None,
        hold_seconds=None,
        duration_seconds=Range(min=20, max=20),
        per_side=False,
        tempo=None,
        rest_seconds=Range(min=60, max=90),
        load=Load(kind="bodyweight", value=None, text="body weight, quick quiet contacts"),
        heavy=False,
        rationale="Elastic loading for the tendon, kept below the strength volume.",
        rule="seed-004",
    )


def resilience_weeks(ctx: Context, weeks: int) -> list[PlanWeekDraft]:
    per_session = 5 if ctx.profile.minutes_per_session >= 25 else 4
    offsets = SESSION_OFFSETS[ctx.profile.strength_sessions_per_week]
    plan = []
    for number in range(1, weeks + 1):
        stage = _resilience_stage(number, weeks)
        lighter = number % 4 == 0 and number != weeks
        items = _key_items(ctx, stage, per_session)
        if stage == "power" and (hop := _plyometric(ctx, sum(i.sets for i in items))):
            items.append(hop)
        if lighter:
            items = [lighter_item(i) for i in items]
        start = ctx.start + dt.timedelta(weeks=number - 1)
        sessions = [
            session(ctx, start + dt.timedelta(days=o), "strength", f"Runner strength: {stage.replace('-', ' ')}", items)
            for o in offsets
        ]
        plan.append(
            PlanWeekDraft(number=number, starts_on=start, stage=stage, lighter=lighter, taper=False, sessions=sessions)
        )
    return plan


def lighter_item(item: PlanItem) -> PlanItem:
    load = item.load if not item.heavy else Load(kind="rpe", value=6, text="lighter: about 60% 1RM")
    return item.model_copy(
        update={
            "sets": max(1, item.sets - 1),
            "load": load,
            "heavy": False,
            "rationale": item.rationale + " Lighter week (every fourth).",
        }
    )
