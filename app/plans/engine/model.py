"""The plan engine's input and output. Pure data: no database, no HTTP."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt

from app.catalogue.content import Range
from app.core.schemas import SLUG_PATTERN, Day, Weekday


class PlanKind(StrEnum):
    resilience = "resilience"
    achilles = "achilles"
    return_to_run = "return-to-run"


class ProtocolChoice(StrEnum):
    auto = "auto"
    alfredson = "alfredson"
    heavy_slow_resistance = "heavy-slow-resistance"
    silbernagel = "silbernagel"


class PlanProfile(BaseModel):
    """What the engine knows about the runner."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    experience: Literal["new", "intermediate", "advanced"] = Field(
        default="intermediate", description="Running experience."
    )
    weekly_distance_km: StrictFloat = Field(default=20, ge=0, le=500, description="Typical weekly running distance.")
    running_days_per_week: StrictInt = Field(default=3, ge=0, le=7, description="Typical running days a week.")
    goal: Literal["general-resilience", "5k", "10k", "half-marathon", "marathon", "ultra"] = Field(
        default="general-resilience", description="What the runner trains for."
    )
    race_date: Day | None = Field(default=None, description="Goal race, if any: strength tapers before it.")
    equipment: list[str] = Field(default=[], max_length=50, description="Available equipment (catalogue slugs).")
    strength_sessions_per_week: Literal[2, 3] = Field(default=2, description="Strength sessions a week.")
    minutes_per_session: StrictInt = Field(default=30, ge=10, le=180, description="Minutes per strength session.")
    achilles_pain: StrictInt = Field(default=0, ge=0, le=10, description="Current Achilles pain, 0-10.")
    achilles_pain_site: Literal["mid-portion", "insertional"] | None = Field(
        default=None, description="Where the Achilles pain is."
    )
    single_leg_heel_raises: StrictInt | None = Field(
        default=None, ge=0, le=200, description="Single-leg heel raises the runner can do in a row."
    )
    injury_history: list[str] = Field(default=[], max_length=50, description="Past injuries (catalogue slugs).")
    running_days: list[Weekday] = Field(
        default=[], max_length=7, description="The weekdays the runner usually runs; strength sessions go around them."
    )
    long_run_day: Weekday | None = Field(default=None, description="The weekday of the long run.")
    hard_run_days: list[Weekday] = Field(
        default=[],
        max_length=7,
        description="Weekdays of hard runs (intervals, tempo, races); inferred from the logged runs when stored.",
    )


class PlanOptions(BaseModel):
    # Numbers are finite: a threshold of Infinity or NaN means nothing, and stored in a
    # plan it made the plan's JSON unreadable on SQLite (every later list of plans failed).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    protocol: ProtocolChoice = Field(
        default=ProtocolChoice.auto,
        description="For achilles plans: auto chooses from the profile; alfredson, heavy-slow-resistance or "
        "silbernagel force one.",
    )
    weeks: StrictInt | None = Field(
        default=None,
        ge=4,
        le=52,
        description="Plan length; achilles and return-to-run plans last at least this long (and 12 weeks), "
        "until their last stage.",
    )
    taper_days: StrictInt = Field(
        default=12, ge=10, le=14, description="Days before the race over which strength tapers."
    )
    heavy_free_final_week: StrictBool = Field(default=True, description="No heavy lifting in the week before the race.")
    no_new_exercise_days: StrictInt = Field(
        default=14,
        ge=0,
        le=28,
        description="Strength plans: no exercise, plyometric or heavier load met for the first time this many days "
        "before the race (practice, not trial-tested).",
    )
    heavy_free_days: StrictInt = Field(
        default=7, ge=0, le=14, description="Strength plans: nothing heavy this many days before the race."
    )
    running_spike_pct: StrictFloat = Field(
        default=10,
        ge=0,
        le=100,
        description="Strength plans: a week-over-week rise in running distance above this (or an acute:chronic "
        "ratio of 1.5 or more) holds strength progression that week.",
    )
    recovery_days: StrictInt = Field(
        default=7,
        ge=0,
        le=28,
        description="Strength plans: days after the race of light work only, before heavy work resumes.",
    )
    race_recovery_days: StrictInt = Field(
        default=4,
        ge=2,
        le=14,
        description="Tendon plans: days after a race with no heavy tendon loading (practice, not trial-tested).",
    )
    run_step_weeks: StrictInt = Field(
        default=2,
        ge=1,
        le=2,
        description="Return to run: weeks at each step before the next variable changes (clinical practice: 1-2).",
    )
    run_steps: list[Literal["frequency", "duration", "consecutive-days", "intensity"]] = Field(
        default=["frequency", "duration", "consecutive-days", "intensity"],
        min_length=1,
        max_length=4,
        description="Return to run: the variables progressed after walk-run, one at a time, in this order.",
    )
    criteria_overrides: dict[str, float] = Field(
        default={},
        max_length=20,
        description="New thresholds for adjustable criteria (gate: false), by criterion slug; gates cannot change.",
    )


class Load(BaseModel):
    model_config = ConfigDict(frozen=True)  # shared by the items of many plans (tendon.stage_items)

    kind: Literal["rm", "percent_1rm", "bodyweight", "added", "rpe"] = Field(
        description="rm: an n-repetition maximum; percent_1rm; bodyweight; added: extra weight; rpe: effort."
    )
    value: StrictFloat | None = Field(description="The RM, the %1RM or the RPE; null for body weight and added load.")
    text: str = Field(description="The load in words.")


class PlanItem(BaseModel):
    model_config = ConfigDict(frozen=True)  # shared by the sessions of many plans (tendon.stage_items)

    exercise: str = Field(pattern=SLUG_PATTERN, description="The catalogue exercise.")
    name: str = Field(description="Its name.")
    sets: StrictInt = Field(ge=1, description="Sets.")
    reps: Range | None = Field(description="Repetitions per set.")
    hold_seconds: Range | None = Field(description="Seconds per hold.")
    duration_seconds: Range | None = Field(description="Seconds of timed work per set.")
    per_side: bool = Field(description="Sets and reps are per side.")
    tempo: str | None = Field(description="Seconds lowering-pause-lifting.")
    rest_seconds: Range | None = Field(description="Rest between sets.")
    load: Load = Field(description="How heavy.")
    heavy: bool = Field(description="A heavy loading item (an RM, >= 70% 1RM, or added weight).")
    rationale: str = Field(description="Why it is here, in one line.")
    rule: str = Field(description="The protocol or evidence key it follows (see /v1/sources, /v1/protocols).")


class RunPrescription(BaseModel):
    distance_km: StrictFloat = Field(gt=0, description="Distance.")
    effort: str = Field(description="How hard.")
    rationale: str = Field(description="Why, in one line.")
    rule: str = Field(description="The evidence key it follows.")
    minutes: StrictInt | None = Field(default=None, description="Minutes of running (walk breaks not counted).")
    intervals: str | None = Field(default=None, description="Walk-run: the run and walk intervals.")


class TestPrescription(BaseModel):
    test: Literal["heel-raise", "hop"] = Field(description="Which clinical test.")
    how: list[str] = Field(description="How to do it, step by step.")
    record: str = Field(description="What to log, as a clinical test record.")
    passes_when: list[str] = Field(description="The criteria it is judged against.")


class PlanSessionDraft(BaseModel):
    day: dt.date = Field(description="The date.")
    weekday: str = Field(description="Monday ... Sunday.")
    kind: Literal["strength", "tendon", "run", "test"] = Field(description="What the session is.")
    focus: str = Field(description="Its focus in a few words.")
    heavy: bool = Field(description="Whether it loads the tendon heavily.")
    times_per_day: StrictInt = Field(ge=1, le=2, description="2 for protocols done morning and evening.")
    items: list[PlanItem] = Field(description="The exercises and their doses.")
    run: RunPrescription | None = Field(description="For run sessions: the run.")
    gate: str | None = Field(description="A condition that must hold before the session is done.")
    test: TestPrescription | None = Field(default=None, description="For test sessions: the test.")


class PlanWeekDraft(BaseModel):
    number: StrictInt = Field(ge=1, description="Week of the plan, from 1.")
    starts_on: dt.date = Field(description="Its first day.")
    stage: str = Field(description="The protocol stage or training phase.")
    stage_slug: str | None = Field(default=None, description="The stage's slug (see the plan's `stages`).")
    lighter: bool = Field(description="A lighter (deload) week.")
    taper: bool = Field(description="Within the taper before the race.")
    sessions: list[PlanSessionDraft] = Field(description="Its sessions, by date.")


class PlanDraft(BaseModel):
    kind: PlanKind = Field(description="resilience, achilles or return-to-run.")
    protocol: str = Field(description="The protocol slug the plan follows (see /v1/protocols).")
    start_date: dt.date = Field(description="The first day.")
    weeks: list[PlanWeekDraft] = Field(description="The weeks in order.")
    notes: list[str] = Field(description="What the runner should know: choices made, cautions, the pain rules.")
    sources: list[str] = Field(description="Sources the plan's rules come from.")
    stages: list[PlanStage] = Field(
        default=[], description="Achilles and return-to-run plans: the stages, their criteria and dates."
    )


class CriterionPublic(BaseModel):
    slug: str = Field(description="Stable identifier, named by adaptation decisions.")
    metric: str = Field(description="What is measured (see the README's Plans section).")
    op: str = Field(description="How the measure compares with the value.")
    value: StrictFloat = Field(description="The threshold in force for this plan (after any override).")
    source: str = Field(description="Where the threshold comes from (see /v1/sources).")
    gate: bool = Field(description="True: from a trial or protocol; false: an adjustable default.")
    description: str = Field(description="The rule in words.")


class PlanStage(BaseModel):
    slug: str = Field(description="Stable identifier within the plan.")
    name: str = Field(description="Display name.")
    entry: list[CriterionPublic] = Field(description="All must hold to enter it.")
    exit: list[CriterionPublic] = Field(description="All must hold to leave it for the next stage.")
    min_weeks: StrictInt = Field(description="Fewest weeks in it.")
    max_weeks: StrictInt | None = Field(description="Usual longest stay.")
    earliest_start: dt.date | None = Field(description="When it starts at the earliest (the actual start when done).")
    latest_end: dt.date | None = Field(description="When it usually ends at the latest; criteria decide, not dates.")
    status: Literal["done", "current", "upcoming", "skipped"] = Field(description="Where the runner is.")


PlanDraft.model_rebuild()
