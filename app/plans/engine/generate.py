"""Profile + catalogue + start date -> a plan. Pure and deterministic: the same input
always gives the same plan. Protocol doses come from the catalogue's protocol records
(Beyer's heavy slow resistance table, Silbernagel's phases, Alfredson), so the data and
the engine cannot disagree; the rules of docs/evidence.md are encoded here."""

from __future__ import annotations

import datetime as dt

from app.catalogue.content import Catalogue
from app.plans.engine.context import PAIN_RULES, Context, plan_length
from app.plans.engine.model import (
    PlanDraft,
    PlanKind,
    PlanOptions,
    PlanProfile,
    PlanStage,
)
from app.plans.engine.recovery import race_recovery
from app.plans.engine.resilience import resilience_notes, resilience_weeks
from app.plans.engine.staged import Layout, layout
from app.plans.engine.stages import PlanState
from app.plans.engine.taper import apply_taper


def generate(
    profile: PlanProfile,
    catalogue: Catalogue,
    start: dt.date,
    kind: PlanKind,
    options: PlanOptions | None = None,
    state: PlanState | None = None,
) -> PlanDraft:
    """The plan for ``profile`` from ``start``; with a ``state`` (achilles and return-to-run
    plans), only the weeks from the state's week on, laid out from where the plan is."""
    return generate_with_states(profile, catalogue, start, kind, options, state)[0]


def generate_with_states(
    profile: PlanProfile,
    catalogue: Catalogue,
    start: dt.date,
    kind: PlanKind,
    options: PlanOptions | None = None,
    state: PlanState | None = None,
) -> tuple[PlanDraft, dict[int, PlanState]]:
    """The plan and, for staged plans, the state each week was laid out from (by week number)."""
    plan_start = start
    states: dict[int, PlanState] = {}
    if state is not None:
        start = state.starts_on
    ctx = Context(profile, catalogue, options or PlanOptions(), start, None if state is None else state.baseline_pain)
    notes: list[str] = []
    sources: list[str] = []
    stages: list[PlanStage] = []
    if kind is PlanKind.resilience:
        protocol = "runner-strength-guidance"
        weeks = resilience_weeks(ctx, plan_length(ctx, 12))
        notes += resilience_notes(ctx)
        sources += ["seed-000", "blagrove-2018", "bazyler-2015", "seed-004", "acsm-2009", "zourdos-2016"]
        sources += sorted({i.rule for w in weeks for s in w.sessions for i in s.items})
    else:
        laid = layout(ctx, kind, state)
        protocol, weeks, stages = laid.protocol, laid.weeks, laid.view
        states = {s.week: s for s in laid.states}
        notes += staged_notes(ctx, kind, laid)
        sources += {
            "heavy-slow-resistance": ["beyer-2015"],
            "alfredson-eccentric": ["alfredson-1998"],
            "silbernagel-pain-monitored": ["silbernagel-2007"],
        }[protocol]
        if kind is PlanKind.return_to_run:
            sources += ["lunsford-perry-1995", "nutrients-2019-hop", "silbernagel-crossley-2015"]
        sources.append("bohm-2015")
    if ctx.insertional:
        notes.append(
            "Insertional pain: no heel drops below the level of a step; floor-level work instead (Fahlström 2003)."
        )
        sources.append("fahlstrom-2003")
    if ctx.severe_pain:
        # Strength plans keep every key muscle with calf holds first; staged plans start with
        # an isometric stage. Both are built in, so nothing is overwritten here.
        notes.append("Pain above 5/10: no plyometrics; isometric and slow work first.")
    if kind is not PlanKind.resilience:  # strength plans build their own season around the race
        weeks = race_recovery(ctx, apply_taper(ctx, weeks, continue_after_race=True))
    if profile.race_date is not None and kind is not PlanKind.resilience:
        notes.append(
            f"Race on {profile.race_date.isoformat()}: strength tapers over the last {ctx.options.taper_days} days"
            + (", with no heavy lifting in the final week." if ctx.options.heavy_free_final_week else ".")
        )
    notes += PAIN_RULES
    sources.append("silbernagel-2007")
    draft = PlanDraft(
        kind=kind,
        protocol=protocol,
        start_date=start if state is None else plan_start,
        weeks=weeks,
        notes=notes,
        sources=sorted(set(sources)),
        stages=stages,
    )
    return draft, states


def staged_notes(ctx: Context, kind: PlanKind, laid: Layout) -> list[str]:
    first = laid.states[0] if laid.states else None
    notes = []
    if first is not None and first.week == 1:
        notes.append(f"Starts at {laid.stages[first.stage].name}, from the entry criteria and your profile.")
    notes.append(
        "Stages move on criteria, not dates: each week is judged on your logs (pain during sessions and runs, "
        "morning pain against your usual level, the week's sessions, the heel-raise and hop tests)."
    )
    if laid.protocol == "alfredson-eccentric" and ("step" not in ctx.equipment or ctx.insertional):
        notes.append(
            "Alfredson's heel drops below the level of a step are done as slow lowerings on the floor "
            + ("(insertional pain)" if ctx.insertional else "(no step)")
            + ", with the knee straight and with it bent, along the progression graph."
        )
    if kind is PlanKind.return_to_run:
        notes.append(
            f"Running starts with walk-run and grows one variable at a time, at most 20% a week, never above your "
            f"usual {ctx.profile.weekly_distance_km:g} km a week; if pain rises, a week without running, then a "
            "restart one step back."
        )
    notes.append("Tendons adapt slowly: keep loading for 12 weeks or more (Bohm 2015).")
    return notes
