"""Load and progress maths, pure (docs/evidence.md sections 5 and 6).

- session load = session RPE x minutes (Foster 2001);
- monotony = mean daily load / standard deviation of daily load over a week; strain =
  weekly load x monotony (Foster 1998); undefined when the week's loads do not vary;
- acute:chronic workload ratio = last 7 days' load / the 28-day weekly average (Gabbett
  2016), reported with its criticism (Lolli 2019; Impellizzeri 2020), never as a gate;
- week-over-week change in running distance, warned above a threshold (10% by default,
  from seed 004: a guideline, not a proven rule);
- one-repetition maximum estimates from sets of 10 reps or fewer: Epley w(1 + r/30) and
  Brzycki w x 36 / (37 - r).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import mean, pstdev

ACWR_LOW, ACWR_HIGH, ACWR_DANGER = 0.8, 1.3, 1.5
ACWR_HISTORY_DAYS = 28
MAX_E1RM_REPS = 10


def session_load(rpe: float | None, minutes: float) -> float:
    return 0.0 if rpe is None else rpe * minutes


def epley(weight: float, reps: int) -> float | None:
    if weight <= 0 or not 1 <= reps <= MAX_E1RM_REPS:
        return None
    return weight * (1 + reps / 30)


def brzycki(weight: float, reps: int) -> float | None:
    if weight <= 0 or not 1 <= reps <= MAX_E1RM_REPS:
        return None
    return weight * 36 / (37 - reps)


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def daily_totals(events: Iterable[tuple[dt.date, float]], first: dt.date, last: dt.date) -> list[float]:
    totals = dict.fromkeys(days(first, last), 0.0)
    for day, value in events:
        if day in totals:
            totals[day] += value
    return list(totals.values())


@dataclass(frozen=True, slots=True)
class Monotony:
    monotony: float | None
    strain: float | None


def monotony(daily: Sequence[float]) -> Monotony:
    """Foster's monotony and strain for one week of daily loads (zeros included)."""
    if len(daily) != 7:
        raise ValueError("monotony needs the seven daily loads of a week")
    spread = pstdev(daily)
    if spread == 0:
        return Monotony(None, None)
    value = mean(daily) / spread
    return Monotony(round(value, 3), round(sum(daily) * value, 1))


def acwr(daily_28: Sequence[float]) -> float | None:
    """Acute (last 7 days) over chronic (28-day total / 4); None without a chronic load."""
    if len(daily_28) != 28:
        raise ValueError("the ratio needs 28 daily loads, oldest first")
    chronic = sum(daily_28) / 4
    return None if chronic == 0 else round(sum(daily_28[-7:]) / chronic, 3)


def percent_change(previous: float, current: float) -> float | None:
    return None if previous == 0 else round((current - previous) / previous * 100, 1)


def acwr_band(ratio: float | None) -> str | None:
    """Gabbett 2016's bands: low, sweet-spot (0.8-1.3), high, danger (>= 1.5)."""
    if ratio is None:
        return None
    if ratio < ACWR_LOW:
        return "low"
    if ratio <= ACWR_HIGH:
        return "sweet-spot"
    return "danger" if ratio >= ACWR_DANGER else "high"
