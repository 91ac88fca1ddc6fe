"""Return to running after Achilles pain: walk-run first, then one running variable at a
time (frequency, duration, consecutive days, intensity: clinical practice, not trial-tested,
so the order and the weeks per step are settings), never above the runner's usual weekly
distance, growing at most 20% a week (Nutrients 2019 trial protocol)."""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache

from app.plans.engine.context import Context, session
from app.plans.engine.model import PlanSessionDraft, RunPrescription

EASY_PACE_MIN_PER_KM = 7.0  # runstrong default for turning running minutes into distance
WEEKLY_RISE = 1.2  # at most 20% more a week (Nutrients 2019)
WALK_RUN = {"walk-run": (1, 2, 8), "walk-run-longer": (2, 1, 4)}  # run min, walk min, repeats
GROWS = frozenset({"continuous", "duration", "full-training"})  # steps that add volume
RUN_DAYS = {3: (1, 3, 5), 4: (0, 2, 4, 6), 5: (0, 1, 3, 4, 6), 6: (0, 1, 2, 3, 4, 5), 7: (0, 1, 2, 3, 4, 5, 6)}
SPREAD = frozenset({"walk-run", "walk-run-longer", "continuous", "frequency", "duration"})  # alternate days


def ceiling(ctx: Context) -> float:
    """The runner's usual weekly distance: a return-to-run plan never goes above it."""
    return ctx.profile.weekly_distance_km


def first_volume(ctx: Context) -> float:
    """The first walk-run week's distance, in whole 100 m down (rounding to the nearest
    could put a usual 3.28 km a week at 3.3)."""
    run, _, repeats = WALK_RUN["walk-run"]
    return math.floor(min(ceiling(ctx), 3 * run * repeats / EASY_PACE_MIN_PER_KM) * 10 + 1e-6) / 10


def next_volume(ctx: Context, step: str, km: float, *, entering: bool) -> float:
    """The weekly distance for the next week at ``step``: steps that add volume add at most
    20% (once when they start, or every week for duration and full training), never beyond
    the usual weekly distance."""
    grows = step in GROWS and (entering or step in ("duration", "full-training"))
    return min(ceiling(ctx), math.floor((km * WEEKLY_RISE if grows else km) * 10 + 1e-6) / 10)


def runs_per_week(ctx: Context, step: str, done: frozenset[str]) -> int:
    usual = max(3, min(7, ctx.profile.running_days_per_week))
    if "consecutive-days" in done or step == "consecutive-days":
        return usual
    if "frequency" in done or step == "frequency":
        return min(usual, 4)
    return 3


def split(ctx: Context, step: str, done: frozenset[str], km: float) -> list[tuple[int, float, int, str | None]]:
    """The week's runs: (day offset, distance, running minutes, walk-run intervals), within ``km``."""
    count = runs_per_week(ctx, step, done)
    days = RUN_DAYS[count]
    if count > 4 and step in SPREAD:
        days = RUN_DAYS[4]
    units = max(1, math.floor(km * 10 + 1e-6))  # in 100 m: the week is never above its volume
    days = days[: min(len(days), units)]
    if step in WALK_RUN:  # the same intervals on every run of the week
        run, walk, most = WALK_RUN[step]

        def distance_of(repeats: int) -> float:
            return max(0.1, math.floor(repeats * run / EASY_PACE_MIN_PER_KM * 10 + 1e-6) / 10)

        # As many repeats as fit the week's distance (so laying a week out again keeps it).
        repeats = next((r for r in range(most, 0, -1) if distance_of(r) * len(days) <= units / 10 + 1e-9), 1)
        distance = distance_of(repeats)
        intervals = f"{repeats} x ({run} min running, {walk} min walking)"
        return [(day, distance, repeats * run, intervals) for day in days]
    base, extra = divmod(units, len(days))
    runs: list[tuple[int, float, int, str | None]] = []
    for n, day in enumerate(days):
        distance = (base + (1 if n >= len(days) - extra else 0)) / 10
        runs.append((day, distance, max(1, int(distance * EASY_PACE_MIN_PER_KM)), None))
    return runs


def prescribed(ctx: Context, step: str, done: frozenset[str], km: float) -> float:
    """The weekly distance the runs of ``split`` add up to: the volume a plan's state holds."""
    return round(sum(distance for _, distance, _, _ in split(ctx, step, done, km)), 1)


@lru_cache(maxsize=512)
def prescription(
    step: str, distance: float, minutes: int, intervals: str | None, effort: str, usual: float
) -> RunPrescription:
    """One run's prescription; the same run recurs week after week, so it is built once."""
    return RunPrescription(
        distance_km=distance,
        effort=effort,
        rationale=(
            f"Return to run, {step.replace('-', ' ')}: one variable at a time, at most 20% more a week, "
            f"never above your usual {usual:g} km a week."
        ),
        rule="nutrients-2019-hop",
        minutes=minutes,
        intervals=intervals,
    )


def run_sessions(
    ctx: Context, step: str, done: frozenset[str], km: float, start: dt.date, *, gate: str | None
) -> list[PlanSessionDraft]:
    runs = split(ctx, step, done, km)
    sessions = []
    for n, (offset, distance, minutes, intervals) in enumerate(runs):
        effort = "easy, conversational; stop if pain passes 5/10"
        if intervals:
            effort = f"walk-run, {intervals}; easy; stop if pain passes 5/10"
        elif (step == "intensity" or "intensity" in done) and n == len(runs) - 1:
            effort = "easy, with 6 x 20 s strides at the end (quick, relaxed); stop if pain passes 5/10"
        sessions.append(
            session(
                ctx,
                start + dt.timedelta(days=offset),
                "run",
                "Walk-run" if intervals else "Easy run",
                [],
                run=prescription(step, distance, minutes, intervals, effort, ceiling(ctx)),
                gate=gate if n == 0 else None,
            )
        )
    return sessions
