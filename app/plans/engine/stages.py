"""Plans as state machines: the stages of each protocol with their entry and exit criteria,
the state a plan is in, where a runner starts, and how the state moves when a week goes
as the criteria allow. The calendar only gives a stage its earliest start and latest end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from app.catalogue.content import Criterion, Metric, Protocol, ProtocolStage
from app.plans.engine.context import PAIN_ACCEPTABLE, Context
from app.plans.engine.criteria import (
    HEEL_RAISE_LSI,
    HEEL_RAISE_NORMAL,
    HOP_PAIN_MAX,
    MORNING_AT_USUAL,
    PAIN_FREE_HOPS,
    PAIN_RULES,
    evaluate,
    rule,
)
from app.plans.engine.model import CriterionPublic, PlanStage

RUN_STEPS = ("walk-run", "walk-run-longer", "continuous")  # then options.run_steps, then full training
RUN_STEP_NAMES = {
    "walk-run": "Walk-run: 1 min running, 2 min walking",
    "walk-run-longer": "Walk-run: 2 min running, 1 min walking",
    "continuous": "Continuous easy running, alternate days",
    "frequency": "More runs a week",
    "duration": "Longer runs, toward the usual weekly distance",
    "consecutive-days": "Running on consecutive days",
    "intensity": "Faster running: strides",
    "full-training": "Usual training; racing allowed",
}


class PlanState(BaseModel):
    """Where a plan is: the stage, the weeks done in it, exercise swaps made along the
    progression graph, the return-to-run volume, and the runner's usual morning pain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    week: int = Field(ge=1, description="The plan week this state starts.")
    starts_on: dt.date = Field(description="That week's first day.")
    stage: int = Field(ge=0, description="Index into the plan's stages.")
    weeks_in_stage: int = Field(default=0, ge=0, description="Weeks already done in the stage.")
    swaps: dict[str, str] = Field(default={}, description="Prescribed exercise -> the variant in use.")
    run_km: float | None = Field(default=None, description="Return to run: the weekly running distance.")
    rest_week: bool = Field(default=False, description="Return to run: no running this week (a restart).")
    baseline_pain: float = Field(ge=0, le=10, description="The usual morning pain (rolling).")
    entered: dict[str, dt.date] = Field(default={}, description="Stage slug -> the day it was entered.")


@dataclass(frozen=True)
class Stage:
    slug: str
    name: str
    min_weeks: int
    max_weeks: int | None
    entry: tuple[Criterion, ...]
    exit: tuple[Criterion, ...]
    regress: tuple[Criterion, ...]
    dose: ProtocolStage  # the tendon or strength work
    run: str | None = None  # return-to-run step
    placed: bool = True  # a runner may start past it when the profile already meets its exit


# ---------------------------------------------------------------- engine-defined stages

SEVERE_START = ProtocolStage.model_validate(
    {
        "slug": "isometric-start",
        "name": "Isometric start: holds and slow seated raises (pain above 5/10)",
        "order": 1,
        "week_from": 1,
        "week_to": 2,
        "sessions_per_week": "7 (daily)",
        "prescriptions": [
            {
                "exercise": "two-leg-calf-raise-hold",
                "sets": {"min": 4, "max": 4},
                "hold_seconds": {"min": 30, "max": 45},
            },
            {
                "exercise": "calf-raise-hold",
                "sets": {"min": 3, "max": 3},
                "hold_seconds": {"min": 30, "max": 45},
                "per_side": True,
            },
            {
                "exercise": "seated-heel-raise",
                "sets": {"min": 3, "max": 3},
                "reps": {"min": 10, "max": 15},
                "tempo": "3-0-3",
            },
        ],
        "min_weeks": 2,
        "max_weeks": 4,
    }
)
PAIN_SETTLED = rule(
    "pain-at-most-5",
    Metric.pain_during_max,
    "<=",
    PAIN_ACCEPTABLE,
    "silbernagel-2007",
    True,
    "Pain during the exercises at most 5/10, the pain-monitoring model's ceiling.",
)
PAIN_SAFE = rule(
    "pain-during-safe",
    Metric.pain_during_max,
    "<=",
    2,
    "silbernagel-2007",
    True,
    "Pain during the exercises 0-2/10, the model's safe zone.",
)
HEEL_RAISES_25 = rule(
    "heel-raises-25",
    Metric.heel_raise_reps,
    ">=",
    HEEL_RAISE_NORMAL,
    "lunsford-perry-1995",
    True,
    "At least 25 single-leg heel raises in a row on the affected side, the usual normal value.",
)
HEEL_RAISE_SYMMETRY = rule(
    "heel-raise-symmetry-90",
    Metric.heel_raise_lsi,
    ">=",
    HEEL_RAISE_LSI,
    "runstrong-default",
    False,
    "The affected side does at least 90% of the other side's heel raises (a clinic target).",
)
HOP_PAIN = rule(
    "hop-pain-at-most-2",
    Metric.hop_pain,
    "<=",
    HOP_PAIN_MAX,
    "nutrients-2019-hop",
    True,
    "Pain during the hop test at most 2/10.",
)
HOPS = rule(
    "pain-free-hops-10",
    Metric.hop_count,
    ">=",
    PAIN_FREE_HOPS,
    "runstrong-default",
    False,
    "About 10 pain-free single-leg hops (clinical practice, not trial-tested).",
)
NO_INSERTION_PAIN = rule(
    "no-insertion-pain",
    Metric.insertion_pain_max,
    "<=",
    0,
    "silbernagel-2007",
    True,
    "No pain where the tendon meets the heel bone.",
)
RUN_PAIN_OK = rule(
    "run-pain-at-most-5",
    Metric.run_pain_max,
    "<=",
    PAIN_ACCEPTABLE,
    "silbernagel-crossley-2015",
    True,
    "Pain during running at most 5/10, settling by the next morning.",
)
READY_TO_RUN = (PAIN_SAFE, HEEL_RAISES_25, HEEL_RAISE_SYMMETRY, HOP_PAIN, HOPS, NO_INSERTION_PAIN, MORNING_AT_USUAL)
TEST_METRICS = {
    Metric.heel_raise_reps: "heel-raise",
    Metric.heel_raise_lsi: "heel-raise",
    Metric.hop_pain: "hop",
    Metric.hop_count: "hop",
}


def _stage(protocol: Protocol, s: ProtocolStage, *, placed: bool = True) -> Stage:
    return Stage(
        slug=s.slug,
        name=s.name,
        min_weeks=s.min_weeks or (s.week_to - s.week_from + 1),
        max_weeks=s.max_weeks,
        entry=tuple(s.entry),
        exit=tuple(s.exit),
        regress=tuple(protocol.regress_criteria) or PAIN_RULES,
        dose=s,
        placed=placed,
    )


def protocol_stages(ctx: Context, slug: str) -> list[Stage]:
    """The protocol's stages in order; with pain above 5/10, an isometric start precedes them."""
    protocol = ctx.protocols[slug]
    placed = slug == "silbernagel-pain-monitored"
    stages = [_stage(protocol, s, placed=placed) for s in sorted(protocol.stages, key=lambda s: s.order)]
    if ctx.profile.achilles_pain > PAIN_ACCEPTABLE:
        severe = Stage(
            slug=SEVERE_START.slug,
            name=SEVERE_START.name,
            min_weeks=2,
            max_weeks=4,
            entry=(),
            exit=(PAIN_SETTLED,),
            regress=stages[0].regress,
            dose=SEVERE_START,
        )
        stages.insert(0, severe)
    return stages


def run_stages(ctx: Context) -> list[Stage]:
    """Return to run: Silbernagel's phases up to phase 2, which also ends on the readiness
    tests (heel raises, hops, no insertional pain), then walk-run and one running variable at
    a time, with phase 3's loading alongside and phase 4's maintenance in full training."""
    tendon = protocol_stages(ctx, "silbernagel-pain-monitored")
    phases = {s.slug: s for s in tendon}
    before = [s for s in tendon if s.slug not in ("phase-2", "phase-3", "phase-4")]
    ready = phases["phase-2"]
    readiness = Stage(
        slug=ready.slug,
        name=f"{ready.name}; readiness to run",
        min_weeks=ready.min_weeks,
        max_weeks=6,
        entry=ready.entry,
        exit=(*ready.exit, *READY_TO_RUN),
        regress=PAIN_RULES,
        dose=ready.dose,
        placed=True,
    )
    progress = (RUN_PAIN_OK, MORNING_AT_USUAL)
    steps = [*RUN_STEPS, *dict.fromkeys(ctx.options.run_steps)]
    if ctx.profile.running_days_per_week <= 3 and "frequency" in steps:
        steps.remove("frequency")  # three runs a week is already the usual
    stages = [*before, readiness]
    for step in [*steps, "full-training"]:
        final = step == "full-training"
        stages.append(
            Stage(
                slug=step,
                name=RUN_STEP_NAMES[step],
                min_weeks=2 if final else ctx.options.run_step_weeks,
                max_weeks=None if step in ("duration", "full-training") else ctx.options.run_step_weeks + 2,
                entry=(),
                exit=() if final else progress,
                regress=PAIN_RULES,
                dose=phases["phase-4" if final else "phase-3"].dose,
                run=step,
            )
        )
    return stages


# ---------------------------------------------------------------- placement and public view


def profile_values(ctx: Context) -> dict[Metric, float | None]:
    """What the profile says, as metrics; tests are unknown until recorded."""
    pain = float(ctx.profile.achilles_pain)
    return {
        Metric.pain_during_max: pain,
        Metric.heel_raise_reps: (
            float(ctx.profile.single_leg_heel_raises) if ctx.profile.single_leg_heel_raises is not None else None
        ),
        Metric.insertion_pain_max: pain if ctx.insertional else 0.0,
        Metric.morning_pain_over_baseline: 0.0,
    }


def start_stage(ctx: Context, stages: Sequence[Stage]) -> int:
    """The first stage whose exit the profile does not yet meet. An exit that needs a test
    not yet recorded lets the runner past that one stage only, never further: the plan
    tests it on the first day and gates the sessions on it (so a sore runner without
    tests starts in Silbernagel's phase 2, where pain with exercise belongs, not in
    maintenance)."""
    values = profile_values(ctx)
    overrides = ctx.options.criteria_overrides
    for index, stage in enumerate(stages[:-1]):
        if not stage.placed or not stage.exit:
            return index
        results = [evaluate(c, values, overrides) for c in stage.exit]
        entry = [evaluate(c, values, overrides) for c in stages[index + 1].entry]
        if any(r.met is None and r.criterion.metric not in TEST_METRICS for r in results):
            return index
        if any(r.met is False for r in [*results, *entry]):
            return index
        if any(r.met is None for r in results):
            return index + 1
    return len(stages) - 1


def initial_state(ctx: Context, stages: Sequence[Stage]) -> PlanState:
    index = start_stage(ctx, stages)
    return PlanState(
        week=1,
        starts_on=ctx.start,
        stage=index,
        baseline_pain=float(ctx.profile.achilles_pain),
        entered={stages[index].slug: ctx.start},
    )


def public(c: Criterion, overrides: Mapping[str, float]) -> CriterionPublic:
    value = overrides.get(c.slug, c.value) if not c.gate else c.value
    return CriterionPublic(
        slug=c.slug,
        metric=c.metric.value,
        op=c.op,
        value=float(value),
        source=c.source,
        gate=c.gate,
        description=c.description,
    )


def stage_view(
    ctx: Context, stages: Sequence[Stage], state: PlanState, starts: Mapping[int, dt.date]
) -> list[PlanStage]:
    """Each stage with its criteria, when it starts at the earliest (from the layout) and
    usually ends at the latest, and whether it is done, current or upcoming."""
    overrides = ctx.options.criteria_overrides
    view = []
    for index, stage in enumerate(stages):
        entered = state.entered.get(stage.slug)
        if index < state.stage:
            status = "done" if entered else "skipped"
        else:
            status = "current" if index == state.stage else "upcoming"
        begin = entered if index <= state.stage else starts.get(index)
        end = begin + dt.timedelta(weeks=stage.max_weeks, days=-1) if begin and stage.max_weeks else None
        view.append(
            PlanStage(
                slug=stage.slug,
                name=stage.name,
                entry=[public(c, overrides) for c in stage.entry],
                exit=[public(c, overrides) for c in stage.exit],
                min_weeks=stage.min_weeks,
                max_weeks=stage.max_weeks,
                earliest_start=begin,
                latest_end=end,
                status=status,
            )
        )
    return view


def check_overrides(ctx: Context, stages: Sequence[Stage]) -> None:
    from app.plans.engine.context import PlanError

    if not ctx.options.criteria_overrides:
        return
    adjustable = (
        {c.slug for s in stages for c in [*s.entry, *s.exit, *s.regress] if not c.gate}
        | {"sessions-completed", "runs-completed"}
        | {
            c.slug
            for e in ctx.catalogue.progressions
            for c in [*e.progress_criteria, *e.regress_criteria]
            if not c.gate
        }
    )
    gates = {c.slug for s in stages for c in [*s.entry, *s.exit, *s.regress] if c.gate}
    for slug in sorted(ctx.options.criteria_overrides):
        if slug in gates:
            raise PlanError("options.criteria_overrides", f"'{slug}' is a gate from a trial and cannot be changed.")
        if slug not in adjustable:
            raise PlanError("options.criteria_overrides", f"'{slug}' is not an adjustable criterion of this plan.")
