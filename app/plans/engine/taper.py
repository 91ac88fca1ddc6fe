"""Strength around a race: the taper before it."""

from __future__ import annotations

import datetime as dt

from app.plans.engine.context import Context
from app.plans.engine.model import (
    PlanWeekDraft,
)
from app.plans.engine.resilience import lighter_item


def apply_taper(ctx: Context, plan: list[PlanWeekDraft], *, continue_after_race: bool) -> list[PlanWeekDraft]:
    """Halve strength volume over the taper days, no heavy lifting in the final week, no
    session on race day. Tendon plans continue after the race (they need 12 weeks)."""
    race = ctx.profile.race_date
    if race is None or race < ctx.start:
        return plan
    taper_from = race - dt.timedelta(days=ctx.options.taper_days)
    final_week = race - dt.timedelta(days=7)
    for week in plan:
        week.sessions = [s for s in week.sessions if s.day < race or (continue_after_race and s.day > race)]
        for s in week.sessions:
            if not taper_from <= s.day < race or s.kind == "run":
                continue
            week.taper = True
            items = [
                i.model_copy(
                    update={"sets": max(1, (i.sets + 1) // 2), "rationale": i.rationale + " Taper: half the sets."}
                )
                for i in s.items
            ]
            if s.day >= final_week and ctx.options.heavy_free_final_week:
                items = [
                    lighter_item(i, " Nothing heavy in the final week before the race.") if i.heavy else i
                    for i in items
                ]
            s.items, s.heavy = items, any(i.heavy for i in items)
    return [w for w in plan if w.sessions]
