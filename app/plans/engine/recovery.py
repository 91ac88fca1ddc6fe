"""After a race inside a tendon plan: a few days with no heavy tendon loading before heavy
work resumes (practice, not trial-tested: ``options.race_recovery_days``, default 4)."""

from __future__ import annotations

import datetime as dt

from app.catalogue.content import LoadingType
from app.plans.engine.context import Context
from app.plans.engine.model import PlanWeekDraft
from app.plans.engine.stages import SEVERE_START
from app.plans.engine.tendon import stage_items


def race_recovery(ctx: Context, weeks: list[PlanWeekDraft]) -> list[PlanWeekDraft]:
    race = ctx.profile.race_date
    if race is None:
        return weeks
    last = race + dt.timedelta(days=ctx.options.race_recovery_days)
    gentle = [
        i.model_copy(update={"rationale": "After the race: light holds and slow raises, no heavy loading yet."})
        for i in stage_items(ctx, "isometric-start", SEVERE_START, {})
    ]
    for week in weeks:
        kept = []
        for s in week.sessions:
            if not (race < s.day <= last) or s.kind not in ("tendon", "strength"):
                kept.append(s)
                continue
            items = [
                i.model_copy(update={"rationale": i.rationale + " Light after the race: no heavy loading yet."})
                for i in s.items
                if not i.heavy and ctx.exercises[i.exercise].loading_type is not LoadingType.plyometric
            ]
            s.items, s.heavy, s.focus = items or gentle, False, f"{s.focus} (recovery after the race)"
            kept.append(s)
        week.sessions = kept
    return [w for w in weeks if w.sessions]
