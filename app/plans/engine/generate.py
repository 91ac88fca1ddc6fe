"""Profile + catalogue + start date -> a plan. Pure and deterministic: the same input
always gives the same plan. Protocol doses come from the catalogue's protocol records
(Beyer's heavy slow resistance table, Silbernagel's phases, Alfredson), so the data and
the engine cannot disagree; the rules of docs/evidence.md are encoded here."""

from __future__ import annotations

import datetime as dt

from app.catalogue.content import Catalogue
from app.plans.engine.context import PAIN_RULES, TENDON_MIN_WEEKS, Context, plan_length
from app.plans.engine.model import (
    PlanDraft,
    PlanKind,
    PlanOptions,
    PlanProfile,
)
from app.plans.engine.resilience import resilience_notes, resilience_weeks
from app.plans.engine.return_to_run import return_to_run_weeks
from app.plans.engine.taper import apply_taper
from app.plans.engine.tendon import (
    alfredson,
    choose_protocol,
    heavy_slow_resistance,
    severe_pain_start,
    silbernagel,
    silbernagel_start_phase,
)


def generate(
    profile: PlanProfile, catalogue: Catalogue, start: dt.date, kind: PlanKind, options: PlanOptions | None = None
) -> PlanDraft:
    """The plan for ``profile`` from ``start``."""
    ctx = Context(profile, catalogue, options or PlanOptions(), start)
    notes: list[str] = []
    sources: list[str] = []
    if kind is PlanKind.resilience:
        protocol = "runner-strength-guidance"
        weeks = resilience_weeks(ctx, plan_length(ctx, 12))
        notes += resilience_notes(ctx)
        sources += ["seed-000", "blagrove-2018", "bazyler-2015", "seed-004", "acsm-2009", "zourdos-2016"]
        sources += sorted({i.rule for w in weeks for s in w.sessions for i in s.items})
    elif kind is PlanKind.achilles:
        protocol = choose_protocol(ctx)
        length = plan_length(ctx, TENDON_MIN_WEEKS, TENDON_MIN_WEEKS)
        weeks = {
            "heavy-slow-resistance": heavy_slow_resistance,
            "alfredson-eccentric": alfredson,
            "silbernagel-pain-monitored": silbernagel,
        }[protocol](ctx, length)
        sources += {
            "heavy-slow-resistance": ["beyer-2015"],
            "alfredson-eccentric": ["alfredson-1998"],
            "silbernagel-pain-monitored": ["silbernagel-2007"],
        }[protocol]
        if protocol == "silbernagel-pain-monitored":
            notes.append(f"Silbernagel phase {silbernagel_start_phase(profile)} to start, from the entry criteria.")
        notes.append("Tendons adapt slowly: keep loading for 12 weeks or more (Bohm 2015).")
        sources.append("bohm-2015")
    else:
        protocol = "silbernagel-pain-monitored"
        weeks = return_to_run_weeks(ctx, plan_length(ctx, TENDON_MIN_WEEKS, TENDON_MIN_WEEKS))
        notes.append("Running returns when heel-raise endurance and hop pain allow, then grows at most 20% a week.")
        sources += ["silbernagel-2007", "lunsford-perry-1995", "nutrients-2019-hop"]
    if ctx.insertional:
        notes.append(
            "Insertional pain: no heel drops below the level of a step; floor-level work instead (Fahlström 2003)."
        )
        sources.append("fahlstrom-2003")
    if ctx.severe_pain:
        if kind is not PlanKind.resilience:  # strength plans keep every key muscle, with calf holds first
            weeks = severe_pain_start(ctx, weeks)
        notes.append("Pain above 5/10: no plyometrics; isometric and slow work first.")
    if kind is not PlanKind.resilience:  # strength plans build their own season around the race
        weeks = apply_taper(ctx, weeks, continue_after_race=True)
    if profile.race_date is not None and kind is not PlanKind.resilience:
        notes.append(
            f"Race on {profile.race_date.isoformat()}: strength tapers over the last {ctx.options.taper_days} days"
            + (", with no heavy lifting in the final week." if ctx.options.heavy_free_final_week else ".")
        )
    notes += PAIN_RULES
    sources.append("silbernagel-2007")
    return PlanDraft(
        kind=kind, protocol=protocol, start_date=start, weeks=weeks, notes=notes, sources=sorted(set(sources))
    )
