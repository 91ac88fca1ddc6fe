"""A plan's JSON with each list of exercise items written once.

A plan's sessions share their items: the engine gives every session of a stage the same
frozen item objects (``tendon.stage_items``), so a 12-week Achilles preview of 52 KB holds
108 items, 45 KB of its text, made of 15 objects in a handful of lists. pydantic-core
writes every occurrence anew (about 190 us of CPU for that preview). Here the plan is
written without its sessions' items, each distinct list of items once, and the lists are
spliced back in their place: the same bytes for about half the CPU.

The splice point is each session's ``"run"`` key, which directly follows ``"items"``:
with the items left out, the text ``,"run":`` occurs once per session and nowhere else (a
JSON string never holds an unescaped quote, and no model of a plan has another field of
that name). Where that does not hold, the plan is written whole, as pydantic-core would.
"""

from __future__ import annotations

from app.plans.engine.model import PlanDraft, PlanItem

_ITEMS_LEFT_OUT = {"weeks": {"__all__": {"sessions": {"__all__": {"items"}}}}}
_RUN = b',"run":'
_ITEM = PlanItem.__pydantic_serializer__
# Lists of items written before, by their items' ids, with the items themselves, so that
# those ids are not reused while remembered. Items are frozen, and plans share them
# (tendon.stage_items): most previews write no item at all. Bounded as that cache is.
_WRITTEN: dict[tuple[int, ...], tuple[tuple[PlanItem, ...], bytes]] = {}
_WRITTEN_KEPT = 2048


def plan_json(plan: PlanDraft) -> bytes:
    """``plan`` (a draft, or a model derived from it) as its own serializer writes it."""
    spliced = spliced_json(plan)
    return spliced if spliced is not None else type(plan).__pydantic_serializer__.to_json(plan)


def spliced_json(plan: PlanDraft) -> bytes | None:
    """The same bytes by splicing, or None where the text does not split as expected."""
    pieces = type(plan).__pydantic_serializer__.to_json(plan, exclude=_ITEMS_LEFT_OUT).split(_RUN)
    if len(pieces) != sum(len(week.sessions) for week in plan.weeks) + 1:
        return None
    out = [pieces[0]]
    rest = iter(pieces[1:])
    for week in plan.weeks:
        for session in week.sessions:
            out.append(_items_json(session.items))
            out.append(next(rest))
    return b"".join(out)


def _items_json(items: list[PlanItem]) -> bytes:
    """A session's items as the text between its ``"times_per_day"`` and ``"run"``."""
    key = tuple(map(id, items))
    kept = _WRITTEN.get(key)
    if kept is not None:
        return kept[1]
    text = b',"items":[' + b",".join([_ITEM.to_json(i) for i in items]) + b"]" + _RUN
    if len(_WRITTEN) >= _WRITTEN_KEPT:
        _WRITTEN.clear()
    _WRITTEN[key] = (tuple(items), text)
    return text
