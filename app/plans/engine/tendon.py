"""The Achilles tendon protocols: heavy slow resistance (Beyer 2015), Alfredson's
eccentrics (1998) and Silbernagel's pain-monitored phases (2007), one stage's week at a
time, with the exercise swaps a plan's state carries and the caution for insertional pain."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from app.catalogue.content import Catalogue, ProtocolStage
from app.plans.engine.context import (
    HSR_MACHINES,
    SESSION_OFFSETS,
    Context,
    PlanError,
    item_from,
    session,
    works_calves,
)
from app.plans.engine.model import PlanItem, PlanSessionDraft, ProtocolChoice

INSERTIONAL_CAUTION = " Insertional pain: keep the heel at or above floor level, never lower it below (Fahlström 2003)."
RULES = {
    "heavy-slow-resistance": ("beyer-2015", "Heavy slow resistance, {stage}: 3 s up, 3 s down."),
    "alfredson-eccentric": (
        "alfredson-1998",
        "Alfredson eccentrics: continue with mild pain; add load once pain-free.",
    ),
    "silbernagel-pain-monitored": ("silbernagel-2007", "Silbernagel {stage}, pain-monitored."),
    "isometric-start": ("seed-004", "Pain above 5/10: slow and isometric loading first, in a range that is tolerable."),
}


# A stage's items depend on the catalogue snapshot, the stage's dose, the protocol, the
# state's swaps and three facts of the context (equipment, pain above 5/10, insertional
# pain), so plans share them: a 12-week plan asks for five stages' items, about a quarter
# of the engine's work, and most plans ask for the same few. The snapshot and the dose are
# kept with their items, so that their ids are not reused while remembered; items are
# frozen. Bounded: cleared once it holds this many.
_ITEMS: dict[tuple[object, ...], tuple[Catalogue, ProtocolStage, tuple[PlanItem, ...]]] = {}
_ITEMS_KEPT = 1024
# The items of _ITEMS by id. The items are kept too: an entry left by two threads racing
# (both making a stage's items, or one clearing while another adds) then holds its own
# item until the next clear, and never names another object that took a freed id.
_KEPT: dict[int, PlanItem] = {}


def shared_by_plans(items: Iterable[PlanItem]) -> bool:
    """Whether every one of ``items`` is kept here for later plans (and not made for one)."""
    return all(_KEPT.get(id(item)) is item for item in items)


def stage_items(ctx: Context, protocol: str, stage: ProtocolStage, swaps: Mapping[str, str]) -> list[PlanItem]:
    """The stage's prescriptions as items: the state's swaps first, then the athlete's
    equipment and pain (the nearest easier variant on the progression graph)."""
    key = (
        id(ctx.catalogue),
        id(stage),
        protocol,
        tuple(sorted(swaps.items())),
        ctx.equipment,
        ctx.severe_pain,
        ctx.insertional,
    )
    kept = _ITEMS.get(key)
    if kept is not None and kept[0] is ctx.catalogue and kept[1] is stage:
        return list(kept[2])
    items = _stage_items(ctx, protocol, stage, swaps)
    if len(_ITEMS) >= _ITEMS_KEPT:
        _KEPT.clear()
        _ITEMS.clear()
    _ITEMS[key] = (ctx.catalogue, stage, tuple(items))
    _KEPT.update((id(item), item) for item in items)
    return items


def _stage_items(ctx: Context, protocol: str, stage: ProtocolStage, swaps: Mapping[str, str]) -> list[PlanItem]:
    key = "isometric-start" if stage.slug == "isometric-start" else protocol
    rule, text = RULES[key]
    items: list[PlanItem] = []
    for p in stage.prescriptions:
        wanted = swaps.get(p.exercise, p.exercise)
        prescription = p if wanted == p.exercise else p.model_copy(update={"exercise": wanted, "load": None})
        item = item_from(ctx, prescription, rule=rule, rationale=text.format(stage=stage.name))
        if item is None:
            continue
        if wanted != p.exercise and item.exercise == wanted:
            item = item.model_copy(
                update={"rationale": item.rationale + f" Changed from {ctx.exercises[p.exercise].name} by the log."}
            )
        if any(i.exercise == item.exercise for i in items):
            if protocol != "alfredson-eccentric":
                continue  # two prescriptions fell back to one exercise: keep it once
            # Alfredson keeps both knee positions even on the floor: straight (gastrocnemius), bent (soleus).
            item = item.model_copy(update={"rationale": item.rationale + " This time with the knee slightly bent."})
        if ctx.insertional and works_calves(ctx.exercises[item.exercise]):
            item = item.model_copy(update={"rationale": item.rationale + INSERTIONAL_CAUTION})
        items.append(item)
    if not items:
        needed = sorted({e for p in stage.prescriptions for e in ctx.exercises[p.exercise].equipment} - ctx.equipment)
        raise PlanError(
            "profile.equipment",
            f"{stage.name} cannot be planned with this equipment and pain"
            + (f": it needs {', '.join(needed)}." if needed else "."),
        )
    return items


def tendon_sessions(
    ctx: Context,
    protocol: str,
    stage: ProtocolStage,
    swaps: Mapping[str, str],
    start: dt.date,
) -> list[PlanSessionDraft]:
    items = stage_items(ctx, protocol, stage, swaps)
    times, offsets = 1, SESSION_OFFSETS[7]
    if protocol == "heavy-slow-resistance" or stage.slug == "phase-3":
        offsets = SESSION_OFFSETS[3]  # weighted work 3 days a week, never on consecutive days
    elif stage.slug == "phase-4":
        offsets = SESSION_OFFSETS[2]  # maintenance 2-3 times a week
    elif protocol == "alfredson-eccentric":
        times = 2
    focus = "Alfredson eccentric heel drops" if protocol == "alfredson-eccentric" else stage.name
    if protocol == "heavy-slow-resistance":
        focus = f"Heavy slow resistance: {stage.name}"
    heavy = any(i.heavy and works_calves(ctx.exercises[i.exercise]) for i in items)
    return [
        session(ctx, start + dt.timedelta(days=o), "tendon", focus, items, times=times, heavy=heavy) for o in offsets
    ]


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
