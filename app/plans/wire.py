"""A plan's JSON with each list of exercise items written once.

A plan's sessions share their items: every session of a stage holds the same frozen item
objects, so a 12-week Achilles preview of 52 KB holds 108 items, 45 KB of its text, made
of 15 objects in a handful of lists. pydantic-core writes every occurrence anew (about
190 us of CPU for that preview). Here the plan is written without its sessions' items,
each distinct list of items once, and the lists are spliced back in their place: the same
bytes for about half the CPU.

The splice point is each session's ``"run"`` key, which directly follows ``"items"``:
with the items left out, the text ``,"run":`` occurs once per session and nowhere else (a
JSON string never holds an unescaped quote, and no model of a plan has another field of
that name). Where that does not hold, the plan is written whole, as pydantic-core would.
"""

from __future__ import annotations

from app.plans.engine.model import PlanDraft, PlanItem
from app.plans.engine.tendon import shared_by_plans

_ITEMS_LEFT_OUT = {"weeks": {"__all__": {"sessions": {"__all__": {"items"}}}}}
_RUN = b',"run":'
_ITEM = PlanItem.__pydantic_serializer__
# The lists of items that the engine keeps for later plans (tendon.stage_items), written
# before: by their items' ids, with the items themselves, so that those ids are not reused
# while remembered. Items are frozen. Lists made for one plan (a resilience plan's) are
# written once per plan and not kept. Bounded: cleared once it holds this many.
_WRITTEN: dict[tuple[int, ...], tuple[tuple[PlanItem, ...], bytes]] = {}
_WRITTEN_KEPT = 1024


def plan_json(plan: PlanDraft) -> bytes:
    """``plan`` (a draft, or a model derived from it) as its own serializer writes it."""
    spliced = spliced_json(plan)
    return spliced if spliced is not None else type(plan).__pydantic_serializer__.to_json(plan)


def spliced_json(plan: PlanDraft) -> bytes | None:
    """The same bytes by splicing, or None where the text does not split as expected."""
    pieces = type(plan).__pydantic_serializer__.to_json(plan, exclude=_ITEMS_LEFT_OUT).split(_RUN)
    if len(pieces) != sum(len(week.sessions) for week in plan.weeks) + 1:
        return None
    written: dict[tuple[int, ...], bytes] = {}  # this plan's lists, by their items' ids
    out = [pieces[0]]
    rest = iter(pieces[1:])
    for week in plan.weeks:
        for session in week.sessions:
            items = session.items
            key = tuple(map(id, items))
            text = written.get(key)
            if text is None:
                text = written[key] = _items_json(key, items)
            out.append(text)
            out.append(next(rest))
    return b"".join(out)


def _items_json(key: tuple[int, ...], items: list[PlanItem]) -> bytes:
    """A session's items as spliced in after its ``"times_per_day"``: ``,"items":[...],"run":``."""
    kept = _WRITTEN.get(key)
    if kept is not None:
        return kept[1]
    text = b',"items":[' + b",".join([_ITEM.to_json(i) for i in items]) + b"]" + _RUN
    if items and shared_by_plans(items):
        if len(_WRITTEN) >= _WRITTEN_KEPT:
            _WRITTEN.clear()
        _WRITTEN[key] = (tuple(items), text)
    return text
