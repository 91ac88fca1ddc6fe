"""Adaptation of strength (resilience) plans: the pain-monitoring verdict, held back in a
week when running load spikes. Pure: the service brings the week's running figures.

A spike is a week-over-week rise in running distance above the threshold (10% by default,
seed 004: a guideline, not a proven rule; Nielsen 2014 linked >30% over two weeks to more
injuries) or an acute:chronic ratio of 1.5 or more (Gabbett 2016's "danger" band, strongly
criticised: Lolli 2019, Impellizzeri 2020). Neither blocks running: the strength plan only
stops adding load on top of the running that week.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.plans.engine.week_rules import Verdict

ACWR_SPIKE = 1.5


@dataclass(frozen=True)
class RunningLoad:
    """The judged week's running, from the load report."""

    km: float
    previous_km: float | None
    distance_change_pct: float | None  # None without a previous week to compare with
    acwr: float | None  # None until 28 days of history exist
    threshold_pct: float = 10.0


def running_spike(load: RunningLoad) -> list[str]:
    """What makes the week a running spike, in words with the numbers; empty if it is not one."""
    reasons = []
    if load.distance_change_pct is not None and load.distance_change_pct > load.threshold_pct:
        reasons.append(
            f"Running distance rose {load.distance_change_pct:g}% week over week "
            f"({load.previous_km:g} km to {load.km:g} km), above the {load.threshold_pct:g}% threshold."
        )
    if load.acwr is not None and load.acwr >= ACWR_SPIKE:
        reasons.append(
            f"Acute:chronic workload ratio {load.acwr:g}, at or above {ACWR_SPIKE:g} "
            "(Gabbett 2016's 'danger' band; a criticised measure, read as information)."
        )
    return reasons


def decide_strength(pain: Verdict, load: RunningLoad) -> Verdict:
    """A regression for pain always stands. Otherwise a running spike holds the strength
    progression (the next week repeats this week's doses); else the pain verdict stands."""
    if pain.decision == "regress":
        return pain
    spike = running_spike(load)
    if spike:
        return Verdict("hold", "running-load-spike", [*spike, "Strength holds this week's doses while running rises."])
    return pain
