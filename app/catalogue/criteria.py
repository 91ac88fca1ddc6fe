"""The clinical tests the Achilles protocols gate on, and their pass thresholds.

Pure rules, no database: the training log uses them to judge a recorded test, and the
plan engine may import the same constants to decide when a phase may start. The
thresholds come from the evidence notes (docs/evidence.md), section 3 (return to running and hopping).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from pydantic import BaseModel, Field


class ClinicalTestName(StrEnum):
    heel_raise = "heel-raise"  # single-leg heel raises to fatigue, full height, ~1 rep per 2 s
    hop = "hop"  # single-leg hops in place


class Measure(StrEnum):
    reps = "reps"
    hop_count = "count"  # a member named `count` would hide str.count
    distance_cm = "distance_cm"


class AffectedSide(StrEnum):
    left = "left"
    right = "right"
    both = "both"


MEASURES: dict[ClinicalTestName, frozenset[Measure]] = {
    ClinicalTestName.heel_raise: frozenset({Measure.reps}),
    ClinicalTestName.hop: frozenset({Measure.hop_count, Measure.distance_cm}),
}
# The largest value a side may record, per measure.
MAX_VALUE: dict[str, float] = {Measure.reps: 300, Measure.hop_count: 300, Measure.distance_cm: 1000}
# The smallest result above zero a side may record: a tenth of a rep, hop or centimetre.
# Below it, a side is a vanishing number (1e-320) that would make the other side's
# symmetry index overflow to infinity.
MIN_POSITIVE_VALUE = 0.1

# ---------------------------------------------------------------- thresholds

HEEL_RAISE_MIN_REPS = 25
"""Single-leg heel raises on the affected (or worse) side counted as normal endurance."""
HEEL_RAISE_REPS_SOURCE = "Lunsford & Perry 1995, Phys Ther (mean 27.9)"

LSI_MIN_PERCENT = 90.0
"""Limb symmetry index, affected over unaffected side, a clinic aims for."""
LSI_SOURCE = "clinic target"

HOP_MAX_PAIN = 2
"""Worst Achilles pain (0-10) while hopping that still allows running."""
HOP_PAIN_SOURCE = "trial protocol: hop pain below 1-2/10 allows running (Nutrients 2019 appendix)"

HOP_MIN_PAIN_FREE_COUNT = 10
"""Pain-free single-leg hops on the affected (or worse) side before impact."""
HOP_COUNT_SOURCE = "clinic practice, not trial-tested"

# Criterion names, as they appear in a result.
CriterionName = Literal["affected-side-reps", "limb-symmetry-index", "hop-pain", "affected-side-hops"]
AFFECTED_SIDE_REPS: Final = "affected-side-reps"
LIMB_SYMMETRY: Final = "limb-symmetry-index"
HOP_PAIN: Final = "hop-pain"
AFFECTED_SIDE_HOPS: Final = "affected-side-hops"


class CriterionResult(BaseModel):
    """One threshold a test is held to, and whether it was met."""

    criterion: CriterionName = Field(description="What is judged.")
    value: float | None = Field(description="The recorded value; null when it was not recorded.")
    threshold: float = Field(description="The value to reach (a minimum, or for pain a maximum).")
    met: bool = Field(description="Whether the value reaches the threshold; false when it was not recorded.")
    source: str = Field(description="Where the threshold comes from.")


class ClinicalVerdict(BaseModel):
    met: bool = Field(description="Whether every criterion is met.")
    criteria: list[CriterionResult] = Field(description="Each criterion, with its value, threshold and source.")


# ---------------------------------------------------------------- rules


def problems(test: str, measure: str, left: float | None, right: float | None) -> list[tuple[str, str]]:
    """What makes a test record impossible, as (field, message) pairs; empty when valid."""
    found: list[tuple[str, str]] = []
    allowed = MEASURES[ClinicalTestName(test)]
    if measure not in allowed:
        names = " or ".join(sorted(f"'{m.value}'" for m in allowed))
        found.append(("measure", f"a {test} test measures {names}, not '{measure}'"))
    if left is None and right is None:
        found.append(("left", "record at least one side (left or right)"))
    limit = MAX_VALUE[measure]
    for name, value in (("left", left), ("right", right)):
        if value is not None and value > limit:
            found.append((name, f"at most {limit:g} {measure}"))
        elif value is not None and 0 < value < MIN_POSITIVE_VALUE:
            found.append((name, f"0 or at least {MIN_POSITIVE_VALUE:g} {measure}"))
    return found


def judged_value(left: float | None, right: float | None, affected_side: str | None) -> float | None:
    """The affected side's value; with no side (or both) marked, the worse side's."""
    if affected_side == AffectedSide.left:
        return left
    if affected_side == AffectedSide.right:
        return right
    given = [v for v in (left, right) if v is not None]
    return min(given) if given else None


def limb_symmetry_index(left: float | None, right: float | None, affected_side: str | None) -> float | None:
    """Affected over unaffected side x 100, to 0.1; null unless exactly one side is
    affected, both sides were recorded and the unaffected one is above zero."""
    if affected_side not in (AffectedSide.left, AffectedSide.right) or left is None or right is None:
        return None
    affected, other = (left, right) if affected_side == AffectedSide.left else (right, left)
    if other <= 0:
        return None
    return round(affected / other * 100, 1)


def _at_least(criterion: CriterionName, value: float | None, threshold: float, source: str) -> CriterionResult:
    return CriterionResult(
        criterion=criterion,
        value=value,
        threshold=threshold,
        met=value is not None and value >= threshold,
        source=source,
    )


def verdict(
    test: str,
    measure: str,
    left: float | None,
    right: float | None,
    affected_side: str | None,
    pain: int | None,
) -> ClinicalVerdict:
    """Whether a test meets the evidence thresholds, criterion by criterion."""
    criteria: list[CriterionResult] = []
    value = judged_value(left, right, affected_side)
    if test == ClinicalTestName.heel_raise:
        criteria.append(_at_least(AFFECTED_SIDE_REPS, value, HEEL_RAISE_MIN_REPS, HEEL_RAISE_REPS_SOURCE))
        lsi = limb_symmetry_index(left, right, affected_side)
        if lsi is not None:
            criteria.append(_at_least(LIMB_SYMMETRY, lsi, LSI_MIN_PERCENT, LSI_SOURCE))
    else:
        criteria.append(
            CriterionResult(
                criterion=HOP_PAIN,
                value=pain,
                threshold=HOP_MAX_PAIN,
                met=pain is not None and pain <= HOP_MAX_PAIN,
                source=HOP_PAIN_SOURCE,
            )
        )
        if measure == Measure.hop_count:
            criteria.append(_at_least(AFFECTED_SIDE_HOPS, value, HOP_MIN_PAIN_FREE_COUNT, HOP_COUNT_SOURCE))
    return ClinicalVerdict(met=all(c.met for c in criteria), criteria=criteria)
