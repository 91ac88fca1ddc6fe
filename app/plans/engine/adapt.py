"""Adaptation as a state machine over criteria: from a week's evidence and the plan's state,
decide progress (the next stage or a harder variant), hold (same stage; the rest of the plan
shifts a week later) or regress (an easier variant on the progression graph, the previous
stage, or for running a week off and a restart one step back), and name the criterion that
decided. Pure: the service builds the evidence and lays the weeks out again from the state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from app.catalogue.content import Catalogue, LoadingType, Progression
from app.plans.engine.context import Context
from app.plans.engine.criteria import (
    RUNS_COMPLETED,
    SESSIONS_COMPLETED,
    Result,
    WeekEvidence,
    evaluate,
    metrics,
    rolling_baseline,
)
from app.plans.engine.model import PlanKind, PlanOptions, PlanProfile
from app.plans.engine.return_to_run import first_volume, next_volume
from app.plans.engine.staged import plan_stages, settle
from app.plans.engine.stages import PlanState, Stage

Decision = Literal["progress", "hold", "regress"]
OWN_PROGRESSION = {"alfredson-eccentric": "alfredson-1998"}  # protocols that progress by a harder variant


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    criterion: str
    reasons: list[str]
    from_stage: str
    to_stage: str
    state: PlanState
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def rule(self) -> str:
        return self.criterion


@dataclass(frozen=True)
class _Judge:
    ctx: Context
    protocol: str
    stages: list[Stage]
    state: PlanState
    evidence: WeekEvidence
    baseline: float

    @property
    def stage(self) -> Stage:
        return self.stages[self.state.stage]

    def evaluate(self, criteria: Sequence[Any]) -> list[Result]:
        values = metrics(self.evidence, self.baseline)
        return [evaluate(c, values, self.ctx.options.criteria_overrides) for c in criteria]

    def next_week(self, **update: Any) -> PlanState:
        base: dict[str, Any] = {
            "week": self.state.week + 1,
            "starts_on": self.state.starts_on + dt.timedelta(weeks=1),
            "baseline_pain": round(self.baseline, 1),
            "rest_week": False,
        }
        return self.state.model_copy(update=base | update)

    def verdict(
        self, decision: Decision, criterion: str, reasons: list[str], state: PlanState, **details: Any
    ) -> Verdict:
        results = details.pop("results", [])
        return Verdict(
            decision=decision,
            criterion=criterion,
            reasons=reasons,
            from_stage=self.stage.slug,
            to_stage=self.stages[state.stage].slug,
            state=state,
            details={
                "week": self.state.week,
                "baseline_pain": round(self.baseline, 1),
                "criteria": [r.as_dict() for r in results],
                **details,
            },
        )

    # ------------------------------------------------------------ the exercises in use

    def in_use(self, swaps: dict[str, str]) -> dict[str, str]:
        """Prescribed exercise -> the exercise actually done (swaps, then equipment and pain)."""
        used = {}
        for p in self.stage.dose.prescriptions:
            actual = self.ctx.substitute(swaps.get(p.exercise, p.exercise))
            if actual is not None:
                used[p.exercise] = actual
        return used

    def edges(self, easier: str | None = None, harder: str | None = None) -> list[Progression]:
        return [
            e
            for e in self.ctx.catalogue.progressions
            if (easier is None or e.easier == easier) and (harder is None or e.harder == harder)
        ]

    def easier_swaps(self) -> dict[str, str]:
        used = self.in_use(dict(self.state.swaps))
        swaps = dict(self.state.swaps)
        for prescribed, actual in used.items():
            for edge in sorted(self.edges(harder=actual), key=lambda e: e.easier):
                if self.ctx.allowed(edge.easier) and edge.easier not in used.values():
                    swaps[prescribed] = edge.easier
                    break
        return swaps

    def harder_swaps(self) -> tuple[dict[str, str], Result | None]:
        """Back toward the prescription after a regression, or the protocol's own progression
        (Alfredson: add load once pain-free), when the edge's progress criteria all hold."""
        used = self.in_use(dict(self.state.swaps))
        swaps, decided = dict(self.state.swaps), None
        own = OWN_PROGRESSION.get(self.protocol)
        for prescribed, actual in used.items():
            for edge in sorted(self.edges(easier=actual), key=lambda e: e.harder):
                back = prescribed in self.state.swaps and edge.harder == prescribed
                forward = prescribed not in self.state.swaps and own is not None and own in edge.sources
                exercise = self.ctx.exercises[edge.harder]
                if not (back or forward) or not self.ctx.allowed(edge.harder) or edge.harder in used.values():
                    continue
                if exercise.loading_type is LoadingType.plyometric:
                    continue
                results = self.evaluate(edge.progress_criteria)
                if results and all(r.met for r in results):
                    if back:
                        swaps.pop(prescribed)
                    else:
                        swaps[prescribed] = edge.harder
                    decided = decided or results[0]
                    break
        return swaps, decided

    # ------------------------------------------------------------ decisions

    def regress(self, hit: Result, results: list[Result]) -> Verdict:
        stage, state = self.stage, self.state
        reasons = [f"{hit.reason}."]
        if stage.run:
            first_run = next(i for i, s in enumerate(self.stages) if s.run)
            back = max(first_run, state.stage - 1)
            km = settle(self.ctx, self.stages, back, max(first_volume(self.ctx), round((state.run_km or 0) / 1.2, 1)))
            reasons.append(
                f"A week without running, then a restart at {self.stages[back].name} "
                f"({km:g} km a week): rest a week and restart (Nutrients 2019)."
            )
            new = self.next_week(stage=back, weeks_in_stage=0, rest_week=True, run_km=km, swaps={})
            new = new.model_copy(update={"entered": {**state.entered, self.stages[back].slug: new.starts_on}})
            return self.verdict("regress", hit.criterion.slug, reasons, new, results=results)
        if state.weeks_in_stage < 2 and state.stage > 0:
            return self._previous(hit, results, reasons, "the stage was entered less than two weeks ago")
        swaps = self.easier_swaps()
        if swaps != dict(state.swaps):
            changed = {k: v for k, v in swaps.items() if state.swaps.get(k) != v}
            reasons.append(
                "Easier variants on the progression graph: "
                + ", ".join(
                    f"{self.ctx.exercises[v].name} instead of {self.ctx.exercises[k].name}" for k, v in changed.items()
                )
                + "."
            )
            return self.verdict(
                "regress", hit.criterion.slug, reasons, self.next_week(swaps=swaps), results=results, swaps=changed
            )
        if state.stage > 0:
            return self._previous(hit, results, reasons, "no easier variant is left in this stage")
        reasons.append(
            "This is already the gentlest level: keep to it, and see a physiotherapist if the pain does not settle "
            "(seed 004)."
        )
        return self.verdict("regress", hit.criterion.slug, reasons, self.next_week(), results=results)

    def _previous(self, hit: Result, results: list[Result], reasons: list[str], why: str) -> Verdict:
        back = self.state.stage - 1
        reasons.append(f"Back to {self.stages[back].name}: {why}.")
        new = self.next_week(stage=back, weeks_in_stage=0, swaps={})
        new = new.model_copy(update={"entered": {**self.state.entered, self.stages[back].slug: new.starts_on}})
        return self.verdict("regress", hit.criterion.slug, reasons, new, results=results)

    def decide(self) -> Verdict:
        stage, state, ev = self.stage, self.state, self.evidence
        if ev.empty:
            return self.verdict(
                "hold",
                "no-data",
                [
                    f"No sessions, runs, check-ins or tests logged for week {state.week}: the stage holds and the "
                    "rest of the plan moves a week later."
                ],
                self.next_week(),
            )
        regress = self.evaluate(stage.regress)
        if hit := next((r for r in regress if r.met), None):
            return self.regress(hit, regress)
        edge_rules = [
            c
            for actual in self.in_use(dict(state.swaps)).values()
            for e in self.edges(harder=actual)
            for c in e.regress_criteria
        ]
        edge_results = self.evaluate(list({c.slug: c for c in edge_rules}.values()))
        if hit := next((r for r in edge_results if r.met), None):
            return self.regress(hit, regress + edge_results)
        completion = [SESSIONS_COMPLETED] if ev.planned_sessions else []
        if stage.run and ev.planned_runs and not state.rest_week:
            completion.append(RUNS_COMPLETED)
        done = self.evaluate(completion)
        if miss := next((r for r in done if not r.met), None):
            return self.verdict(
                "hold",
                miss.criterion.slug,
                [
                    f"{miss.reason}.",
                    "The stage holds: this week is repeated and the rest of the plan moves a week later.",
                ],
                self.next_week(),
                results=regress + done,
            )
        weeks = state.weeks_in_stage + 1
        last = state.stage == len(self.stages) - 1
        km = state.run_km
        if state.rest_week:
            return self.verdict(
                "progress",
                "rest-week-done",
                ["The week without running is over: running restarts, within the pain rules."],
                self.next_week(weeks_in_stage=0),
                results=regress,
            )
        volume_reached = stage.run != "duration" or (km is not None and km >= self.ctx.profile.weekly_distance_km)
        if not last and weeks >= stage.min_weeks and volume_reached:
            nxt = self.stages[state.stage + 1]
            gates = self.evaluate([*stage.exit, *nxt.entry])
            if blocked := next((r for r in gates if not r.met), None):
                reasons = [f"{blocked.reason}.", f"{stage.name} continues until it is met."]
                if blocked.met is None and blocked.criterion.metric.value.startswith(("heel_raise", "hop")):
                    reasons.append("Do the test session and log it as a clinical test.")
                if stage.max_weeks and weeks >= stage.max_weeks:
                    reasons.append(
                        f"This is longer than the usual {stage.max_weeks} weeks in this stage: worth a "
                        "physiotherapist's view (recovery can take up to a year; Silbernagel & Crossley 2015)."
                    )
                return self.verdict(
                    "hold",
                    blocked.criterion.slug,
                    reasons,
                    self.next_week(weeks_in_stage=weeks),
                    results=regress + done + gates,
                )
            if nxt.run:
                km = first_volume(self.ctx) if km is None else next_volume(self.ctx, nxt.run, km, entering=True)
                km = settle(self.ctx, self.stages, state.stage + 1, km)
            new = self.next_week(stage=state.stage + 1, weeks_in_stage=0, swaps={}, run_km=km)
            new = new.model_copy(update={"entered": {**state.entered, nxt.slug: new.starts_on}})
            decided = gates[0].criterion.slug if gates else (done[0].criterion.slug if done else "stage-complete")
            met = [f"{r.reason}." for r in gates] or ["The week was done within the pain rules."]
            return self.verdict("progress", decided, [*met, f"On to {nxt.name}."], new, results=regress + done + gates)
        if stage.run and km is not None:
            km = settle(self.ctx, self.stages, state.stage, next_volume(self.ctx, stage.run, km, entering=False))
        swaps, swapped = self.harder_swaps()
        reasons = ["The week was done within the pain rules."]
        criterion = done[0].criterion.slug if done else "pain-rules-kept"
        if swapped is not None:
            criterion = swapped.criterion.slug
            changed = {k: v for k, v in swaps.items() if state.swaps.get(k) != v}
            reasons.append(
                "Harder variant: "
                + ", ".join(self.ctx.exercises[v].name for v in changed.values())
                + (" back as prescribed" if len(swaps) < len(state.swaps) else "")
                + f" ({swapped.reason})."
            )
        reasons.append(f"Week {weeks} of {stage.name}" + (f" (at least {stage.min_weeks})." if not last else "."))
        return self.verdict(
            "progress",
            criterion,
            reasons,
            self.next_week(weeks_in_stage=weeks, swaps=swaps, run_km=km),
            results=regress + done,
        )


def adapt(
    profile: PlanProfile,
    catalogue: Catalogue,
    kind: PlanKind,
    options: PlanOptions,
    state: PlanState,
    evidence: WeekEvidence,
) -> Verdict:
    """Judge the week ``state`` starts on its evidence; the verdict carries the next state."""
    ctx = Context(profile, catalogue, options, state.starts_on, state.baseline_pain)
    protocol, stages = plan_stages(ctx, kind)
    baseline = rolling_baseline(evidence, state.baseline_pain)
    return _Judge(ctx, protocol, stages, state, evidence, baseline).decide()
