"""Load and progress reports."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, StrictInt

from app.training.schemas import DEPRECATED


class WeekLoad(BaseModel):
    week_start: dt.date = Field(description="Monday of the week (the athlete's time zone).")
    running_km: float = Field(description="Running distance.")
    running_seconds: StrictInt = Field(description="Running time in seconds.")
    running_minutes: float = Field(
        json_schema_extra=DEPRECATED, description="Deprecated: `running_seconds` / 60, to 0.1."
    )
    runs: int = Field(description="Runs logged.")
    workouts: int = Field(description="Strength workouts logged.")
    strength_sets: dict[str, int] = Field(
        description="Completed sets per muscle group (a set counts for its exercise's primary groups)."
    )
    load: float = Field(description="Session load: session RPE x minutes, runs and workouts together (Foster 2001).")
    monotony: float | None = Field(
        description="Mean daily load / its standard deviation (Foster 1998); null when loads do not vary."
    )
    strain: float | None = Field(description="Weekly load x monotony.")
    distance_change_pct: float | None = Field(description="Running distance against the week before, in %.")
    distance_warning: bool = Field(description="The distance rose by more than the threshold.")
    acwr: float | None = Field(
        description="Acute:chronic workload ratio at the week's end (7 days / 28-day weekly average)."
    )
    acwr_flag: Literal["low", "high"] | None = Field(
        description="Outside 0.8-1.3: low or high. Information, not a gate."
    )
    acwr_band: Literal["low", "sweet-spot", "high", "danger"] | None = Field(
        default=None,
        description="Below 0.8 low, 0.8-1.3 sweet-spot, 1.3-1.5 high, 1.5 or more danger (Gabbett 2016's bands, "
        "strongly criticised: Lolli 2019, Impellizzeri 2020). Information, never a gate.",
    )
    acwr_note: str | None = Field(
        default=None, description="Why the ratio is null (for example fewer than 28 days of history)."
    )
    previous_running_km: float | None = Field(default=None, description="Running distance the week before.")
    return_from_zero: bool = Field(
        default=False, description="No running the week before, after earlier running: any return reads as a spike."
    )
    sessions_without_rpe: int = Field(
        default=0, description="Runs and workouts without a session RPE: their load is unknown, not zero."
    )
    warnings: list[str] = Field(default=[], description="What to look at this week, in words.")


class LoadReport(BaseModel):
    first_day: dt.date = Field(description="The first day reported.")
    last_day: dt.date = Field(description="The last day reported.")
    threshold_pct: float = Field(description="The week-over-week distance change that draws a warning.")
    weeks: list[WeekLoad] = Field(description="One row per week, oldest first.")
    notes: list[str] = Field(description="How to read the figures, with the caveats.")
    sources: list[str] = Field(description="Sources of the formulas (see /v1/sources).")


class SessionProgress(BaseModel):
    day: dt.date = Field(description="The workout's day.")
    workout_id: str = Field(description="The workout.")
    sets: int = Field(description="Completed sets of the exercise.")
    volume_kg: float = Field(description="Sum of reps x added load over completed sets.")
    best_set: str | None = Field(description="The set with the highest estimate, e.g. 40 kg x 8.")
    e1rm_epley: float | None = Field(
        description="Best Epley estimate of the one-repetition maximum (sets of <= 10 reps)."
    )
    e1rm_brzycki: float | None = Field(description="Best Brzycki estimate (sets of <= 10 reps).")


class PainWeek(BaseModel):
    week_start: dt.date = Field(description="Monday of the week.")
    mean_pain: float = Field(description="Mean morning pain that week, 0-10.")
    mean_stiffness: float = Field(description="Mean morning stiffness that week, 0-10.")
    rising: bool = Field(description="Higher than the week before: the pain-monitoring model says reduce the load.")


class Adherence(BaseModel):
    planned: int = Field(description="Planned strength and tendon sessions due so far in active plans.")
    completed: int = Field(description="Of those, sessions with a linked workout.")
    rate: float | None = Field(description="completed / planned; null with nothing due.")


class ProgressReport(BaseModel):
    exercise: str | None = Field(description="The exercise asked about, if any.")
    sessions: list[SessionProgress] = Field(description="Each workout with the exercise, oldest first.")
    pain: dict[str, list[PainWeek]] = Field(description="Per site, the weekly pain trend with the week-to-week rule.")
    adherence: Adherence = Field(description="Plan adherence.")
    notes: list[str] = Field(description="How to read the figures.")
