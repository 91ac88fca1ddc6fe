"""Golden plans for typical runners, as readable text a physiotherapist can review.
A change to the engine that changes a plan fails here; after reviewing the new text,
regenerate with `UPDATE_GOLDEN=1 pytest tests/plans/test_golden.py`."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from app.plans.engine import PlanDraft, PlanKind, PlanOptions, PlanProfile, generate
from app.plans.engine.model import ProtocolChoice
from app.plans.service import catalogue

GOLDEN = Path(__file__).parent / "golden"
START = dt.date(2026, 11, 23)  # a Monday
RUNNERS: dict[str, tuple[PlanKind, PlanProfile, PlanOptions]] = {
    "new-runner-no-equipment": (
        PlanKind.resilience,
        PlanProfile(
            experience="new",
            weekly_distance_km=12,
            goal="5k",
            minutes_per_session=20,
            running_days=["tuesday", "thursday", "saturday"],
            long_run_day="saturday",
        ),
        PlanOptions(),
    ),
    "marathoner-gym-race-in-10-weeks": (
        PlanKind.resilience,
        PlanProfile(
            experience="advanced",
            weekly_distance_km=70,
            goal="marathon",
            race_date=dt.date(2027, 2, 1),
            strength_sessions_per_week=3,
            minutes_per_session=45,
            equipment=["barbell", "dumbbell", "bench", "resistance-band", "kettlebell", "weighted-backpack"],
            running_days=["tuesday", "thursday", "saturday", "sunday"],
            long_run_day="sunday",
            hard_run_days=["tuesday"],
        ),
        PlanOptions(),
    ),
    "past-itb-injury-band-and-step": (
        PlanKind.resilience,
        PlanProfile(
            experience="intermediate",
            weekly_distance_km=35,
            goal="half-marathon",
            minutes_per_session=30,
            equipment=["resistance-band", "step"],
            injury_history=["iliotibial-band-syndrome"],
            running_days=["monday", "wednesday", "friday", "sunday"],
            long_run_day="sunday",
            hard_run_days=["wednesday"],
        ),
        PlanOptions(),
    ),
    "mid-portion-achilles-gym": (
        PlanKind.achilles,
        PlanProfile(
            achilles_pain=3,
            achilles_pain_site="mid-portion",
            single_leg_heel_raises=15,
            equipment=["seated-calf-raise-machine", "leg-press-machine", "standing-calf-raise-machine"],
        ),
        PlanOptions(),
    ),
    "insertional-achilles-painful-at-home": (
        PlanKind.achilles,
        PlanProfile(
            achilles_pain=6, achilles_pain_site="insertional", single_leg_heel_raises=6, equipment=["chair", "step"]
        ),
        PlanOptions(),
    ),
    "alfredson-mid-portion-step-and-backpack": (
        PlanKind.achilles,
        PlanProfile(
            achilles_pain=3,
            achilles_pain_site="mid-portion",
            single_leg_heel_raises=18,
            equipment=["step", "weighted-backpack"],
        ),
        PlanOptions(protocol=ProtocolChoice.alfredson),
    ),
    "alfredson-without-a-step-on-the-floor": (
        PlanKind.achilles,
        PlanProfile(achilles_pain=4, achilles_pain_site="mid-portion", single_leg_heel_raises=14),
        PlanOptions(protocol=ProtocolChoice.alfredson),
    ),
    "silbernagel-weak-calf-from-phase-1-race-inside": (
        PlanKind.achilles,
        PlanProfile(
            achilles_pain=3,
            achilles_pain_site="mid-portion",
            single_leg_heel_raises=7,
            race_date=dt.date(2027, 1, 24),
            equipment=["step", "weighted-backpack", "chair"],
        ),
        PlanOptions(),
    ),
    "return-to-run-after-tendinopathy": (
        PlanKind.return_to_run,
        PlanProfile(
            achilles_pain=2,
            achilles_pain_site="mid-portion",
            single_leg_heel_raises=12,
            weekly_distance_km=35,
            equipment=["step", "weighted-backpack", "chair"],
        ),
        PlanOptions(),
    ),
}


def render(plan: PlanDraft) -> str:
    lines = [f"{plan.kind.value} plan, protocol {plan.protocol}, from {plan.start_date}", ""]
    lines += [f"note: {n}" for n in plan.notes] + [f"sources: {', '.join(plan.sources)}", ""]
    for st in plan.stages:
        weeks = f"{st.min_weeks}-{st.max_weeks}" if st.max_weeks else f"{st.min_weeks}+"
        lines.append(f"stage {st.slug} [{st.status}] {weeks} weeks, from {st.earliest_start} to {st.latest_end}")
        for label, criteria in (("entry", st.entry), ("exit", st.exit)):
            lines += [
                f"  {label}: {c.slug}: {c.metric} {c.op} {c.value:g} [{c.source}{'' if c.gate else ', adjustable'}]"
                for c in criteria
            ]
    if plan.stages:
        lines.append("")
    shown: set[str] = set()
    for week in plan.weeks:
        flags = "".join([" [lighter]" if week.lighter else "", " [taper]" if week.taper else ""])
        lines.append(f"Week {week.number} ({week.starts_on}): {week.stage}{flags}")
        for s in week.sessions:
            head = f"  {s.weekday[:3]} {s.day} {s.kind}: {s.focus}{' [heavy]' if s.heavy else ''}"
            head += " (twice a day)" if s.times_per_day == 2 else ""
            lines.append(head)
            for i in s.items:
                volume = next(
                    (f"{r.min}-{r.max}{u}" if r.min != r.max else f"{r.min}{u}")
                    for r, u in ((i.reps, " reps"), (i.hold_seconds, " s hold"), (i.duration_seconds, " s"))
                    if r is not None
                )
                extras = ", ".join(x for x in (i.tempo and f"tempo {i.tempo}", i.load.text) if x)
                lines.append(
                    f"    - {i.name}: {i.sets} x {volume}{' per side' if i.per_side else ''} ({extras}) [{i.rule}]"
                )
                if i.rationale not in shown:  # each reason once, where it first appears
                    shown.add(i.rationale)
                    lines.append(f"      why: {i.rationale}")
            if s.run:
                lines.append(f"    - run {s.run.distance_km} km, {s.run.minutes} min, {s.run.effort} [{s.run.rule}]")
            if s.test:
                lines.append(f"    - test: {' '.join(s.test.how)} Log: {s.test.record}")
            if s.gate:
                lines.append(f"    gate: {s.gate}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_golden_plan(name: str) -> None:
    kind, profile, options = RUNNERS[name]
    text = render(generate(profile, catalogue(), START, kind, options))
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden plan for {name}: run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")
