"""Achilles and return-to-run plans laid out from a state: each stage is assumed to end at
its earliest date (its ``min_weeks``), so the weeks ahead are a projection; adaptation moves
the state on the logged evidence and the weeks after the judged one are laid out again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from app.catalogue.content import Criterion, LoadingType
from app.plans.engine.context import TENDON_MIN_WEEKS, Context, PlanError, session
from app.plans.engine.model import PlanKind, PlanSessionDraft, PlanStage, PlanWeekDraft, TestPrescription
from app.plans.engine.return_to_run import first_volume, next_volume, prescribed, run_sessions
from app.plans.engine.stages import (
    TEST_METRICS,
    PlanState,
    Stage,
    check_overrides,
    initial_state,
    profile_values,
    protocol_stages,
    run_stages,
    stage_view,
)
from app.plans.engine.tendon import choose_protocol, tendon_sessions

MAX_WEEKS = 104
KIND_ORDER = {"test": 0, "tendon": 1, "strength": 2, "run": 3}
TESTS = {
    "heel-raise": TestPrescription(
        test="heel-raise",
        how=[
            "Warm up with a few minutes of walking.",
            "Stand on the affected leg on a flat floor, fingertips on a wall for balance, other foot off the floor.",
            "Rise as high as you can and lower again, about one rise every 2 seconds, knee straight.",
            "Count the full-height rises; stop when you can no longer rise fully, lose the rhythm or pain passes 5/10.",
            "Rest two minutes and test the other leg the same way.",
        ],
        record="A heel-raise test: reps on the left and on the right, which side is affected, and the pain (0-10).",
        passes_when=[
            "At least 25 rises on the affected side, the usual normal value (Lunsford & Perry 1995).",
            "The affected side does at least 90% of the other side's rises (a clinic target, adjustable).",
        ],
    ),
    "hop": TestPrescription(
        test="hop",
        how=[
            "Warm up with walking and 20 two-leg heel raises.",
            "Hop on the spot on the affected leg, about 10 times, landing softly on the forefoot.",
            "Rate the Achilles pain during the hops from 0 to 10; stop at once if it passes 5/10.",
            "Repeat on the other leg.",
        ],
        record="A hop test: pain-free hops on the left and on the right, which side is affected, and the pain (0-10).",
        passes_when=[
            "Pain during hopping at most 2/10 (Nutrients 2019 trial protocol).",
            "About 10 pain-free hops on the affected side (clinical practice, adjustable).",
        ],
    ),
}


@dataclass(frozen=True)
class Layout:
    protocol: str
    stages: list[Stage]
    weeks: list[PlanWeekDraft]
    states: list[PlanState]  # the state each week was laid out from
    view: list[PlanStage]


def plan_stages(ctx: Context, kind: PlanKind) -> tuple[str, list[Stage]]:
    if kind is PlanKind.return_to_run:
        if ctx.profile.weekly_distance_km < 1:
            raise PlanError(
                "profile.weekly_distance_km",
                "A return to run rebuilds toward your usual weekly distance: give it (at least 1 km).",
            )
        return "silbernagel-pain-monitored", run_stages(ctx)
    protocol = choose_protocol(ctx)
    return protocol, protocol_stages(ctx, protocol)


def tests_for(criteria: Sequence[Criterion]) -> list[str]:
    return sorted({TEST_METRICS[c.metric] for c in criteria if c.metric in TEST_METRICS})


def test_sessions(ctx: Context, day: dt.date, names: Sequence[str], why: str) -> list[PlanSessionDraft]:
    return [
        session(ctx, day, "test", f"{name.replace('-', ' ').capitalize()} test: {why}", [], test=TESTS[name])
        for name in names
    ]


def build_week(ctx: Context, protocol: str, stages: Sequence[Stage], state: PlanState) -> PlanWeekDraft:
    stage = stages[state.stage]
    start = state.starts_on
    sessions = tendon_sessions(ctx, protocol, stage.dose, state.swaps, start)
    label = stage.name
    gate = None
    last = state.stage == len(stages) - 1
    if state.week == 1 and state.weeks_in_stage == 0 and state.stage > 0:
        # Started past earlier stages: the tests they would have ended with come first.
        known = profile_values(ctx)
        skipped = [c for c in [*stages[state.stage - 1].exit, *stage.entry] if known.get(c.metric) is None]
        needed = tests_for(skipped)
        if needed:
            sessions += test_sessions(ctx, start, needed, "before the first hop or run")
            gate = (
                f"Only after the tests of {start:%A %d %B} pass: "
                + "; ".join(c.description.rstrip(".").lower() for c in skipped if c.metric in TEST_METRICS)
                + ". Otherwise keep to the tendon exercises and repeat the tests next week."
            )
    if not last and state.weeks_in_stage + 1 >= stage.min_weeks:
        needed = tests_for([*stage.exit, *stages[state.stage + 1].entry])
        if needed:
            sessions += test_sessions(
                ctx, start + dt.timedelta(days=6), needed, f"the criteria for {stages[state.stage + 1].name}"
            )
    elif state.weeks_in_stage == 0 and state.stage > 0 and state.week > 1:
        criteria = [*stages[state.stage - 1].exit, *stage.entry]
        if criteria:
            gate = (
                f"Projected: {stage.name} starts only once "
                + "; ".join(c.description.rstrip(".").lower() for c in criteria)
                + ". Until then the previous stage continues and the plan moves later."
            )
            sessions[0].gate = gate
            gate = None
    if gate:
        for s in sessions:
            if s.kind == "run" or any(
                ctx.exercises[i.exercise].loading_type is LoadingType.plyometric for i in s.items
            ):
                s.gate = gate
    if stage.run:
        done = frozenset(s.run for s in stages[: state.stage] if s.run)
        if state.rest_week:
            label += " (a week without running, then restart)"
        elif state.run_km:
            sessions += run_sessions(ctx, stage.run, done, state.run_km, start, gate=gate)
    sessions.sort(key=lambda s: (s.day, KIND_ORDER[s.kind]))
    return PlanWeekDraft(
        number=state.week,
        starts_on=start,
        stage=label,
        stage_slug=stage.slug,
        lighter=False,
        taper=False,
        sessions=sessions,
    )


def settle(ctx: Context, stages: Sequence[Stage], index: int, km: float) -> float:
    """The weekly distance as the runs of stage ``index`` actually add up (rounding only ever down)."""
    step = stages[index].run
    assert step is not None
    return prescribed(ctx, step, frozenset(s.run for s in stages[:index] if s.run), km)


def advance(ctx: Context, stages: Sequence[Stage], state: PlanState) -> PlanState:
    """The state a week later if the week goes as the criteria allow (the projection)."""
    stage = stages[state.stage]
    weeks = state.weeks_in_stage + 1
    day = state.starts_on + dt.timedelta(weeks=1)
    km = state.run_km
    full = km is not None and km >= ctx.profile.weekly_distance_km
    move = weeks >= stage.min_weeks and state.stage < len(stages) - 1 and (stage.run != "duration" or full)
    update: dict[str, object] = {"week": state.week + 1, "starts_on": day, "rest_week": False}
    if move:
        nxt = stages[state.stage + 1]
        if nxt.run:
            km = first_volume(ctx) if km is None else next_volume(ctx, nxt.run, km, entering=True)
            km = settle(ctx, stages, state.stage + 1, km)
        update |= {"stage": state.stage + 1, "weeks_in_stage": 0, "swaps": {}, "run_km": km}
        update["entered"] = {**state.entered, nxt.slug: day}
    else:
        if stage.run and km is not None and not state.rest_week:
            grown = next_volume(ctx, stage.run, km, entering=False)
            km = km if grown == km else settle(ctx, stages, state.stage, grown)
        update |= {"weeks_in_stage": weeks, "run_km": km}
    return state.model_copy(update=update)


def layout(ctx: Context, kind: PlanKind, state: PlanState | None = None) -> Layout:
    protocol, stages = plan_stages(ctx, kind)
    check_overrides(ctx, stages)
    first = state or initial_state(ctx, stages)
    if first.stage >= len(stages):
        raise PlanError("state", "The plan's state names a stage the plan does not have.")
    if stages[first.stage].run and first.run_km is None:
        first = first.model_copy(update={"run_km": settle(ctx, stages, first.stage, first_volume(ctx))})
    minimum = max(ctx.options.weeks or 0, TENDON_MIN_WEEKS)
    final = stages[-1]
    tail = max(final.min_weeks, 2)
    weeks: list[PlanWeekDraft] = []
    states: list[PlanState] = []
    starts: dict[int, dt.date] = {}
    current = first
    while current.week <= MAX_WEEKS:
        if current.stage == len(stages) - 1 and current.weeks_in_stage >= tail and current.week > minimum:
            break
        starts.setdefault(current.stage, current.starts_on)
        states.append(current)
        weeks.append(build_week(ctx, protocol, stages, current))
        current = advance(ctx, stages, current)
    for week in weeks:
        for s in week.sessions:
            assert s.items or s.run or s.test, f"an empty session on {s.day}"  # never prescribe nothing
    return Layout(protocol, stages, weeks, states, stage_view(ctx, stages, first, starts))
