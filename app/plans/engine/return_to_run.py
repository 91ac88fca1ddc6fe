"""Return to running after Achilles pain: the tendon programme with graded runs."""

from __future__ import annotations

import datetime as dt

from app.plans.engine.context import HEEL_RAISE_NORMAL, RUN_OFFSETS, Context, session
from app.plans.engine.model import (
    PlanWeekDraft,
    RunPrescription,
)
from app.plans.engine.tendon import silbernagel


def return_to_run_weeks(ctx: Context, weeks: int) -> list[PlanWeekDraft]:
    plan = silbernagel(ctx, weeks)
    ready = (ctx.profile.single_leg_heel_raises or 0) >= HEEL_RAISE_NORMAL and ctx.profile.achilles_pain <= 2
    first_run_week = 1 if ready else 5
    distance = max(2.0, round(min(5.0, ctx.profile.weekly_distance_km * 0.15), 1))
    gate = (
        f"Before the first run: {HEEL_RAISE_NORMAL} single-leg heel raises in a row and hop pain at most 2/10 "
        "(Lunsford & Perry 1995; return-to-run trial protocol)."
    )
    for week in plan:
        if week.number < first_run_week:
            continue
        runs_done = week.number - first_run_week
        lighter = runs_done > 0 and runs_done % 4 == 3
        if runs_done > 0 and not lighter:
            distance = round(distance * 1.2, 1)  # at most +20% a week
        for offset in RUN_OFFSETS:
            day = week.starts_on + dt.timedelta(days=offset)
            week.sessions.append(
                session(
                    ctx,
                    day,
                    "run",
                    "Easy run",
                    [],
                    run=RunPrescription(
                        distance_km=distance,
                        effort="easy, conversational; stop if pain passes 5/10",
                        rationale="Graded return: two runs a week, at most 20% more each week.",
                        rule="nutrients-2019-hop",
                    ),
                    gate=gate if week.number == first_run_week else None,
                )
            )
        week.sessions.sort(key=lambda s: (s.day, s.kind))
        week.lighter = week.lighter or lighter
    return plan
