"""The Achilles tendon protocols: heavy slow resistance (Beyer 2015), Alfredson's
eccentrics (1998) and Silbernagel's pain-monitored phases (2007)."""

from __future__ import annotations

import datetime as dt

from app.catalogue.content import Prescription, Range
from app.plans.engine.context import (
    HSR_MACHINES,
    SESSION_OFFSETS,
    Context,
    PlanError,
    item_from,
    session,
    stage_for,
    unique,
)
from app.plans.engine.model import (
    PlanProfile,
    PlanWeekDraft,
    ProtocolChoice,
)


def heavy_slow_resistance(ctx: Context, weeks: int) -> list[PlanWeekDraft]:
    protocol = ctx.protocols["heavy-slow-resistance"]
    plan = []
    for number in range(1, weeks + 1):
        stage = stage_for(protocol, number)
        start = ctx.start + dt.timedelta(weeks=number - 1)
        items = unique(
            item_from(ctx, p, rule="beyer-2015", rationale=f"Heavy slow resistance, {stage.name}: 3 s up, 3 s down.")
            for p in stage.prescriptions
        )
        sessions = [
            session(ctx, start + dt.timedelta(days=o), "tendon", f"Heavy slow resistance: {stage.name}", items)
            for o in SESSION_OFFSETS[3]
        ]
        plan.append(
            PlanWeekDraft(
                number=number, starts_on=start, stage=stage.name, lighter=False, taper=False, sessions=sessions
            )
        )
    return plan


def alfredson(ctx: Context, weeks: int) -> list[PlanWeekDraft]:
    protocol = ctx.protocols["alfredson-eccentric"]
    stage = stage_for(protocol, 1)
    plan = []
    for number in range(1, weeks + 1):
        start = ctx.start + dt.timedelta(weeks=number - 1)
        items = unique(
            item_from(
                ctx,
                p,
                rule="alfredson-1998",
                rationale="Alfredson eccentrics: continue with mild pain; add load once pain-free.",
            )
            for p in stage.prescriptions
        )
        sessions = [
            session(ctx, start + dt.timedelta(days=o), "tendon", "Alfredson eccentric heel drops", items, times=2)
            for o in SESSION_OFFSETS[7]
        ]
        plan.append(
            PlanWeekDraft(
                number=number, starts_on=start, stage=stage.name, lighter=False, taper=False, sessions=sessions
            )
        )
    return plan


def silbernagel_start_phase(profile: PlanProfile) -> int:
    """Entry criteria: fewer than 10 single-leg heel raises -> phase 1; pain -> phase 2; else 3."""
    if profile.single_leg_heel_raises is None or profile.single_leg_heel_raises < 10:
        return 1
    if profile.achilles_pain > 2:
        return 2
    return 3


def silbernagel(ctx: Context, weeks: int) -> list[PlanWeekDraft]:
    protocol = ctx.protocols["silbernagel-pain-monitored"]
    phases = {s.order: s for s in protocol.stages}
    first = silbernagel_start_phase(ctx.profile)
    # Phase 1 for 2 weeks, phase 2 for 3, then phase 3: shifted by the starting phase.
    schedule = {1: 2, 2: 3}
    plan = []
    week_in = 0
    phase = first
    for number in range(1, weeks + 1):
        if phase in schedule and week_in >= schedule[phase]:
            phase, week_in = phase + 1, 0
        week_in += 1
        stage = phases[min(phase, 3)]
        start = ctx.start + dt.timedelta(weeks=number - 1)
        items = unique(
            item_from(ctx, p, rule="silbernagel-2007", rationale=f"Silbernagel {stage.name}, pain-monitored.")
            for p in stage.prescriptions
        )
        if phase < 3:
            sessions = [
                session(ctx, start + dt.timedelta(days=o), "tendon", stage.name, items) for o in SESSION_OFFSETS[7]
            ]
        else:  # weighted work 3 days a week, never on consecutive days
            sessions = [
                session(ctx, start + dt.timedelta(days=o), "tendon", stage.name, items) for o in SESSION_OFFSETS[3]
            ]
        plan.append(
            PlanWeekDraft(
                number=number, starts_on=start, stage=stage.name, lighter=False, taper=False, sessions=sessions
            )
        )
    return plan


def severe_pain_start(ctx: Context, plan: list[PlanWeekDraft]) -> list[PlanWeekDraft]:
    """Pain above 5/10: the first two weeks are isometric holds and slow seated raises."""
    holds = [
        Prescription(exercise="two-leg-calf-raise-hold", sets=Range(min=4, max=4), hold_seconds=Range(min=30, max=45)),
        Prescription(
            exercise="calf-raise-hold", sets=Range(min=3, max=3), hold_seconds=Range(min=30, max=45), per_side=True
        ),
        Prescription(exercise="seated-heel-raise", sets=Range(min=3, max=3), reps=Range(min=10, max=15), tempo="3-0-3"),
    ]
    items = unique(
        item_from(
            ctx,
            p,
            rule="seed-004",
            rationale="Pain above 5/10: slow and isometric loading first, in a range that is tolerable.",
        )
        for p in holds
    )
    for week in plan[:2]:
        week.stage = "isometric start (pain above 5/10)"
        for s in week.sessions:
            s.items, s.heavy, s.focus = list(items), False, "Isometric holds and slow heel raises"
    return plan


def choose_protocol(ctx: Context) -> str:
    choice = ctx.options.protocol
    if choice is ProtocolChoice.alfredson:
        return "alfredson-eccentric"
    if choice is ProtocolChoice.heavy_slow_resistance:
        missing = HSR_MACHINES - ctx.equipment
        if missing:
            raise PlanError("options.protocol", f"Heavy slow resistance needs {', '.join(sorted(missing))}.")
        return "heavy-slow-resistance"
    if choice is ProtocolChoice.silbernagel:
        return "silbernagel-pain-monitored"
    if ctx.equipment >= HSR_MACHINES and not ctx.severe_pain:
        return "heavy-slow-resistance"
    return "silbernagel-pain-monitored"
